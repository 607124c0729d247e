# common.sh - sourced by the tests/fuse/test_*.sh scripts: skip rules,
# a temporary directory, mounting the real caskfs daemon, checks, and a trap
# that always unmounts what the test mounted (fusermount3 -u, then -u -z).
#
# Environment: CASKFS_BIN (the daemon), TEST_TMPDIR (optional; mktemp -d
# otherwise), CASKFS_TEST_URING=1 (every mount serves FUSE over io_uring:
# the kernel's switch is turned on for the test and put back as it was
# found on exit; mount_fs checks the transport). Exit codes: 0 pass,
# 1 fail, 77 skip.

set -u
export LC_ALL=C

skip() {
	echo "SKIP: $*"
	exit 77
}

[ -n "${CASKFS_BIN:-}" ] && [ -x "${CASKFS_BIN}" ] ||
	skip "CASKFS_BIN is not set to the caskfs daemon"
[ -c /dev/fuse ] || skip "/dev/fuse is absent"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"

if [ -n "${TEST_TMPDIR:-}" ]; then
	mkdir -p "$TEST_TMPDIR"
	T=$(mktemp -d "$TEST_TMPDIR/fuse.XXXXXX")
else
	T=$(mktemp -d "${TMPDIR:-/tmp}/caskfs-test.XXXXXX")
fi
DATA=$T/data
MNT=$T/mnt
mkdir -p "$MNT"

FAILS=0
MOUNTS=()   # mount points this test mounted
DAEMON_PID= # pid of the last foreground daemon started by mount_fs

is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

unmount_all() {
	local m
	for m in "${MOUNTS[@]}"; do
		if is_mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null ||
				fusermount3 -u -z "$m" 2>/dev/null ||
				umount -l "$m" 2>/dev/null
		fi
	done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		# Give it time to close the store, then stop it for good.
		for _ in $(seq 50); do
			kill -0 "$DAEMON_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$DAEMON_PID" 2>/dev/null
	fi
}

# Commands a test registers to undo a change outside its directory.
RESTORE=()

