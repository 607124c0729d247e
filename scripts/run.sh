#!/usr/bin/env bash
# run.sh - install the dependencies, build, and mount a caskfs: the store's
# data in DATA_DIR (default /var/tmp/caskfs-demo-data), the filesystem at
# MOUNTPOINT (default /tmp/caskfs-demo), daemon in the background.
#
# usage: scripts/run.sh [DATA_DIR MOUNTPOINT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if (($# != 0 && $# != 2)); then
	sed -n '2,7s/^# \{0,1\}//p' "$0" >&2
	exit 2
fi
data=${1:-/var/tmp/caskfs-demo-data}
mnt=${2:-/tmp/caskfs-demo}

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "${JOBS:-2}"

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# -m: no stat, which a dead mount would fail with ENOTCONN.
data=$(realpath -m "$data")
mnt=$(realpath -m "$mnt")

if is_mounted "$mnt"; then
	if stat "$mnt" >/dev/null 2>&1; then
		echo "run.sh: $mnt is already mounted; unmount it with:"
		echo "  fusermount3 -u $mnt"
		exit 0
	fi
	# The daemon of an earlier run died and left a dead mount behind.
	echo "run.sh: removing a dead mount at $mnt"
	fusermount3 -u -z "$mnt" || umount -l "$mnt"
fi
mkdir -p "$data" "$mnt"

# Started in the background whether or not caskfs daemonizes by itself.
log=$(dirname "$data")/caskfs-demo.log
nohup build/caskfs "$data" "$mnt" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	is_mounted "$mnt" && break
	if ! kill -0 "$pid" 2>/dev/null && ! wait "$pid"; then
		break # it exited with an error
	fi
	sleep 0.1
done
if ! is_mounted "$mnt"; then
	echo "run.sh: caskfs did not mount $mnt; its output ($log):" >&2
	cat "$log" >&2
	exit 1
fi

cat <<EOF

caskfs is mounted at $mnt (store: $data, daemon log: $log).
Use it as any directory:
  echo hello > $mnt/hello.txt; ls -l $mnt; cat $mnt/hello.txt
  getfattr -n user.caskfs.stats $mnt        # keys, live/dead bytes, segments
  setfattr -n user.caskfs.merge -v 1 $mnt   # compact the store now
Back up the store while mounted: rsync -a $data/ /some/backup/
Unmount:
  fusermount3 -u $mnt
EOF
