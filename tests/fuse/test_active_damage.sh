#!/bin/bash
# test_active_damage.sh - damage never costs the records after it (issue
# 10, finding 2): two files written, the store-wide sync (sync -f MNT,
# then sync MNT: docs/CASKFS.md), a clean unmount, then one
# byte flipped inside the first file's content, which lies in the active
# segment (no hint, so open reads it). After a remount the second file
# reads back whole, the first fails with EIO where its damaged chunk is,
# the daemon's log reports the damaged range and key, nothing is cut or
# saved aside, cask verify reports the damage, and a second remount sees
# the same. Before, open took the damage for a torn tail: it cut the
# segment there, and the second file was gone.
# At each mount the daemon's log names the first file's path as damaged
# (one line per damaged key, and a summary line), user.caskfs.stats counts
# the range, its bytes and the key, and reads of the damaged record add no
# more lines (it was named at the mount).
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
for t in dd grep cmp stat sync getfattr awk; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
C=$CASK_BIN

MARK=FIRSTMARK-5e2a91c3

head -c 102400 /dev/urandom >"$T/first"
printf '%s' "$MARK" | dd of="$T/first" bs=1 seek=50000 conv=notrunc \
	status=none
head -c 102400 /dev/urandom >"$T/second"

step "write two files, sync the store, unmount"
mount_fs
cp "$T/first" "$MNT/first.bin"
cp "$T/second" "$MNT/second.bin"
FIRST_INO=$(stat -c %i "$MNT/first.bin")
ck "sync -f of the mount" sync -f "$MNT"
ck "... then sync of the mount (fsync of its root)" sync "$MNT"
ck "unmount" umount_fs
require_alive "unmount"

step "flip one byte of the first file's content in the active segment"
ck "the first file's chunk is in a segment" flip_after "$MARK"
seg=$SEG size=$SEG_SIZE
ck "... without a hint (the active one)" test ! -e "${seg%.cask}.hint"
"$C" verify "$DATA" >"$T/verify.out" 2>&1
ck "cask verify finds the damage" test $? -ne 0
ck "cask verify says valid records resume and open keeps them" \
	grep -q "open keeps them" "$T/verify.out"

for round in 1 2; do
	step "remount ($round): the second file is whole, the first fails"
	: >"$T/daemon.log"
	mount_fs
	expect_second_whole_first_eio
	head -c 16384 "$MNT/first.bin" >"$T/head" 2>/dev/null
	ck "the first file's first chunk still reads right" \
		cmp -s "$T/head" <(head -c 16384 "$T/first")
	ck "the log reports the damaged range" \
		grep -q "$(basename "$seg"): damaged records at offset" \
		"$T/daemon.log"
	ck "the log names the key whose newest version it held" \
		grep -q "key '%02.*its newest version is the damaged record" \
		"$T/daemon.log"
	ck "the log names the damaged file's path at the mount" \
		grep -q "caskfs: store: /first.bin: damaged content record of inode $FIRST_INO in .*$(basename "$seg") at offset [0-9]*, found at open: its newest version is lost" \
		"$T/daemon.log"
	ck "the log sums up the damage found at the mount" \
		grep -q "damage found at open: 1 damaged range ([0-9]* bytes), 1 key lost its newest version" \
		"$T/daemon.log"
	cat "$MNT/first.bin" >/dev/null 2>&1
	ck "reads name no damaged record again: the daemon's line once" \
		test "$(grep -c "/first.bin: damaged" "$T/daemon.log")" -eq 1
	ck "... libcask's once" test "$(grep -c "key '%02" "$T/daemon.log")" -eq 1
	ck "user.caskfs.stats: damaged_ranges 1" test "$(stat_of damaged_ranges)" = 1
	ck "user.caskfs.stats: damaged_bytes" test "$(stat_of damaged_bytes)" -gt 0
	ck "user.caskfs.stats: damaged_keys 1" test "$(stat_of damaged_keys)" = 1
	ck "nothing was truncated" test "$(stat -c %s "$seg")" -eq "$size"
	ck "nothing was saved aside" test -z "$(ls "$DATA" | grep damaged)"
	ck "unmount" umount_fs
	require_alive "unmount"
done

finish
