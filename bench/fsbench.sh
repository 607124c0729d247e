#!/usr/bin/env bash
# fsbench.sh - the filesystem benchmark of issue 4: the same workloads on a
# caskfs mount, a native directory on the same disk, tmpfs, bindfs (over a
# native directory) and fuse-overlayfs (empty lowerdir, upper/work on the
# same disk), in one run; prints the median of each figure and caskfs's
# ratio to the native directory and to both FUSE peers. The first row is
# the request floor: the latency of a request the filesystem answers at
# once (on FUSE, one round trip through /dev/fuse), against which the
# metadata figures should be read. With --baseline=REV, caskfs built from
# an older revision is one more system ("baseline") in the same run, and
# a caskfs/baseline column gives new/old.
#
# Issue 14: "caskfs" is served through /dev/fuse (-o no_io_uring) and
# "caskfs-uring" is the same daemon served through the kernel's per-CPU
# FUSE io_uring queues; caskfs-uring/native and caskfs-uring/caskfs columns
# compare them. For caskfs-uring the kernel's switch
# /sys/module/fuse/parameters/enable_uring is set to Y for the run and put
# back as it was found on exit; without the switch (kernel < 6.14) the
# system is left out of the default list, and refused if named.
#
# Issue 11's measurements: "par" runs 1, 2 and 4 processes at once, each
# creating, then statting (cold) and reading (cold) small files in its own
# directory, and reports their throughput and the 2-vs-1 and 4-vs-1
# scaling; "fsync" (caskfs and baseline only) counts the fdatasync and
# fsync calls of the daemon, mounted with -o sync=always, while 8 threads
# each write and fsync 40 files, and of the same writes made with
# cask_put() under CASK_SYNC_ALWAYS from 8 threads on libcask directly
# (bench/fsbench_kvsync.c, built against the daemon's libcask.a), once
# with one put per file and once with two (the create and the fsync a
# file through the mount owes, each answered durable). All are
# counted with `strace -f --seccomp-bpf -c -e trace=fdatasync,fsync` over
# the whole process (mount to unmount, open to close), less the calls of
# the same process with no files or puts (the daemon then makes only the
# threads' directories).
#
# usage: bench/fsbench.sh [options]
#   --reps=N          repetitions of every workload, median reported (3)
#   --quick           smoke run: 1,000 files, 64 MiB sequential, 32 MiB
#                     random file, a small tarball, dbench 3 s, 1 rep
#   --markdown        print the result table as markdown
#   --systems=LIST    subset of caskfs,caskfs-uring,native,tmpfs,bindfs,
#                     overlayfs
#   --only=LIST       subset of the workload groups: floor,files,bigdir,
#                     seq,rand,tree,dbench,par,fsync
#   --baseline=REV    also run caskfs built from git revision REV: its
#                     source is `git archive`d to BASE/baseline-SHA and built
#                     there (RelWithDebInfo, caskfs and libcask.a), once; the
#                     build is kept for later runs (remove it by hand)
#   --base-dir=DIR    scratch space on the disk under test (/var/tmp/fsbench)
#   --caskfs=PATH     the daemon (default $BUILD/caskfs, BUILD=build);
#                     "fsync" also needs the libcask.a of its build tree
#                     (cmake --build BUILD --target caskfs cask_static)
#   --caskfs-opts=O   extra -o options for caskfs (default: none, i.e.
#                     writeback cache on, sync=interval)
#   --dbench-time=S   dbench run time in seconds (10)
#   --out=DIR         raw results, logs and the tables (BASE/results)
#   --keep            keep the scratch data at the end
#   --same-session    run the FUSE daemons in this script's session (by
#                     default each gets a session of its own, as a mounted
#                     daemon has: see "FUSE daemons" below)
#
# Every workload starts from the same state on every system. "cold" means:
# `sync; echo 3 > /proc/sys/vm/drop_caches`, and for a FUSE system also an
# unmount and a fresh mount of the daemon before the timed command (so
# neither the kernel's page/dentry/attribute caches nor the daemon's caches
# hold anything). Times are wall-clock; the small-file loops run inside
# bench/fsbench_io.c (one process, no exec per file). Needs root (mounts,
# drop_caches), /dev/fuse, bindfs, fuse-overlayfs, dbench, fio
# (scripts/install-deps.sh --bench), and strace for "fsync". Everything it
# mounts is unmounted on exit, also on failure or Ctrl-C. It changes no
# kernel setting but the io_uring switch above, which it puts back
# (drop_caches is an action, not a setting).
#
# FUSE daemons run in the foreground (their logs, their PIDs) but each in a
# session of its own (setsid), as they run when mounted: caskfs and libfuse
# daemonize with setsid(), and a systemd mount puts the daemon in a cgroup
# of its own. It matters: with the kernel's autogroup scheduling, a daemon
# in the caller's session runs in the caller's scheduling group and its
# reply finds the caller still on its CPU far more often
# (docs/BENCHMARKS.md, "The daemon's own session").
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

