#!/bin/bash
# test_crash.sh - kill -9 of the daemon in the middle of a workload: the
# stale mount it leaves ("Transport endpoint is not connected") is
# detached by the next caskfs started on it, the store opens, every file
# that was fsync'ed before the kill is intact, and the filesystem works.
# Run for sync=never (durability only from fsync) and sync=interval.
# Each round has its own data directory, $T/data-MODE, and a copy of it
# taken after the kill and before the restart recovers it,
# $T/data-MODE.killed; both stay with $T/daemon.log when a check fails.
. "$(dirname "$0")/common.sh"
command -v python3 >/dev/null || skip "python3 is needed for fsync"

# fsync_write PATH SIZE SEED: write SIZE pseudo-random bytes, fsync the
# file and its directory; print the md5 of what was written.
fsync_write() {
	python3 - "$@" <<'EOF'
import hashlib, os, random, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = random.Random(seed).randbytes(size)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
mv = memoryview(data)
while mv:
    n = os.write(fd, mv[:1 << 20])
    mv = mv[n:]
os.fsync(fd)
os.close(fd)
d = os.open(os.path.dirname(path), os.O_RDONLY)
os.fsync(d)
os.close(d)
print(hashlib.md5(data).hexdigest())
EOF
}

crash_round() {
	local mode=$1 i pid fails=$FAILS log_at
	local sums=$T/sums-$mode
	step "sync=$mode: fsync'ed files, then kill -9 during a workload"
	DATA=$T/data-$mode
	echo "== test_crash: sync=$mode" >>"$T/daemon.log"
	mount_fs -- -o sync=$mode
	mkdir -p "$MNT/safe"
	: >"$sums"
	for i in $(seq 1 12); do
		echo "$(fsync_write "$MNT/safe/f$i" $((i * 40000)) "$i")  f$i" >>"$sums"
	done
	# A workload running when the daemon dies: writes, renames, unlinks.
	(
		i=0
		while :; do
			i=$((i + 1))
			mkdir -p "$MNT/busy/d$((i % 7))" 2>/dev/null || exit 0
			head -c $((i * 1000 % 200000)) /dev/urandom \
				>"$MNT/busy/d$((i % 7))/f$i" 2>/dev/null || exit 0
			mv "$MNT/busy/d$((i % 7))/f$i" "$MNT/busy/r$i" 2>/dev/null || exit 0
			[ $((i % 3)) -eq 0 ] && rm -f "$MNT/busy/r$((i - 2))"
		done
	) &
	pid=$!
	sleep 1.5
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	wait "$pid" 2>/dev/null
	ck "mount point is stale after kill -9 (statfs: ENOTCONN)" is_stale "$MNT"
	cp -a "$DATA" "$DATA.killed"

	step "sync=$mode: restart on the stale mount point"
	log_at=$(wc -l <"$T/daemon.log")
	mount_fs -- -o sync=$mode
	ck "the daemon said it detached the stale mount" bash -c \
		"tail -n +$((log_at + 1)) '$T/daemon.log' | grep -q 'stale mount'"
	ck "fsync'ed files intact" bash -c "cd '$MNT/safe' && md5sum -c --quiet '$sums'"
	ck "busy tree readable" bash -c "find '$MNT/busy' -type f -exec cat {} + >/dev/null"
	echo after >"$MNT/after"
	ck_eq "new writes work" after "$(cat "$MNT/after")"
	ck "rm -rf of the busy tree" rm -rf "$MNT/busy"
	umount_fs || FAILS=$((FAILS + 1))
	ck "no stale mount left in /proc/mounts" bash -c \
		"[ \$(grep -c ' $MNT ' /proc/self/mounts) -eq 0 ]"
	if [ "$FAILS" -eq "$fails" ]; then
		rm -rf "$DATA" "$DATA.killed"
	else
		echo "kept: $DATA (after the restart), $DATA.killed (as" \
			"the kill left it), $sums"
	fi
}

crash_round never
crash_round interval
finish
