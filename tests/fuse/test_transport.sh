#!/bin/bash
# test_transport.sh - which transport serves the mount (issue 14): FUSE over
# io_uring when the kernel offers it, /dev/fuse with one log line saying
# why when it does not (switch off, io_uring disabled by sysctl) and
# without one under -o no_io_uring; user.caskfs.stats names it. On the
# ring: requests from every CPU are served by that CPU's queue, large
# reads and writes cross it intact, and kill -9, remount, SIGUSR1 (merge)
# and SIGTERM work as on /dev/fuse. The kernel's switch and the sysctl are
# put back as found (common.sh's RESTORE), also on failure.
. "$(dirname "$0")/common.sh"
# This test sets the switch itself, for each mount.
CASKFS_TEST_URING=0

for t in getfattr taskset cmp; do
	command -v $t >/dev/null || skip "$t is not installed"
done

# stat_of KEY: KEY's value in the mount's user.caskfs.stats
stat_of() {
	getfattr -n user.caskfs.stats --only-values "$MNT" 2>/dev/null |
		sed -n "s/^$1: //p"
}
# fallback_lines: how many times the daemon log says the ring is not used
fallback_lines() {
	grep -c 'FUSE over io_uring not used' "$T/daemon.log"
}

step "switch off: /dev/fuse, and one log line saying why"
uring_switch N
: >"$T/daemon.log"
mount_fs
echo a >"$MNT/a"
ck_eq "transport" /dev/fuse "$(transport "$MNT")"
ck "stats name the switch" bash -c \
	"getfattr -n user.caskfs.stats --only-values '$MNT' | grep -q 'transport_why: .*enable_uring is N'"
ck_eq "one log line" 1 "$(fallback_lines)"
umount_fs

step "switch on, -o no_io_uring: /dev/fuse, no log line"
uring_switch Y
: >"$T/daemon.log"
mount_fs -- -o no_io_uring
ck_eq "transport" /dev/fuse "$(transport "$MNT")"
ck_eq "stats say why" "-o no_io_uring" "$(stat_of transport_why)"
ck_eq "no log line" 0 "$(fallback_lines)"
ck_eq "the file is there" a "$(cat "$MNT/a")"
umount_fs

if [ -w /proc/sys/kernel/io_uring_disabled ]; then
	step "io_uring disabled by sysctl: /dev/fuse, one log line"
	was=$(cat /proc/sys/kernel/io_uring_disabled)
	RESTORE+=("echo $was >/proc/sys/kernel/io_uring_disabled")
	echo 2 >/proc/sys/kernel/io_uring_disabled
	: >"$T/daemon.log"
	mount_fs
	ck_eq "transport" /dev/fuse "$(transport "$MNT")"
	ck "stats name the sysctl" bash -c \
		"getfattr -n user.caskfs.stats --only-values '$MNT' | grep -q 'transport_why: io_uring is disabled'"
	ck_eq "one log line" 1 "$(fallback_lines)"
	# Only now: mount_fs may return before the daemon has seen INIT.
	echo $was >/proc/sys/kernel/io_uring_disabled
	ck_eq "the file is there" a "$(cat "$MNT/a")"
	umount_fs
fi

step "switch on: the ring serves, a queue per CPU"
: >"$T/daemon.log"
mount_fs
ck_eq "transport" io_uring "$(transport "$MNT")"
ck_eq "no log line" 0 "$(fallback_lines)"
# the kernel's queues: one per possible CPU
ncpu=$(($(tr ',' '\n' </sys/devices/system/cpu/possible | tail -n 1 | sed 's/.*-//') + 1))
ck_eq "ring threads: one per CPU" "$ncpu" "$(stat_of ring_threads)"
before=$(stat_of ring_requests)
for cpu in $(seq 0 $((ncpu - 1))); do
	taskset -c "$cpu" bash -c "mkdir '$MNT/cpu$cpu' &&
		for i in \$(seq 50); do echo \$i >\"$MNT/cpu$cpu/f\$i\"; done" ||
		echo "note: CPU $cpu is not usable here"
done
after=$(stat_of ring_requests)
ck "creates went through the ring ($before -> $after requests)" \
	test "$after" -ge $((before + 100))
dev_before=$(stat_of dev_requests)
stat "$MNT"/cpu0/f* >/dev/null
mv "$MNT/cpu0/f1" "$MNT/cpu0/g1"
rm "$MNT/cpu0/f2"
ck_eq "renamed" 1 "$(cat "$MNT/cpu0/g1")"
ck "unlinked" test ! -e "$MNT/cpu0/f2"

step "large writes and reads cross the ring intact"
head -c 5000000 /dev/urandom >"$T/big"
cp "$T/big" "$MNT/big"
sync "$MNT/big"
umount_fs
mount_fs
ck "5 MB read back (cold)" cmp "$T/big" "$MNT/big"
dd if="$T/big" of="$MNT/direct" bs=1M oflag=direct status=none
ck "5 MB written with O_DIRECT reads back with O_DIRECT" bash -c \
	"dd if='$MNT/direct' bs=1M iflag=direct status=none | cmp - '$T/big'"
ck_eq "stat stays in the ring" io_uring "$(transport "$MNT")"
ck "forgets go to /dev/fuse, the rest does not (dev requests $dev_before)" \
	test "$(stat_of dev_requests)" -lt "$(stat_of ring_requests)"

step "SIGUSR1 merges on the ring"
kill -USR1 "$DAEMON_PID"
for _ in $(seq 100); do
	grep -q 'SIGUSR1: merge started' "$T/daemon.log" &&
		[ "$(stat_of merge_running)" = no ] && break
	sleep 0.1
done
ck "the merge started" grep -q 'SIGUSR1: merge started' "$T/daemon.log"
ck "files intact after the merge" cmp "$T/big" "$MNT/big"

step "kill -9 on the ring, then remount"
sync
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
ck "mount point is stale (statfs: ENOTCONN)" is_stale "$MNT"
mount_fs
ck_eq "transport after the remount" io_uring "$(transport "$MNT")"
ck "synced file intact" cmp "$T/big" "$MNT/big"

step "SIGTERM ends the daemon cleanly"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
ck_eq "exit status" 0 "$?"
DAEMON_PID=
ck "unmounted" test -z "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts)"
ck "store closed" grep -q 'unmounted, store closed' "$T/daemon.log"

finish