REPS=3
QUICK=0
MARKDOWN=0
SYSTEMS=caskfs,caskfs-uring,native,tmpfs,bindfs,overlayfs
SYSTEMS_GIVEN=0
URING_SWITCH=/sys/module/fuse/parameters/enable_uring
ONLY=floor,files,bigdir,seq,rand,tree,dbench,par,fsync
BASELINE=
BASE=/var/tmp/fsbench
CASKFS=${BUILD:-build}/caskfs
CASKFS_OPTS=
DBENCH_TIME=
OUT=
KEEP=0
SESSION=(setsid -w) # -w: if setsid must fork, $! still lives as long as the daemon
for arg in "$@"; do
	case $arg in
	--reps=*) REPS=${arg#*=} ;;
	--quick) QUICK=1 ;;
	--markdown) MARKDOWN=1 ;;
	--systems=*) SYSTEMS=${arg#*=} SYSTEMS_GIVEN=1 ;;
	--only=*) ONLY=${arg#*=} ;;
	--base-dir=*) BASE=${arg#*=} ;;
	--caskfs=*) CASKFS=${arg#*=} ;;
	--caskfs-opts=*) CASKFS_OPTS=${arg#*=} ;;
	--baseline=*) BASELINE=${arg#*=} ;;
	--dbench-time=*) DBENCH_TIME=${arg#*=} ;;
	--out=*) OUT=${arg#*=} ;;
	--keep) KEEP=1 ;;
	--same-session) SESSION=() ;;
	-h | --help)
		sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*)
		echo "fsbench: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

if ((QUICK)); then
	NFILES=1000 SEQ_MB=64 RAND_MB=32 RAND_IO_MB=8 PAR_FILES=1000
	TAR_FROM=(-C /usr/include linux)
	TARBALL=/var/tmp/fsbench-src-quick.tar
	: "${DBENCH_TIME:=3}"
	[[ " $* " == *" --reps="* ]] || REPS=1
else
	NFILES=10000 SEQ_MB=1024 RAND_MB=256 RAND_IO_MB=64 PAR_FILES=4000
	TAR_FROM=(-C /usr include)
	TARBALL=/var/tmp/fsbench-src.tar
	: "${DBENCH_TIME:=10}"
fi
NDIRS=100
FSIZE=4096
NOOP_N=50000
BIGDIR_N=$NFILES
DBENCH_LOAD=/usr/share/dbench/client.txt
DBENCH_CLIENTS=2
PAR_DIRS=10
SYNC_THREADS=8
SYNC_FILES=40
# counts a process's fdatasync and fsync calls (add -o FILE and the command)
STRACE_SYNCS=(strace -f --seccomp-bpf -c -e 'trace=fdatasync,fsync')
OUT=${OUT:-$BASE/results}
in_list() { [[ ",$2," == *",$1,"* ]]; }
if [[ -n $BASELINE ]] && ! in_list baseline "$SYSTEMS"; then
	SYSTEMS+=,baseline
fi
if in_list caskfs-uring "$SYSTEMS" && [[ ! -w $URING_SWITCH ]] && ((!SYSTEMS_GIVEN)); then
	echo "fsbench: no writable $URING_SWITCH (kernel < 6.14?): caskfs-uring left out" >&2
	SYSTEMS=$(echo ",$SYSTEMS," | sed 's/,caskfs-uring,/,/; s/^,//; s/,$//')
fi
IFS=, read -ra SYS <<<"$SYSTEMS"

die() {
	echo "fsbench: $*" >&2
	exit 1
}
log() { echo "[$(date +%T)] $*" >&2; }

((EUID == 0)) || die "needs root (mounts, drop_caches)"
[[ -c /dev/fuse ]] || die "no /dev/fuse"
for s in "${SYS[@]}"; do
	case $s in
	caskfs) [[ -x $CASKFS ]] || die "no daemon at $CASKFS (build it, or --caskfs=PATH)" ;;
	caskfs-uring)
		[[ -x $CASKFS ]] || die "no daemon at $CASKFS (build it, or --caskfs=PATH)"
		[[ -w $URING_SWITCH ]] || die "caskfs-uring needs a writable $URING_SWITCH (Linux 6.14+, root)"
		;;
	baseline) [[ -n $BASELINE ]] || die "system 'baseline' needs --baseline=REV" ;;
	bindfs) command -v bindfs >/dev/null || die "bindfs missing (scripts/install-deps.sh --bench)" ;;
	overlayfs) command -v fuse-overlayfs >/dev/null || die "fuse-overlayfs missing (scripts/install-deps.sh --bench)" ;;
	native | tmpfs) ;;
	*) die "unknown system '$s'" ;;
	esac
done
for t in fio dbench cc; do
	command -v $t >/dev/null || die "$t missing (scripts/install-deps.sh --bench)"
done
in_list fsync "$ONLY" && ! command -v strace >/dev/null && die "strace missing (apt-get install strace)"
[[ -f $DBENCH_LOAD ]] || die "no dbench loadfile $DBENCH_LOAD"
CASKFS=$(realpath "$CASKFS" 2>/dev/null || echo "$CASKFS")

