#!/bin/bash
# test_stale_mount.sh - a daemon restarted on the stale mount of a killed
# one, slowly: mount_fs (common.sh) returns only once the new daemon serves
# the mount point, not while the directory under it shows through.
#
# Made certain rather than left to the machine's load: slow_detach.c
# (LD_PRELOAD, compiled here) has the daemon detach the stale mount 0.5 s
# late and mount 1.5 s after the detach, and the `stat` that mount_fs runs
# waits until the stale mount is gone. A wait that read /proc/self/mounts
# before statfs took the stale line and the plain directory for the new
# mount: the store looked empty and new files went into the directory
# under the mount (test_crash.sh failed one run in ten that way). As an
# ordinary user the daemon detaches with fusermount3, which the preload
# does not slow down; the test then passes without proving much.
. "$(dirname "$0")/common.sh"

CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC) to build slow_detach"
SRC=$(cd "$(dirname "$0")" && pwd)/slow_detach.c
"$CC" -O2 -Wall -shared -fPIC -o "$T/slow_detach.so" "$SRC" -ldl || {
	echo "FAIL compiling $SRC"
	exit 1
}
REAL_STAT=$(command -v stat)
mkdir -p "$T/bin"
cat >"$T/bin/stat" <<SH
#!/bin/sh
# stat, once $MNT has no stale mount left (10 s at most).
for i in \$(seq 100); do
	awk -v m="$MNT" '\$2 == m { f = 1 } END { exit !f }' /proc/self/mounts ||
		break
	sleep 0.1
done
exec "$REAL_STAT" "\$@"
SH
chmod +x "$T/bin/stat"

step "kill -9 of a daemon with a file in its store"
mount_fs
echo kept >"$MNT/kept"
sync "$MNT/kept"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
ck "mount point is stale (statfs: ENOTCONN)" is_stale "$MNT"

step "slow restart on the stale mount point"
PATH=$T/bin:$PATH LD_PRELOAD=$T/slow_detach.so mount_fs
ck "the daemon detached the stale mount" grep -q "stale mount" "$T/daemon.log"
ck_eq "the store is there when mount_fs returns" kept "$(cat "$MNT/kept")"
echo new >"$MNT/new"
ck "umount" umount_fs
ck "nothing went into the directory under the mount" \
	bash -c "[ -z \"\$(ls -A '$MNT')\" ]"
mount_fs
ck_eq "a file written after the restart is in the store" new \
	"$(cat "$MNT/new" 2>&1)"
ck "umount" umount_fs
finish