cleanup() {
	local rc=$?
	unmount_all
	local r
	for r in "${RESTORE[@]}"; do
		eval "$r"
	done
	if [ "$rc" -ne 0 ] && [ -s "$T/daemon.log" ]; then
		echo "--- daemon log ($T/daemon.log):"
		tail -n 30 "$T/daemon.log"
	fi
	if [ "$rc" -eq 0 ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T" 2>/dev/null
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The kernel's switch of FUSE over io_uring, read when a mount starts.
URING_SWITCH=/sys/module/fuse/parameters/enable_uring

# uring_switch Y|N: set the switch for the mounts that follow; the value
# found is put back on exit (registered once). Skips the test if the kernel
# has no switch (before 6.14, or without CONFIG_FUSE_IO_URING) or it is
# not ours to change (not root).
uring_switch() {
	[ -e "$URING_SWITCH" ] || skip "the kernel has no FUSE over io_uring"
	[ -w "$URING_SWITCH" ] || skip "$URING_SWITCH is not writable (root only)"
	if [ -z "${URING_FOUND:-}" ]; then
		URING_FOUND=$(cat "$URING_SWITCH")
		RESTORE+=("echo '$URING_FOUND' >'$URING_SWITCH'")
	fi
	echo "$1" >"$URING_SWITCH" || skip "cannot write $URING_SWITCH"
}
[ "${CASKFS_TEST_URING:-0}" = 1 ] && uring_switch Y

# transport MNT: the transport line of MNT's user.caskfs.stats.
transport() {
	getfattr -n user.caskfs.stats --only-values "$1" 2>/dev/null |
		sed -n 's/^transport: //p'
}

# small_tmpfs SIZE: a tmpfs of SIZE mounted at SMALL ($T/small), for a
# data directory that fills up; unmounted on exit after the caskfs mounts.
# Skips the test unless root.
small_tmpfs() {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	SMALL=$T/small
	mkdir -p "$SMALL"
	mount -t tmpfs -o size="$1" caskfs-small "$SMALL" ||
		skip "cannot mount a tmpfs here"
	RESTORE+=("umount '$SMALL' 2>/dev/null || umount -l '$SMALL' || :")
}

# reach_for_others UID: for a test that acts as user UID, T (with DATA and
# MNT) where UID can reach it: under TEST_TMPDIR when every directory above
# lets UID through, else a new directory in /tmp, because the build tree
# of a repository in /root (mode 0700 on Debian) is closed to other users.
# $T/moved-to then points to it. Call it before anything is made in T.
reach_for_others() {
	local uid=$1 d=$T closed="" moved
	command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
	chmod 711 "$T"
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		setpriv --reuid="$uid" --regid="$uid" --clear-groups test -x "$d" ||
			closed=$d # the one nearest / is the cause
	done
	[ -z "$closed" ] && return 0
	moved=$(mktemp -d /tmp/caskfs-test.XXXXXX)
	chmod 711 "$moved"
	echo "note: $closed is closed to uid $uid; the test runs in $moved"
	ln -s "$moved" "$T/moved-to"
	T=$moved DATA=$moved/data MNT=$moved/mnt
	mkdir -p "$MNT"
	setpriv --reuid="$uid" --regid="$uid" --clear-groups test -x "$T" ||
		skip "uid $uid cannot reach $T either"
}

# step, ck, ck_eq, t_ok, t_fail, has, finish.
. "$(dirname "${BASH_SOURCE[0]}")/../checks.sh"

# require_alive WHAT: stop the test if the daemon died (during WHAT).
require_alive() {
	if [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		wait "$DAEMON_PID"
		echo "FAIL the daemon died during $1 (exit status $?)"
		DAEMON_PID=
		exit 1
	fi
}

# is_served MNT: MNT is a mount whose daemon answers. statfs comes first:
# it fails on a stale mount (ENOTCONN) and succeeds on the directory under
# it once the new daemon has detached the stale mount, so asked the other
# way round a /proc/self/mounts line of the stale mount followed by the
# detach would pass for the new mount. Mounts only go from stale to none
# to served: a mount line read after statfs succeeded is the served one.
is_served() {
	stat -f "$1" >/dev/null 2>&1 && is_mounted "$1"
}

# is_stale MNT: statfs of MNT fails with ENOTCONN, as on the mount of a
# daemon that is gone. On io_uring the kernel tears the queues of a killed
# daemon down after the process has gone, and until then requests fail
# with ECANCELED or ECONNABORTED: waits up to 5 s for ENOTCONN.
is_stale() {
	local i
	for i in $(seq 50); do
		stat -f "$1" 2>&1 | grep -q 'not connected' && return 0
		sleep 0.1
	done
	return 1
}

# wait_mounted MNT [PID]: until MNT is a caskfs mount (10 s), or PID died.
wait_mounted() {
	local i
	for i in $(seq 100); do
		if is_served "$1"; then
			return 0
		fi
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# pid_of_store DATA: the daemon holding the store (its LOCK file).
pid_of_store() {
	head -n 1 "$1/LOCK" 2>/dev/null
}

# wait_gone PID: until the process has exited (10 s).
wait_gone() {
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# mount_fs [DATA [MNT]] [-- caskfs options...]: start the daemon in the
# foreground, in the background of this shell (so that its pid and exit
# status are known), and wait for the mount.
mount_fs() {
	local data=$DATA mnt=$MNT
	if [ $# -gt 0 ] && [ "$1" != -- ]; then
		data=$1
		shift
	fi
	if [ $# -gt 0 ] && [ "$1" != -- ]; then
		mnt=$1
		shift
	fi
	[ "${1:-}" = -- ] && shift
	"$CASKFS_BIN" "$data" "$mnt" -f "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	MOUNTS+=("$mnt")
	if ! wait_mounted "$mnt" "$DAEMON_PID"; then
		echo "FAIL mounting $data on $mnt (see $T/daemon.log)"
		tail -n 20 "$T/daemon.log"
		exit 1
	fi
	case " $* " in *no_io_uring*) return 0 ;; esac
	if [ "${CASKFS_TEST_URING:-0}" = 1 ] && [ "$(transport "$mnt")" != io_uring ]; then
		echo "FAIL $mnt is not served over io_uring (CASKFS_TEST_URING=1)"
		tail -n 5 "$T/daemon.log"
		exit 1
	fi
}

# flip_after MARK: flip a byte 3 bytes into MARK, in the first segment of
# $DATA that holds it; sets SEG (its path) and SEG_SIZE.
flip_after() {
	local f off=
	SEG=
	for f in "$DATA"/*.cask; do
		off=$(grep -obUa "$1" "$f" | head -n 1 | cut -d: -f1)
		[ -n "$off" ] && SEG=$f && break
	done
	[ -n "$SEG" ] || return 1
	printf '\x01' | dd of="$SEG" bs=1 seek=$((off + 3)) conv=notrunc \
		status=none
	SEG_SIZE=$(stat -c %s "$SEG")
}

# stat_of KEY: one figure of user.caskfs.stats of the mount.
# expect_second_whole_first_eio: after a byte flipped in first.bin's
# record, second.bin on the mount matches $T/second and reading first.bin
# fails with EIO.
expect_second_whole_first_eio() {
	ck "the second file reads back whole" cmp -s "$MNT/second.bin" \
		"$T/second"
	cat "$MNT/first.bin" >/dev/null 2>"$T/cat.err"
	ck "cat of the first file exits non-zero" test $? -ne 0
	ck "cat of the first file says Input/output error" \
		grep -q "Input/output error" "$T/cat.err"
}

stat_of() {
	getfattr --only-values -n user.caskfs.stats "$MNT" 2>/dev/null |
		awk -F': *' -v k="$1" '$1 == k { print $2 }'
}

# merge_wait: start a merge (again while one runs) and wait until the
# count of finished merges has grown and none runs (30 s at most).
merge_wait() {
	local i n0
	n0=$(stat_of merges)
	for i in $(seq 100); do
		setfattr -n user.caskfs.merge -v 1 "$MNT" 2>"$T/merge.err" && break
		grep -qi busy "$T/merge.err" || {
			echo "   setfattr user.caskfs.merge: $(xargs <"$T/merge.err")"
			return 1
		}
		sleep 0.1
	done
	for i in $(seq 600); do
		if [ "$(stat_of merges)" -gt "$n0" ] &&
			[ "$(stat_of merge_running)" = no ]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# umount_fs [MNT]: unmount and wait for the daemon to close the store;
# fails if the daemon exits non-zero.
umount_fs() {
	local mnt=${1:-$MNT} i
	if ! fusermount3 -u "$mnt"; then
		# Busy: something still has a file open. Give it a moment.
		sleep 1
		fusermount3 -u "$mnt" || return 1
	fi
	if [ -n "$DAEMON_PID" ]; then
		wait "$DAEMON_PID"
		local rc=$?
		DAEMON_PID=
		[ "$rc" -eq 0 ] || {
			echo "daemon exited with $rc"
			return 1
		}
	fi
	return 0
}