# ------------------------------------------------------------- the workloads
# id|label|unit|group; unit s or µs = time and calls = a count (lower is
# better), MiB/s or IOPS or MB/s or ops/s = rate (higher is better); x = a
# ratio of two figures of this repetition (higher is better), fs/kv = one
# where lower is better.
TAR_DESC=$(printf '%s' "${TAR_FROM[-1]}")
WORKLOADS=(
	"noop|request floor: one lgetxattr of a missing xattr (median of $((NOOP_N / 1000)) x 1000)|µs|floor"
	"create|create $NFILES x 4 KiB files in $NDIRS dirs|s|files"
	"stat|stat $NFILES files (cold)|s|files"
	"read|read $NFILES files (cold)|s|files"
	"rename_files|rename $NFILES files in their dirs|s|files"
	"unlink|unlink $NFILES files + $NDIRS dirs|s|files"
	"lsl|ls -l of a $BIGDIR_N-entry dir (cold)|s|bigdir"
	"mv|mv a $BIGDIR_N-entry dir (mv command)|s|bigdir"
	"rename|rename(2) of a $BIGDIR_N-entry dir|s|bigdir"
	"seqw|seq write $SEQ_MB MiB + fsync (dd bs=1M)|MiB/s|seq"
	"seqr|seq read $SEQ_MB MiB (cold)|MiB/s|seq"
	"randr|4 KiB rand read, $RAND_MB MiB file (cold)|IOPS|rand"
	"randw|4 KiB rand write, $RAND_MB MiB file, +fsync|IOPS|rand"
	"untar|tar x of /usr/$TAR_DESC|s|tree"
	"find|find over the tree (cold)|s|tree"
	"du|du -s of the tree (cold)|s|tree"
	"tarc|read every file: tar cf - . piped to cat (cold)|s|tree"
	"rmrf|rm -rf the tree|s|tree"
	"dbench|dbench $DBENCH_CLIENTS clients, ${DBENCH_TIME}s|MB/s|dbench"
	"par1|parallel metadata, 1 process: create + stat (cold) + read (cold), $PAR_FILES x 4 KiB files each in its own dir|ops/s|par"
	"par2|parallel metadata, 2 processes (as above)|ops/s|par"
	"par4|parallel metadata, 4 processes (as above)|ops/s|par"
	"par_s2|parallel metadata scaling, 2 vs 1 process (throughput ratio)|x|par"
	"par_s4|parallel metadata scaling, 4 vs 1 process (throughput ratio)|x|par"
	"fsync_fs|fdatasync+fsync calls: $SYNC_THREADS threads x $SYNC_FILES files, write + fsync each, -o sync=always|calls|fsync"
	"fsync_kv|fdatasync+fsync calls: the same writes with cask_put, CASK_SYNC_ALWAYS, $SYNC_THREADS threads|calls|fsync"
	"fsync_ratio|fdatasyncs through the mount / through cask_put (goal <= 1.2)|fs/kv|fsync"
	"fsync_kv2|fdatasync+fsync calls: the same writes with cask_put, 2 puts per file (empty, then the value: as a create and an fsync), $SYNC_THREADS threads|calls|fsync"
	"fsync_ratio2|fdatasyncs through the mount / through cask_put with 2 puts per file|fs/kv|fsync"
)

# Whether workload group $2 runs on system $1: fsync counts the daemon's
# calls, so it is for the caskfs daemons only.
applies() { [[ $2 != fsync ]] || is_cask "$1"; }

# ------------------------------------------------------------- mounts
declare -A PID=() MNT=() ROOT=() DAEMON=() KVSYNC=()
mkdir -p "$BASE" "$OUT" || die "cannot create $BASE / $OUT"
BASE=$(realpath "$BASE")
OUT=$(realpath "$OUT")
LOG=$OUT/fsbench.log
: >"$LOG"
MNT[caskfs]=$BASE/mnt-caskfs
MNT[caskfs-uring]=$BASE/mnt-caskfs-uring
MNT[baseline]=$BASE/mnt-baseline
MNT[bindfs]=$BASE/mnt-bindfs
MNT[overlayfs]=$BASE/mnt-overlayfs
MNT[tmpfs]=$BASE/mnt-tmpfs
ROOT[native]=$BASE/native
for s in caskfs caskfs-uring baseline bindfs overlayfs tmpfs; do ROOT[$s]=${MNT[$s]}; done
DAEMON[caskfs]=$CASKFS
DAEMON[caskfs-uring]=$CASKFS
# The transport each caskfs system asks for (baseline: its own default).
declare -A TRANSPORT_OPT=([caskfs]=no_io_uring [caskfs-uring]=io_uring)
SRCFILE=/dev/shm/fsbench-src.$$

is_cask() { [[ $1 == caskfs || $1 == caskfs-uring || $1 == baseline ]]; }
is_fuse() { is_cask "$1" || [[ $1 == bindfs || $1 == overlayfs ]]; }

mounted() { mountpoint -q "$1" 2>/dev/null; }

# Start the daemon of $1 in the foreground as our child (its stderr to
# OUT/$1.log) and wait until the mount is there. For caskfs and baseline,
# MOUNT_EXTRA adds -o options and TRACE_TO=FILE runs the daemon under
# strace, counting its fdatasync and fsync calls into FILE.
fuse_mount() {
	local s=$1 m=${MNT[$1]} i opts wrap=()
	mkdir -p "$m"
	case $s in
	caskfs | caskfs-uring | baseline)
		mkdir -p "$BASE/$s-data"
		opts=$CASKFS_OPTS${MOUNT_EXTRA:+${CASKFS_OPTS:+,}$MOUNT_EXTRA}
		opts+=${TRANSPORT_OPT[$s]:+${opts:+,}${TRANSPORT_OPT[$s]}}
		[[ -z ${TRACE_TO:-} ]] || wrap=("${STRACE_SYNCS[@]}" -o "$TRACE_TO")
		"${SESSION[@]}" "${wrap[@]}" "${DAEMON[$s]}" "$BASE/$s-data" "$m" -f \
			${opts:+-o "$opts"} 2>>"$OUT/$s.log" &
		;;
	bindfs)
		mkdir -p "$BASE/bindfs-src"
		"${SESSION[@]}" bindfs -f "$BASE/bindfs-src" "$m" 2>>"$OUT/bindfs.log" &
		;;
	overlayfs)
		mkdir -p "$BASE/ovl-lower" "$BASE/ovl-upper" "$BASE/ovl-work"
		"${SESSION[@]}" fuse-overlayfs -f -o "lowerdir=$BASE/ovl-lower,upperdir=$BASE/ovl-upper,workdir=$BASE/ovl-work" \
			"$m" 2>>"$OUT/overlayfs.log" &
		;;
	esac
	PID[$s]=$!
	for ((i = 0; i < 400; i++)); do
		mounted "$m" && { [[ $s != caskfs-uring ]] || uring_check "$m"; } && return 0
		if ! kill -0 "${PID[$s]}" 2>/dev/null; then
			wait "${PID[$s]}"
			echo "fsbench: $s daemon exited with $? before mounting (see $OUT/$s.log)" >&2
			PID[$s]=
			return 1
		fi
		sleep 0.05
	done
	echo "fsbench: $s did not mount within 20 s" >&2
	return 1
}

