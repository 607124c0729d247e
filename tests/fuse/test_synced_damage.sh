#!/bin/bash
# test_synced_damage.sh - damage after a crash costs no fsync'ed file
# (issue 10, docs/FORMAT.md sections 7.2 and 7.3). Two files are written,
# each fsync'ed, the daemon is killed with kill -9 (no clean unmount, so
# no CLOSED mark), and one byte of the first file's content is flipped in
# the active segment. Then:
#  - as after a power loss: the boot mark OPENED is removed (it proves
#    nothing then), so only the SYNCED record the second file's write
#    carries says the first file's bytes were durable. After a remount the
#    second file reads back whole, the first fails with EIO, nothing is cut
#    or saved aside. Before, the damage was taken for a torn write: the
#    rest of the segment was saved aside and cut, the second file was gone.
#  - in the same boot, with no fsync at all (sync=never): the page cache
#    kept every byte, so the same holds.
. "$(dirname "$0")/common.sh"

for t in dd grep cmp stat; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done

MARK=FIRSTMARK-7c41d0e9

head -c 102400 /dev/urandom >"$T/first"
printf '%s' "$MARK" | dd of="$T/first" bs=1 seek=50000 conv=notrunc \
	status=none
head -c 102400 /dev/urandom >"$T/second"

# crash_round NAME SYNC: write both files (fsync'ed with SYNC=yes), kill -9
# the daemon, flip the byte.
crash_round() {
	local name=$1 fsync=$2 mode=interval
	[ "$fsync" = yes ] || mode=never
	step "$name: write two files (fsync: $fsync), kill -9 the daemon"
	DATA=$T/data-$name
	mount_fs -- -o sync=$mode
	cp "$T/first" "$MNT/first.bin"
	[ "$fsync" = no ] || ck "fsync of the first" sync "$MNT/first.bin"
	cp "$T/second" "$MNT/second.bin"
	[ "$fsync" = no ] || ck "fsync of the second" sync "$MNT/second.bin"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	ck "no clean-close mark" test ! -e "$DATA/CLOSED"
	ck "the first file's chunk is in a segment" flip_after "$MARK"
	seg=$SEG size=$SEG_SIZE
	ck "... without a hint (the active one)" test ! -e "${seg%.cask}.hint"
}

# check_round NAME: remount; the second file whole, the first fails, the
# segment neither cut nor saved aside.
check_round() {
	step "$1: remount"
	: >"$T/daemon.log"
	mount_fs
	ck "the second file reads back whole" cmp -s "$MNT/second.bin" \
		"$T/second"
	cat "$MNT/first.bin" >/dev/null 2>"$T/cat.err"
	ck "cat of the first file exits non-zero" test $? -ne 0
	ck "cat of the first file says Input/output error" \
		grep -q "Input/output error" "$T/cat.err"
	ck "the log reports the damaged range" \
		grep -q "$(basename "$seg"): damaged records at offset" \
		"$T/daemon.log"
	ck "user.caskfs.stats: damaged_keys 1" test "$(stat_of damaged_keys)" = 1
	ck "nothing was truncated" test "$(stat -c %s "$seg")" -eq "$size"
	ck "nothing was saved aside" test -z "$(ls "$DATA" | grep damaged)"
	ck "unmount" umount_fs
	require_alive "unmount"
}

crash_round reboot yes
rm -f "$DATA/OPENED" # a power loss: no proof that the page cache kept it
check_round reboot

crash_round same-boot no
ck "the boot mark is there" test -e "$DATA/OPENED"
check_round same-boot

finish
