#!/bin/bash
# test_fallocate.sh - fallocate(2) mode 0 reserves the space it promises
# (docs/CASKFS.md, "fallocate"). The data directory on a 64 MiB tmpfs
# (needs root; skipped otherwise), with the writeback cache and with
# -o no_writeback: a fallocate larger than the disk fails with ENOSPC and
# leaves the file as it was; one that fits is held in the data
# directory's HELD file, counted as used by df on the mount and shown in
# user.caskfs.stats; rm and a shrinking truncate give it back; it is held
# across a remount; and once another writer has filled the disk, writing
# the fallocated range still succeeds and reads back intact.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

command -v getfattr >/dev/null || skip "getfattr (attr) is not installed"
small_tmpfs 64m
DATA=$SMALL/store

md5() { md5sum <"$1" | cut -c1-32; }
size_of() { stat -c %s "$1"; }
held_kb() { echo $(($(stat -c %s "$DATA/HELD" 2>/dev/null || echo 0) / 1024)); }
used_kb() { df -k --output=used "$MNT" | tail -n 1 | tr -d ' '; }

# falloc_fails FILE LEN: fallocate -l LEN fails with ENOSPC, FILE stays
# empty.
falloc_fails() {
	if fallocate -l "$2" "$MNT/$1" 2>"$T/falloc.err"; then
		t_fail "$mode: fallocate -l $2 succeeded on a 64 MiB disk"
	elif grep -q 'No space left on device' "$T/falloc.err" &&
		[ "$(size_of "$MNT/$1")" = 0 ]; then
		t_ok "$mode: fallocate -l $2 fails with ENOSPC, the file stays empty"
	else
		t_fail "$mode: fallocate -l $2: $(xargs <"$T/falloc.err"), size $(size_of "$MNT/$1")"
	fi
}

head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/src"

for mode in writeback no_writeback; do
	opts=(-o segment_size=8M)
	[ "$mode" = no_writeback ] && opts+=(-o no_writeback)
	rm -rf "$DATA"
	step "$mode: fallocate on a 64 MiB tmpfs"
	mount_fs -- "${opts[@]}"
	falloc_fails toobig 100M
	falloc_fails huge 500G
	used0=$(used_kb)
	fallocate -l 20M "$MNT/res"
	fallocate -l 8M "$MNT/res2"
	ck_eq "$mode: fallocate -l 20M sets the size" $((20 << 20)) "$(size_of "$MNT/res")"
	held=$(held_kb)
	if [ "$held" -ge $((28 << 10)) ]; then
		t_ok "$mode: 28 MiB fallocated, $held KiB held"
	else
		t_fail "$mode: 28 MiB fallocated but only $held KiB held"
	fi
	ck_eq "$mode: user.caskfs.stats shows the held bytes" \
		"$(size_of "$DATA/HELD")" "$(stat_of held_bytes)"
	used=$(used_kb)
	if [ $((used - used0)) -ge $((28 << 10)) ]; then
		t_ok "$mode: df on the mount counts the fallocated space as used"
	else
		t_fail "$mode: df used grew by $((used - used0)) KiB for 28 MiB fallocated"
	fi
	rm "$MNT/res2"
	ck "$mode: rm gives the file's reservation back" \
		test "$(held_kb)" -le $((held - (8 << 10)))
	fallocate -l 8M "$MNT/res3"
	truncate -s 1M "$MNT/res3"
	ck "$mode: a shrinking truncate gives the reservation back" \
		test "$(held_kb)" -le $((held - (7 << 10)))
	rm "$MNT/res3"
	held=$(held_kb)
	umount_fs || t_fail "$mode: clean unmount"
	mount_fs -- "${opts[@]}"
	ck_eq "$mode: the reservation is held across a remount" "$held" "$(held_kb)"

	rc=0
	dd if=/dev/urandom of="$MNT/fill" bs=1M count=64 conv=fsync \
		2>"$T/dd.err" || rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'No space left on device' "$T/dd.err"; then
		t_ok "$mode: another writer fills the disk (ENOSPC)"
	else
		t_fail "$mode: filling the disk: exit $rc, $(xargs <"$T/dd.err")"
	fi
	rc=0
	dd if="$T/src" of="$MNT/res" bs=1M conv=notrunc,fsync \
		2>"$T/dd.err" || rc=$?
	if [ "$rc" -eq 0 ] && [ "$(md5 "$MNT/res")" = "$(md5 "$T/src")" ]; then
		t_ok "$mode: the 20 MiB fallocated are written on the full disk"
	else
		t_fail "$mode: writing the fallocated range: exit $rc, $(xargs <"$T/dd.err")"
	fi
	require_alive "the writes" || exit 1
	umount_fs || t_fail "$mode: clean unmount"
	mount_fs -- "${opts[@]}"
	ck_eq "$mode: intact after a remount" "$(md5 "$T/src")" "$(md5 "$MNT/res")"
	umount_fs || t_fail "$mode: clean unmount"
done
echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