# The mount $1 is served over io_uring (the daemon falls back by itself).
uring_check() {
	local t
	t=$(getfattr -n user.caskfs.stats --only-values "$1" 2>/dev/null | sed -n 's/^transport: //p')
	[[ $t == io_uring ]] && return 0
	echo "fsbench: caskfs-uring is served by '$t', not io_uring (see $OUT/caskfs-uring.log)" >&2
	return 1
}

# Unmount $1 and wait for its daemon to finish (caskfs syncs the store on
# a clean unmount; the next mount of the same store needs its lock).
fuse_umount() {
	local s=$1 m=${MNT[$1]} pid=${PID[$1]:-} i st rc=0
	if mounted "$m"; then
		fusermount3 -u "$m" 2>>"$LOG" || {
			sleep 1
			fusermount3 -u "$m" 2>>"$LOG" || fusermount3 -uz "$m" 2>>"$LOG"
		}
	fi
	[[ -n $pid ]] || return 0
	for ((i = 0; i < 2400; i++)); do
		st=$(ps -o stat= -p "$pid" 2>/dev/null) || break
		[[ $st == Z* ]] && break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid") != Z* ]]; then
		echo "fsbench: $s daemon $pid still running 120 s after unmount; killing it" >&2
		kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || rc=$?
	PID[$s]=
	if ((rc != 0)); then
		echo "fsbench: $s daemon exited with status $rc (see $OUT/$s.log)" >&2
		return 1
	fi
	return 0
}

sys_up() {
	case $1 in
	native) mkdir -p "${ROOT[native]}" ;;
	tmpfs)
		mkdir -p "${MNT[tmpfs]}"
		mounted "${MNT[tmpfs]}" || mount -t tmpfs -o size=8g fsbench "${MNT[tmpfs]}"
		;;
	*) mounted "${MNT[$1]}" || fuse_mount "$1" ;;
	esac
}

sys_down() {
	case $1 in
	native) ;;
	tmpfs) ! mounted "${MNT[tmpfs]}" || umount "${MNT[tmpfs]}" ;;
	*) fuse_umount "$1" ;;
	esac
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# Make $1 cold (see the header).
cold() {
	if is_fuse "$1"; then
		fuse_umount "$1" || return 1
		drop_caches
		fuse_mount "$1"
	else
		drop_caches
	fi
}

# Empty state for $1: an empty directory, for caskfs a new store.
fresh() {
	local s=$1
	case $s in
	caskfs | caskfs-uring | baseline)
		fuse_umount "$s"
		rm -rf "$BASE/$s-data"
		;;
	bindfs)
		fuse_umount bindfs
		rm -rf "$BASE/bindfs-src"
		;;
	overlayfs)
		fuse_umount overlayfs
		rm -rf "$BASE/ovl-lower" "$BASE/ovl-upper" "$BASE/ovl-work"
		;;
	native) rm -rf "${ROOT[native]}" ;;
	tmpfs) sys_down tmpfs ;;
	esac
	sys_up "$s"
}

cleanup() {
	local s
	trap - EXIT INT TERM
	for s in caskfs caskfs-uring baseline bindfs overlayfs; do
		[[ -n ${MNT[$s]:-} ]] || continue
		if mounted "${MNT[$s]}" || [[ -n ${PID[$s]:-} ]]; then
			fuse_umount "$s" || true
		fi
		mounted "${MNT[$s]}" && fusermount3 -uz "${MNT[$s]}" 2>/dev/null
	done
	mounted "${MNT[tmpfs]}" && umount -l "${MNT[tmpfs]}"
	[[ -z ${URING_FOUND:-} ]] || echo "$URING_FOUND" >"$URING_SWITCH"
	rm -f "$SRCFILE"
	if ((!KEEP)); then
		rm -rf "$BASE/caskfs-data" "$BASE/caskfs-uring-data" "$BASE/baseline-data" "$BASE/bindfs-src" \
			"$BASE/ovl-lower" "$BASE/ovl-upper" "$BASE/ovl-work" "$BASE/native" \
			"$BASE"/mnt-* "$BASE/fsbench_io" "$BASE"/fsbench_kvsync-* \
			"$BASE/kvsync-data"
	fi
}
trap cleanup EXIT
trap 'echo "fsbench: interrupted" >&2; exit 130' INT TERM

# ------------------------------------------------------------- timing
# Workload functions run in this shell (not in a $(...) subshell: cold()
# remounts, and the new daemon must stay our child with its pid known) and
# leave their figure in V.
now_us() { echo "${EPOCHREALTIME/./}"; }
# t CMD...: run CMD (stdout to /dev/null), V = its wall time in seconds
t() {
	local t0 t1
	t0=$(now_us)
	"$@" >/dev/null 2>>"$LOG" || return 1
	t1=$(now_us)
	V=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e6 }')
}
IO=$BASE/fsbench_io
# io ARGS...: V = the time fsbench_io reports
io() { V=$("$IO" "$@" 2>>"$LOG"); }
# rate N: V = N / V (V a time)
rate() { V=$(awk -v n="$1" -v s="$V" 'BEGIN { if (s <= 0) exit 1; printf "%.1f\n", n / s }'); }

