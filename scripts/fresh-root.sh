#!/usr/bin/env bash
# fresh-root.sh - the README's two commands on a bare Debian 12, as a
# newcomer runs them (issue 12): a root made with `debootstrap
# --variant=minbase bookworm` (from this machine's apt mirror and
# settings), /dev /dev/pts /proc /sys bound in, this repository copied to
# /root/caskfs (`git archive REV`, or the files as they are when there is
# no .git), then, in the root, as root, from the repository root, with a
# login's environment and nothing else:
#   scripts/run.sh     (mounts a caskfs; a file is written and read back)
#   scripts/run.sh     (again: must say it is already mounted)
#   scripts/test.sh    (about 12 minutes on two cores)
# and a summary. The FUSE mounts and the binds are undone on any exit,
# also a failed or interrupted one, and processes still running in the
# root are ended (by pid). Needs root and debootstrap (or --template).
#
# usage: scripts/fresh-root.sh [--template DIR] [--out DIR] [--keep]
#                              [--run-only] [REV]
#   --template DIR  copy DIR (a root debootstrap made before) instead of
#                   running debootstrap
#   --out DIR       where the root and the logs go
#                   (default /var/tmp/caskfs-fresh-root/DATE-TIME)
#   --keep          keep the root afterwards (the logs are always kept)
#   --run-only      run.sh only, not test.sh
#   REV             the revision to copy (default HEAD; ignored without .git)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}
template="" out="" keep=0 run_only=0 rev=HEAD
while (($#)); do
	case $1 in
	--template) template=${2:?--template needs a directory}; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--keep) keep=1 ;;
	--run-only) run_only=1 ;;
	-h | --help) usage ;;
	-*) echo "fresh-root: unknown option '$1'" >&2; usage ;;
	*) rev=$1 ;;
	esac
	shift
done
out=${out:-/var/tmp/caskfs-fresh-root/$(date +%Y%m%d-%H%M%S)}
root=$out/root
logs=$out/logs

if ((EUID != 0)); then
	echo "fresh-root: needs root (debootstrap, chroot, mount)" >&2
	exit 1
fi
if [[ -n $template && ! -x $template/bin/bash ]]; then
	echo "fresh-root: $template is not a root (no bin/bash)" >&2
	exit 2
fi
if [[ -z $template ]] && ! command -v debootstrap >/dev/null; then
	echo "fresh-root: debootstrap is not installed (apt-get install debootstrap), or give --template DIR" >&2
	exit 1
fi
if [[ -e $root ]]; then
	echo "fresh-root: $root exists already" >&2
	exit 2
fi
mkdir -p "$logs"

# Mount points under the root, deepest first.
mounts_under_root() {
	awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' \
		/proc/self/mounts | sort -r
}

