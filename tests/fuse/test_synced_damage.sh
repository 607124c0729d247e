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
#  - after a power loss again, with no fsync of either file (sync=never)
#    but the store-wide sync docs/CASKFS.md names, `sync -f MOUNT` then
#    `sync MOUNT`, while the first file is still open and the mark, its
#    last bytes, lies in the daemon's buffer of its last chunk (with the
#    writeback cache, and with -o no_writeback): the first writes the
#    kernel's cached pages back to the daemon, the second (fsync of the
#    root directory) stores what the daemon buffers of open files and
#    fdatasyncs the log. Before, docs promised `sync -f` alone, which the
#    daemon never hears of (the kernel sends FUSE_SYNCFS to virtiofs and
#    fuseblk only), and the fsync of a directory left the last chunk of an
#    open file in the daemon's buffer: the first file was not durable.
. "$(dirname "$0")/common.sh"

for t in dd grep cmp stat; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done

MARK=FIRSTMARK-7c41d0e9

head -c 102400 /dev/urandom >"$T/first"
printf '%s' "$MARK" | dd of="$T/first" bs=1 seek=50000 conv=notrunc \
	status=none
head -c 102400 /dev/urandom >"$T/second"
head -c 100000 /dev/urandom >"$T/plain"

# hold_first_open: a process of its own writes first.bin, 100000 bytes
# and then the mark, and keeps the file open (HOLDER: its pid). Every
# close of the file, or of a copy of its descriptor, sends a flush, which
# stores the file: so the mark is written by a builtin to the subshell's
# own standard output, no redirection, and nothing closes it until the
# daemon is gone. Written back, it lies in the chunk the daemon buffers.
HOLDER=
hold_first_open() {
	local want=$((100000 + ${#MARK}))
	(
		head -c 100000 "$T/plain"
		printf '%s' "$MARK"
		exec sleep 600
	) >"$MNT/first.bin" &
	HOLDER=$!
	for _ in $(seq 100); do
		[ "$(stat -c %s "$MNT/first.bin")" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# crash_round NAME HOW [OPTION]: write both files, made durable as HOW
# says (fsync: each file fsync'ed; none: nothing, sync=never; store: the
# store-wide sync between the two files, the first still open,
# sync=never), kill -9 the daemon, flip the byte. OPTION: one more -o.
crash_round() {
	local name=$1 how=$2 mode=never
	[ "$how" = fsync ] && mode=interval
	step "$name: write two files (sync: $how), kill -9 the daemon"
	DATA=$T/data-$name
	mount_fs -- -o sync=$mode ${3:+-o "$3"}
	if [ "$how" = store ]; then
		ck "the first file is written, and open" hold_first_open
		ck "the store-wide sync: sync -f of the mount" sync -f "$MNT"
		ck "... then sync of the mount (fsync of its root)" sync "$MNT"
	else
		cp "$T/first" "$MNT/first.bin"
	fi
	[ "$how" = fsync ] && ck "fsync of the first" sync "$MNT/first.bin"
	cp "$T/second" "$MNT/second.bin"
	[ "$how" = fsync ] && ck "fsync of the second" sync "$MNT/second.bin"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	if [ -n "$HOLDER" ]; then
		kill "$HOLDER"
		wait "$HOLDER" 2>/dev/null
		HOLDER=
	fi
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
	expect_second_whole_first_eio
	ck "the log reports the damaged range" \
		grep -q "$(basename "$seg"): damaged records at offset" \
		"$T/daemon.log"
	ck "user.caskfs.stats: damaged_keys 1" test "$(stat_of damaged_keys)" = 1
	ck "nothing was truncated" test "$(stat -c %s "$seg")" -eq "$size"
	ck "nothing was saved aside" test -z "$(ls "$DATA" | grep damaged)"
	ck "unmount" umount_fs
	require_alive "unmount"
}

crash_round reboot fsync
rm -f "$DATA/OPENED" # a power loss: no proof that the page cache kept it
check_round reboot

crash_round same-boot none
ck "the boot mark is there" test -e "$DATA/OPENED"
check_round same-boot

crash_round store-wide store
rm -f "$DATA/OPENED"
check_round store-wide

# Written straight to the daemon: the mark is in its buffer at once.
crash_round store-wide-no-writeback store no_writeback
rm -f "$DATA/OPENED"
check_round store-wide-no-writeback

finish