# ------------------------------------------------------------- results
declare -A RES=() FAILS=() REPV=()
record() { RES["$1|$2"]+="$3 "; }
fail() {
	local s=$1 w=$2
	FAILS["$w|$s"]=1
	echo "fsbench: FAILED: $w on $s (rep $rep); log tail:" >&2
	tail -n 5 "$LOG" | sed 's/^/    /' >&2
	if is_cask "$s"; then
		echo "    $s daemon log tail:" >&2
		tail -n 10 "$OUT/$s.log" 2>/dev/null | sed 's/^/    /' >&2
		if [[ -n ${PID[$s]:-} ]] && ! kill -0 "${PID[$s]}" 2>/dev/null; then
			echo "    $s daemon is gone (crashed?)" >&2
		fi
	fi
	printf '%s\t%s\t%s\tFAIL\n' "$rep" "$s" "$w" >>"$OUT/raw.tsv"
}
# measure SYS W: run wl_W on SYS, record V
measure() {
	local s=$1 w=$2
	V=
	if "wl_$w" "$s" && [[ $V =~ ^[0-9.]+$ ]]; then
		record "$w" "$s" "$V"
		REPV["$w|$s"]=$V
		printf '%s\t%s\t%s\t%s\n' "$rep" "$s" "$w" "$V" >>"$OUT/raw.tsv"
		log "  $s $w = $V"
	else
		fail "$s" "$w"
		# a broken mount must not take the rest down: start it again
		if is_fuse "$s" && ! ls "${ROOT[$s]}" >/dev/null 2>&1; then
			fuse_umount "$s"
			mounted "${MNT[$s]}" && fusermount3 -uz "${MNT[$s]}"
			fuse_mount "$s"
		fi
	fi
}

# ------------------------------------------------------------- workloads
# the request floor: NOOP_N lgetxattr of a missing xattr of one file
wl_noop() {
	local f=${ROOT[$1]}/noop
	: >"$f" && io noop "$f" $NOOP_N && rm -f "$f"
}

# small files: create, stat, read, rename, unlink
wl_create() { mkdir -p "${ROOT[$1]}/files" && io create "${ROOT[$1]}/files" $NDIRS $NFILES $FSIZE; }
wl_stat() { cold "$1" >>"$LOG" 2>&1 && io stat "${ROOT[$1]}/files" $NDIRS $NFILES; }
wl_read() { cold "$1" >>"$LOG" 2>&1 && io read "${ROOT[$1]}/files" $NDIRS $NFILES $FSIZE; }
wl_rename_files() { io rename-files "${ROOT[$1]}/files" $NDIRS $NFILES; }
wl_unlink() { io unlink "${ROOT[$1]}/files" $NDIRS $NFILES; }

# a large directory: ls -l, mv, rename(2)
wl_lsl() {
	local r=${ROOT[$1]}
	rm -rf "$r/big" && mkdir -p "$r/big" &&
		io create "$r/big" 1 $BIGDIR_N $FSIZE &&
		cold "$1" >>"$LOG" 2>&1 &&
		t ls -l "$r/big/d000"
}
wl_mv() { t mv "${ROOT[$1]}/big/d000" "${ROOT[$1]}/big/moved"; }
wl_rename() {
	io rename "${ROOT[$1]}/big/moved" "${ROOT[$1]}/big/d000" &&
		rm -rf "${ROOT[$1]}/big"
}

# sequential: dd bs=1M of SEQ_MB MiB with conv=fsync, read back cold
wl_seqw() {
	rm -f "${ROOT[$1]}/seq"
	t dd if="$SRCFILE" of="${ROOT[$1]}/seq" bs=1M count=$SEQ_MB conv=fsync status=none &&
		rate $SEQ_MB
}
wl_seqr() {
	cold "$1" >>"$LOG" 2>&1 &&
		t dd if="${ROOT[$1]}/seq" of=/dev/null bs=1M status=none &&
		[[ $(stat -c %s "${ROOT[$1]}/seq") == $((SEQ_MB << 20)) ]] &&
		rm -f "${ROOT[$1]}/seq" &&
		rate $SEQ_MB
}

# random 4 KiB: fio psync, one job, queue depth 1, page cache on
# (direct=0) as an application would; RAND_IO_MB MiB of I/O in a
# RAND_MB MiB file. Wall time of the fio process (randwrite includes its
# end_fsync); the file is laid out beforehand with dd + fsync.
fio_run() {
	fio --name=fsbench --filename="$2" --rw="$1" --bs=4k --size=${RAND_MB}M \
		--io_size=${RAND_IO_MB}M --ioengine=psync --iodepth=1 --direct=0 \
		--invalidate=0 --randrepeat=1 --end_fsync="$3" --output=/dev/null
}
wl_randr() {
	local f=${ROOT[$1]}/rand
	rm -f "$f"
	dd if="$SRCFILE" of="$f" bs=1M count=$RAND_MB conv=fsync status=none 2>>"$LOG" &&
		cold "$1" >>"$LOG" 2>&1 &&
		t fio_run randread "$f" 0 &&
		rate $((RAND_IO_MB * 256))
}
wl_randw() {
	t fio_run randwrite "${ROOT[$1]}/rand" 1 &&
		rm -f "${ROOT[$1]}/rand" &&
		rate $((RAND_IO_MB * 256))
}