# Undo, in this order: FUSE mounts (their daemons then exit), processes
# still running in the root, the binds; then the root unless --keep.
cleanup() {
	local rc=$? m p i pids
	set +e
	# debootstrap, or the command in the root, if a signal cut it short.
	if [[ -n $child ]] && kill "$child" 2>/dev/null; then
		echo "fresh-root: ending $child"
		wait "$child"
	fi
	for m in $(mounts_under_root); do
		case $(awk -v m="$m" '$2 == m { t = $3 } END { print t }' /proc/self/mounts) in
		fuse*)
			echo "fresh-root: unmounting $m"
			fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null ||
				umount -l "$m"
			;;
		esac
	done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		pids=()
		for p in /proc/[0-9]*; do
			[[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] &&
				pids+=("${p#/proc/}")
		done
		((${#pids[@]})) || break
		((i == 1)) && echo "fresh-root: ending ${pids[*]} (still running in the root)"
		if ((i < 8)); then kill "${pids[@]}" 2>/dev/null; else kill -9 "${pids[@]}" 2>/dev/null; fi
		sleep 1
	done
	for m in $(mounts_under_root); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	if [[ -n $(mounts_under_root) ]]; then
		echo "fresh-root: STILL MOUNTED:" $(mounts_under_root) >&2
		rc=1
	elif ((keep == 0)) && [[ -d $root ]]; then
		rm -rf --one-file-system "$root"
	fi
	exit "$rc"
}
child="" # the command running in the background, waited for
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- the root
t0=$SECONDS
if [[ -n $template ]]; then
	echo "fresh-root: copying $template to $root"
	cp -a "$template" "$root"
else
	# This machine's Debian mirror: the first of its apt sources.
	mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v security | head -1)
	[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null)
	mirror=${mirror:-http://deb.debian.org/debian}
	echo "fresh-root: debootstrap --variant=minbase bookworm $root $mirror"
	debootstrap --variant=minbase bookworm "$root" "$mirror" \
		>"$logs/debootstrap.log" 2>&1 &
	child=$!
	rc=0
	wait "$child" || rc=$?
	child=""
	if ((rc)); then
		tail -n 20 "$logs/debootstrap.log" >&2
		exit 1
	fi
fi
# This machine's apt settings that reach the mirror (proxies, checks of
# snapshot dates), and its resolver.
apt-config dump | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date) ' \
	>"$root/etc/apt/apt.conf.d/99fresh-root" || :
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || :
for d in dev dev/pts proc sys; do
	mkdir -p "$root/$d"
	mount --bind "/$d" "$root/$d"
done
root_s=$((SECONDS - t0))

# ---------------------------------------------------------------- the tree
mkdir -p "$root/root/caskfs"
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
	what="$rev ($(git -C "$repo" rev-parse --short "$rev"))"
	git -C "$repo" archive "$rev" | tar -x -C "$root/root/caskfs"
else
	what="the files of $repo (no .git)"
	tar -C "$repo" --exclude='./build*' -c . | tar -x -C "$root/root/caskfs"
fi
echo "fresh-root: $what in $root"

# in_root LOG CMD: run CMD (a bash command line) in the root, from the
# repository root, with the environment a root login has; log and time it.
times=()
in_root() {
	local log=$logs/$1 t=$SECONDS rc cmd
	shift
	cmd="$*"
	set +e
	# In the background and waited for: a signal to this script is then
	# taken at once (not after the command), and cleanup ends the command.
	chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
		SHELL=/bin/bash TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /root/caskfs && $*" </dev/null >"$log" 2>&1 &
	child=$!
	wait "$child"
	rc=$?
	child=""
	set -e
	times+=("$(printf '%-28s exit %d, %d s' "${cmd:0:28}" "$rc" $((SECONDS - t)))")
	return "$rc"
}

status=0
echo "fresh-root: scripts/run.sh (log: $logs/run.log)"
if in_root run.log scripts/run.sh; then
	in_root smoke.log 'echo hello >/tmp/caskfs-demo/hello.txt &&
		test "$(cat /tmp/caskfs-demo/hello.txt)" = hello &&
		command -v caskfs cask' || status=1
	in_root run-again.log scripts/run.sh || status=1
	grep -q 'already mounted' "$logs/run-again.log" || status=1
else
	status=1
fi
if ((run_only == 0)); then
	echo "fresh-root: scripts/test.sh (log: $logs/test.log)"
	in_root test.log scripts/test.sh || status=1
fi

# The test trees' own logs, for what failed, and the daemon's.
for b in "$root"/root/caskfs/build*; do
	[[ -d $b ]] || continue
	n=$(basename "$b")
	for f in "$b"/ctest-*.log; do
		[[ -f $f ]] && cp "$f" "$logs/$n-$(basename "$f")"
	done
	[[ -f $b/Testing/Temporary/LastTest.log ]] &&
		cp "$b/Testing/Temporary/LastTest.log" "$logs/$n-LastTest.log"
done
cp "$root"/var/tmp/caskfs-demo-data.log "$logs/" 2>/dev/null || :

echo
echo "=== fresh-root: $what, logs in $logs"
printf '%-28s %d s\n' "the root" "$root_s"
printf '%s\n' "${times[@]}"
sed -n '/^caskfs is mounted/,$p' "$logs/run.log"
grep -m1 'already mounted' "$logs/run-again.log" 2>/dev/null | sed 's/^/run.sh again: /'
((run_only)) || sed -n '/^=== summary/,$p' "$logs/test.log"
echo "fresh-root: $( ((status == 0)) && echo PASSED || echo FAILED)"
exit "$status"
