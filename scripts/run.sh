#!/usr/bin/env bash
# run.sh - install the dependencies, build, install caskfs and cask with
# their man pages (in PREFIX, default /usr/local), and mount a caskfs: the
# store's data in DATA_DIR (default /var/tmp/caskfs-demo-data), the
# filesystem at MOUNTPOINT (default /tmp/caskfs-demo), the daemon in the
# background logging to DATA_DIR.log.
#
# usage: scripts/run.sh [DATA_DIR MOUNTPOINT]
#   PREFIX=/usr/local  BUILD_DIR=build  JOBS=2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if (($# != 0 && $# != 2)); then
	sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
data=${1:-/var/tmp/caskfs-demo-data}
mnt=${2:-/tmp/caskfs-demo}
prefix=${PREFIX:-/usr/local}
build=${BUILD_DIR:-build}

scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "${JOBS:-2}"

# The programs, the man pages and libcask, as root unless PREFIX is ours.
sudo=()
if ! mkdir -p "$prefix" 2>/dev/null || [[ ! -w $prefix ]]; then
	if ((EUID != 0)) && command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "run.sh: cannot write to $prefix (run as root, or PREFIX=DIR)" >&2
		exit 1
	fi
fi
"${sudo[@]}" cmake --install "$build" --prefix "$prefix"
if [[ $prefix == /usr/local ]]; then
	# libcask.so for programs built against it; the man index for apropos.
	"${sudo[@]}" ldconfig
	if command -v mandb >/dev/null; then
		"${sudo[@]}" mandb -q 2>/dev/null || :
	fi
fi
caskfs=$prefix/bin/caskfs

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# -m: no stat, which a dead mount would fail with ENOTCONN.
data=$(realpath -m "$data")
mnt=$(realpath -m "$mnt")
# Next to the store, named for it: two stores never share a log.
log=$data.log

if is_mounted "$mnt" && stat "$mnt" >/dev/null 2>&1; then
	echo "run.sh: $mnt is already mounted; unmount it with:"
	echo "  fusermount3 -u $mnt"
	exit 0
fi
# A dead mount left by a daemon that was killed is detached by caskfs.
mkdir -p "$mnt"
# caskfs returns once the store is open and the mount is up, having said
# on the terminal what went wrong otherwise; the daemon then logs to $log.
"$caskfs" "$data" "$mnt" -o "log=$log"

cat <<EOF

caskfs is mounted at $mnt (store: $data).
Daemon log: $log
Use it as any directory:
  echo hello > $mnt/hello.txt; ls -l $mnt; cat $mnt/hello.txt
  getfattr -n user.caskfs.stats $mnt        # keys, live/dead bytes, segments
  setfattr -n user.caskfs.merge -v 1 $mnt   # compact the store now
Back it up while mounted (a consistent copy, also during a merge):
  cask backup $data /var/backups/caskfs-demo.\$(date +%F)
Unmount:
  fusermount3 -u $mnt
Mount at boot: this line in /etc/fstab (or a systemd mount unit: README.md,
"Mounting at boot"):
  $data  $mnt  fuse.caskfs  defaults,nofail,log=$log  0 0
Programs: caskfs and cask in $prefix/bin; manuals: man caskfs, man cask;
the user guide: docs/CASKFS.md
EOF