# a source tree: extract, find, du, read everything, rm -rf
wl_untar() {
	rm -rf "${ROOT[$1]}/tree" && mkdir "${ROOT[$1]}/tree" &&
		t tar xf "$TARBALL" -C "${ROOT[$1]}/tree"
}
wl_find() { cold "$1" >>"$LOG" 2>&1 && t find "${ROOT[$1]}/tree"; }
wl_du() { cold "$1" >>"$LOG" 2>&1 && t du -s "${ROOT[$1]}/tree"; }
# through cat, not > /dev/null: GNU tar does not read files for /dev/null
tar_read() { tar cf - -C "$1" . | cat >/dev/null; }
wl_tarc() { cold "$1" >>"$LOG" 2>&1 && t tar_read "${ROOT[$1]}/tree"; }
wl_rmrf() { t rm -rf "${ROOT[$1]}/tree"; }

wl_dbench() {
	local d=${ROOT[$1]}/dbench
	rm -rf "$d" && mkdir "$d" || return 1
	V=$(dbench -t "$DBENCH_TIME" -D "$d" -c "$DBENCH_LOAD" $DBENCH_CLIENTS 2>>"$LOG" |
		tee -a "$LOG" | awk '/^Throughput/ { print $2 }') || return 1
	rm -rf "$d"
}

# parallel metadata: P processes at once, each in its own DIR/pK, create
# their files, then (cold) stat them, then (cold) read them; V = the
# file operations (3 per file) per second over the three phases
par_run() {
	local s=$1 p=$2 d=${ROOT[$1]}/par tc ts tr
	rm -rf "$d" && mkdir "$d" &&
		io par "$p" create "$d" $PAR_DIRS $PAR_FILES $FSIZE && tc=$V &&
		cold "$s" >>"$LOG" 2>&1 &&
		io par "$p" stat "$d" $PAR_DIRS $PAR_FILES && ts=$V &&
		cold "$s" >>"$LOG" 2>&1 &&
		io par "$p" read "$d" $PAR_DIRS $PAR_FILES $FSIZE && tr=$V &&
		rm -rf "$d" || return 1
	log "    $s par$p: create $tc s, stat $ts s, read $tr s"
	V=$(awk -v n=$((3 * p * PAR_FILES)) -v a="$tc" -v b="$ts" -v c="$tr" \
		'BEGIN { printf "%.1f\n", n / (a + b + c) }')
}
wl_par1() { par_run "$1" 1; }
wl_par2() { par_run "$1" 2; }
wl_par4() { par_run "$1" 4; }
# V = this repetition's figure of workload $1 on system $3 / that of $2
div() {
	local a=${REPV["$1|$3"]:-} b=${REPV["$2|$3"]:-}
	[[ -n $a && -n $b ]] &&
		V=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b <= 0) exit 1; printf "%.3f\n", a / b }')
}
wl_par_s2() { div par2 par1 "$1"; }
wl_par_s4() { div par4 par1 "$1"; }

# fdatasync counts. V = the fdatasync + fsync calls in strace -c's table $1
sync_calls() {
	V=$(awk '$NF == "fdatasync" || $NF == "fsync" { n += $4 } END { print n + 0 }' "$1")
}
# V = the sync calls of daemon $1 on a fresh store mounted with
# sync=always, from mount to unmount, with CMD... run in between; the
# system is mounted as before afterwards
daemon_syncs() {
	local s=$1 trace=$OUT/strace-$1.txt rc=0
	shift
	rm -f "$trace"
	fuse_umount "$s" && rm -rf "$BASE/$s-data" &&
		TRACE_TO=$trace MOUNT_EXTRA=sync=always fuse_mount "$s" || rc=1
	((rc)) || "$@" || rc=1
	fuse_umount "$s" || rc=1
	((rc)) || sync_calls "$trace" || rc=1
	fresh "$s" || rc=1
	return $rc
}
# (the run without files makes the threads' directories: each costs a
# commit, and an fdatasync under sync=always, that cask_put does not)
wl_fsync_fs() {
	local s=$1 idle
	daemon_syncs "$s" io fsync-files "${ROOT[$s]}" $SYNC_THREADS 0 $FSIZE && idle=$V &&
		daemon_syncs "$s" io fsync-files "${ROOT[$s]}" $SYNC_THREADS $SYNC_FILES $FSIZE &&
		log "    $s daemon: $V sync calls with the writes, $idle with their directories alone" &&
		V=$((V - idle))
}
# V = the sync calls of fsbench_kvsync built against $1's libcask, NPUTS
# $2 per thread, $3 puts per key, on a fresh store, from open to close
kv_syncs() {
	local trace=$OUT/strace-kv-$1.txt out
	rm -rf "$BASE/kvsync-data" "$trace"
	out=$("${STRACE_SYNCS[@]}" -o "$trace" "${KVSYNC[$1]}" "$BASE/kvsync-data" $SYNC_THREADS "$2" $FSIZE "$3" 2>>"$LOG") || return 1
	log "    $1 fsbench_kvsync, $2 keys per thread, $3 puts per key: $out (seconds, fdatasyncs in cask_stats)"
	rm -rf "$BASE/kvsync-data"
	sync_calls "$trace"
}
# (cask_put: $2 puts per file)
kv_files() {
	local idle
	kv_syncs "$1" 0 "$2" && idle=$V && kv_syncs "$1" $SYNC_FILES "$2" &&
		log "    $1 fsbench_kvsync: $V sync calls with the puts, $idle without" &&
		V=$((V - idle))
}
wl_fsync_kv() { kv_files "$1" 1; }
wl_fsync_kv2() { kv_files "$1" 2; }
wl_fsync_ratio() { div fsync_fs fsync_kv "$1"; }
wl_fsync_ratio2() { div fsync_fs fsync_kv2 "$1"; }

