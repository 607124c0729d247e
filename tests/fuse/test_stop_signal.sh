#!/bin/bash
# test_stop_signal.sh - a stop signal that arrives while the daemon closes
# the store after an unmount (systemd's at shutdown, after it unmounted a
# mount unit; a second Ctrl-C) does not cut the close short: fusermount3
# -u returns before the daemon has written back and synced, and a SIGTERM
# then must not kill it. Made certain: slow_sync.c makes every sync of the
# close start a second late. SIGTERM and SIGHUP (SIGINT is ignored by
# the background jobs of a shell script already).
. "$(dirname "$0")/common.sh"

CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC) to build slow_sync"
SRC=$(cd "$(dirname "$0")" && pwd)/slow_sync.c
"$CC" -O2 -Wall -shared -fPIC -o "$T/slow_sync.so" "$SRC" -ldl ||
	skip "cannot build slow_sync.so"
export SLOW_SYNC_AFTER=$T/slow-now

# LD_PRELOAD after a sanitizer's runtime, which must come first.
preload=$T/slow_sync.so
asan=$(ldd "$CASKFS_BIN" | awk '/libasan|libclang_rt.asan/ { print $3 }')
[ -n "$asan" ] && preload="$asan:$preload"

for sig in TERM HUP; do
	step "SIG$sig during the close"
	rm -f "$SLOW_SYNC_AFTER"
	LD_PRELOAD=$preload mount_fs -- -o sync=never
	head -c 3M /dev/urandom >"$T/want"
	cp "$T/want" "$MNT/f"
	pid=$DAEMON_PID
	touch "$SLOW_SYNC_AFTER"
	fusermount3 -u "$MNT"
	# The close now lasts a second or more per sync: signal it twice.
	sleep 0.3
	kill -"$sig" "$pid" 2>/dev/null
	sleep 0.5
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid"
	ck_eq "the daemon ends with 0, not killed" 0 "$?"
	DAEMON_PID=
	ck "it says the store is closed" grep -q "$MNT unmounted, store closed" "$T/daemon.log"
	: >"$T/daemon.log"
	rm -f "$SLOW_SYNC_AFTER"
	mount_fs
	ck "the file is whole after a remount" cmp -s "$T/want" "$MNT/f"
	ck "umount" umount_fs
	rm -rf "$DATA"
done

finish