# Build caskfs and libcask.a of revision BASELINE in BASE/baseline-SHA
# (kept: the next run with the same revision builds nothing); sets
# DAEMON[baseline].
build_baseline() {
	local sha dir
	sha=$(git -C "$REPO" rev-parse -q --verify "$BASELINE^{commit}") ||
		die "--baseline: '$BASELINE' is no commit of $REPO"
	dir=$BASE/baseline-$sha
	if [[ ! -f $dir/built ]]; then
		log "building the baseline $sha in $dir (log: $OUT/baseline-build.log)"
		rm -rf "$dir" && mkdir -p "$dir/src" &&
			git -C "$REPO" archive "$sha" | tar x -C "$dir/src" &&
			cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
				-DCASK_BUILD_TESTS=OFF -DCASK_BUILD_BENCH=OFF >"$OUT/baseline-build.log" 2>&1 &&
			cmake --build "$dir/build" -j2 --target caskfs cask_static >>"$OUT/baseline-build.log" 2>&1 &&
			touch "$dir/built" || {
			rm -rf "$dir"
			die "cannot build the baseline $sha (see $OUT/baseline-build.log)"
		}
	fi
	DAEMON[baseline]=$dir/build/caskfs
	BASELINE_DESC=$(git -C "$REPO" log -1 --format='%h ("%s")' "$sha")
}

# Build fsbench_kvsync for caskfs system $1 against the libcask.a and
# cask.h of its daemon's build tree (its CMakeCache names the source).
build_kvsync() {
	local build src
	build=$(dirname "${DAEMON[$1]}")
	src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)
	[[ -f $build/kv/libcask.a && -f $src/kv/include/cask.h ]] ||
		die "fsync: no libcask.a and cask.h for $1 in $build (cmake --build $build --target cask_static)"
	KVSYNC[$1]=$BASE/fsbench_kvsync-$1
	cc -O2 -Wall -Wextra -pthread -I"$src/kv/include" -o "${KVSYNC[$1]}" \
		"$REPO/bench/fsbench_kvsync.c" "$build/kv/libcask.a" -lm ||
		die "cannot build bench/fsbench_kvsync.c against $build/kv/libcask.a"
}

# ------------------------------------------------------------- setup
log "scratch in $BASE, results in $OUT, $REPS rep(s), systems: ${SYS[*]}"
cc -O2 -Wall -Wextra -pthread -o "$IO" "$REPO/bench/fsbench_io.c" || die "cannot compile bench/fsbench_io.c"
[[ -z $BASELINE ]] || build_baseline
if in_list fsync "$ONLY"; then
	for s in caskfs caskfs-uring baseline; do
		in_list $s "$SYSTEMS" && build_kvsync $s
	done
fi
if [[ ! -s $TARBALL ]]; then
	log "building $TARBALL from /usr/${TAR_DESC}"
	tar cf "$TARBALL.tmp" "${TAR_FROM[@]}" && mv "$TARBALL.tmp" "$TARBALL" || die "cannot build $TARBALL"
fi
TAR_FILES=$(tar tf "$TARBALL" | wc -l)
TAR_MB=$(($(stat -c %s "$TARBALL") >> 20))
head -c $(((SEQ_MB > RAND_MB ? SEQ_MB : RAND_MB) << 20)) /dev/urandom >"$SRCFILE" || die "cannot write $SRCFILE"
: >"$OUT/raw.tsv"
for s in caskfs caskfs-uring baseline bindfs overlayfs tmpfs; do
	! mounted "${MNT[$s]}" || die "${MNT[$s]} is already mounted (an earlier run?); unmount it first"
done
rm -rf "$BASE/caskfs-data" "$BASE/caskfs-uring-data" "$BASE/baseline-data" "$BASE/bindfs-src" "$BASE/ovl-lower" \
	"$BASE/ovl-upper" "$BASE/ovl-work" "$BASE/native"
: >"$OUT/caskfs.log"
: >"$OUT/caskfs-uring.log"
if in_list caskfs-uring "$SYSTEMS"; then
	URING_FOUND=$(cat "$URING_SWITCH")
	echo Y >"$URING_SWITCH" || die "cannot write $URING_SWITCH"
fi
: >"$OUT/baseline.log"
: >"$OUT/bindfs.log"
: >"$OUT/overlayfs.log"
for s in "${SYS[@]}"; do sys_up "$s" || die "cannot set up $s"; done

# ------------------------------------------------------------- run
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
for ((rep = 1; rep <= REPS; rep++)); do
	# rotate the order of the systems from rep to rep (noise spreads)
	n=${#SYS[@]}
	for ((k = 0; k < n; k++)); do
		s=${SYS[$(((k + rep - 1) % n))]}
		log "rep $rep/$REPS: $s"
		REPV=()
		fresh "$s" || {
			echo "fsbench: cannot set up $s; skipping it in rep $rep" >&2
			continue
		}
		for entry in "${WORKLOADS[@]}"; do
			IFS='|' read -r w label unit group <<<"$entry"
			in_list "$group" "$ONLY" && applies "$s" "$group" || continue
			measure "$s" "$w"
			sync
		done
		rm -rf "${ROOT[$s]:?}"/* 2>/dev/null
	done
done
ELAPSED=$(($(date +%s) - START))
LOAD_END=$(cut -d' ' -f1 /proc/loadavg)
for s in "${SYS[@]}"; do sys_down "$s"; done

# ------------------------------------------------------------- report
median() {
	tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { # value unit
	awk -v v="$1" -v u="$2" 'BEGIN {
		if (u == "µs") printf "%.2f µs", v
		else if (u == "calls") printf "%d", v
		else if (u == "x" || u == "fs/kv") printf "%.2f", v
		else if (u == "s") { if (v < 0.01) printf "%.2f ms", v * 1000;
			else if (v < 10) printf "%.3f s", v; else printf "%.1f s", v }
		else if (v >= 100) printf "%.0f %s", v, u; else printf "%.1f %s", v, u }'
}
# ratio caskfs / other as speed: > 1 means caskfs is faster (or makes
# fewer calls)
ratio() { # cask other unit
	awk -v c="$1" -v o="$2" -v u="$3" 'BEGIN {
		if (c <= 0 || o <= 0) { print "-"; exit }
		r = (u == "s" || u == "µs" || u == "calls" || u == "fs/kv") ? o / c : c / o
		if (r >= 10) printf "%.0f", r; else if (r >= 1) printf "%.2f", r; else printf "%.3f", r }'
}

declare -A MED=()
for entry in "${WORKLOADS[@]}"; do
	IFS='|' read -r w label unit group <<<"$entry"
	for s in "${SYS[@]}"; do
		MED["$w|$s"]=$(echo "${RES["$w|$s"]:-}" | median) || MED["$w|$s"]=
	done
done

# The ratio columns, system/other, each where both systems run.
RATIOS=(caskfs/native caskfs/bindfs caskfs/overlayfs caskfs/baseline
	caskfs-uring/native caskfs-uring/caskfs)
print_table() {
	local md=$1 cols=() row entry w label unit group s r
	cols=("workload")
	for s in "${SYS[@]}"; do cols+=("$s"); done
	for r in "${RATIOS[@]}"; do
		in_list "${r%/*}" "$SYSTEMS" && in_list "${r#*/}" "$SYSTEMS" && cols+=("$r")
	done
	{
		(IFS='|' && echo "${cols[*]}")
		if ((md)); then
			row="---"
			for ((i = 1; i < ${#cols[@]}; i++)); do row+="|---:"; done
			echo "$row"
		fi
		for entry in "${WORKLOADS[@]}"; do
			IFS='|' read -r w label unit group <<<"$entry"
			in_list "$group" "$ONLY" || continue
			row=$label
			for s in "${SYS[@]}"; do
				if ! applies "$s" "$group"; then
					row+="|-"
				elif [[ -n ${MED["$w|$s"]} ]]; then
					row+="|$(fmt "${MED["$w|$s"]}" "$unit")"
					[[ -n ${FAILS["$w|$s"]:-} ]] && row+=" (some reps FAILED)"
				else
					row+="|FAILED"
				fi
			done
			for r in "${RATIOS[@]}"; do
				in_list "${r%/*}" "$SYSTEMS" && in_list "${r#*/}" "$SYSTEMS" || continue
				row+="|$(ratio "${MED["$w|${r%/*}"]:-0}" "${MED["$w|${r#*/}"]:-0}" "$unit")"
			done
			echo "$row"
		done
	} | if ((md)); then
		sed 's/|/ | /g; s/^/| /; s/$/ |/'
	else
		column -t -s '|'
	fi
}

# How idle CPUs wait: a halted virtual CPU takes tens of microseconds to
# wake, which every sleeping FUSE thread pays (docs/BENCHMARKS.md).
idle_desc() {
	local d=/sys/devices/system/cpu/cpuidle p=/sys/module/haltpoll/parameters
	printf '%s' "$(cat "$d/current_driver" 2>/dev/null || echo none)"
	[ -r "$p/guest_halt_poll_ns" ] &&
		printf ', guest_halt_poll_ns=%s' "$(cat "$p/guest_halt_poll_ns")"
	return 0
}

{
	echo "fsbench: $(date -u '+%Y-%m-%d %H:%M UTC'), $REPS rep(s), median; $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r), cpuidle $(idle_desc)"
	echo "caskfs: $("$CASKFS" --version 2>&1 | grep -m1 "^caskfs"), options: ${CASKFS_OPTS:-default (writeback cache, sync=interval)}; bindfs $(dpkg-query -W -f='${Version}' bindfs 2>/dev/null); fuse-overlayfs $(dpkg-query -W -f='${Version}' fuse-overlayfs 2>/dev/null); FUSE daemons $( ((${#SESSION[@]})) && echo "each in a session of its own" || echo "in the benchmark's session"), autogroup $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo -)"
	[[ -z $BASELINE ]] || echo "baseline: caskfs built from $BASELINE_DESC (same options); caskfs/baseline is new/old"
	echo "tarball: $TARBALL ($TAR_FILES entries, $TAR_MB MiB, from /usr/$TAR_DESC); data on $(df --output=source,fstype "$BASE" | tail -1 | tr -s ' ' ' '); run took ${ELAPSED}s, load average (1 min) $LOAD_START at the start, $LOAD_END at the end"
	echo "ratios are speed ratios: in column A/B, > 1 means A is faster (time: B/A, rate: A/B)"
	echo
} >"$OUT/summary.txt"
print_table 0 >>"$OUT/summary.txt"
print_table 1 >"$OUT/table.md"
if ((${#FAILS[@]})); then
	{
		echo
		echo "failures (see $LOG and $OUT/<system>.log):"
		for k in "${!FAILS[@]}"; do echo "  ${k%|*} on ${k#*|}"; done
	} >>"$OUT/summary.txt"
fi

if ((MARKDOWN)); then
	sed -n '1,/^$/{/^$/d;s/^/- /;p}' "$OUT/summary.txt"
	echo
	cat "$OUT/table.md"
	sed -n '/^failures/,$p' "$OUT/summary.txt"
else
	cat "$OUT/summary.txt"
fi
((${#FAILS[@]} == 0))
