#!/bin/bash
# test_read_damage.sh - every byte served is verified: one byte flipped in
# the value of a record inside a sealed segment, under a 100 KB file (a
# chunk, read by range) and under a small inline file (its inode record).
# After a remount, cat of either fails with EIO, the daemon logs a line
# naming the file's path, the segment and the offset, other files still
# read right, and cask fs cat / cask get of the same records exit non-zero
# with a message. Small segments (-o segment_size) put the records in
# sealed, hinted segments, which open trusts without reading them. Each
# damaged record is named once per mount however often it is read (cat
# twice; the kernel retries a failed read): one line of libcask's and one
# of the daemon's.
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
for t in dd grep od cmp stat; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
C=$CASK_BIN
OPTS=(-o segment_size=16K)
BIGMARK=BIGMARK-a9c3e1f7
SMALLMARK=SMALLMARK-4b8d02e6

# The file's content, with a marker that occurs nowhere else.
head -c 102400 /dev/urandom >"$T/big"
printf '%s' "$BIGMARK" | dd of="$T/big" bs=1 seek=50000 conv=notrunc \
	status=none
printf 'hello, %s, a small file kept inline\n' "$SMALLMARK" >"$T/small"
head -c 40000 /dev/urandom >"$T/filler"

step "write a 100 KB file and a small file on 16K segments"
mount_fs -- "${OPTS[@]}"
mkdir "$MNT/dir"
cp "$T/small" "$MNT/small.txt"
cp "$T/big" "$MNT/dir/big.bin"
cp "$T/filler" "$MNT/filler" # the last segment holds none of the above
SMALL_INO=$(stat -c %i "$MNT/small.txt")
BIG_INO=$(stat -c %i "$MNT/dir/big.bin")
ck "unmount" umount_fs

# flip MARKER: flip a byte of every copy of MARKER in a sealed (hinted)
# segment; prints the segment files it changed. Fails if a copy lies in
# a segment without a hint (the active one, which open would scan).
flip() {
	local f off
	for f in "$DATA"/*.cask; do
		grep -obUa "$1" "$f" | while IFS=: read -r off _; do
			if [ ! -e "${f%.cask}.hint" ]; then
				echo "FAIL $1 lies in $f, which has no hint" >&2
				continue
			fi
			printf '\x01' | dd of="$f" bs=1 seek=$((off + 3)) \
				conv=notrunc status=none
			basename "$f"
		done
	done
}

step "flip one byte in each record's value"
big_segs=$(flip "$BIGMARK" 2>"$T/flip.err")
small_segs=$(flip "$SMALLMARK" 2>>"$T/flip.err")
ck "no copy in an unhinted segment" test ! -s "$T/flip.err"
cat "$T/flip.err"
ck "the big file's chunk was flipped" test -n "$big_segs"
ck "the small file's record was flipped" test -n "$small_segs"
"$C" verify "$DATA" >"$T/verify.out" 2>&1
ck "cask verify finds the damage" test $? -ne 0
ck "cask verify names the big file's segment" \
	grep -q "$(echo "$big_segs" | head -n 1)" "$T/verify.out"

step "remount: reads of damaged files fail with EIO"
: >"$T/daemon.log"
mount_fs -- "${OPTS[@]}"
cat "$MNT/dir/big.bin" >/dev/null 2>"$T/cat.err"
ck "cat of the 100 KB file exits non-zero" test $? -ne 0
ck "cat of the 100 KB file says Input/output error" \
	grep -q "Input/output error" "$T/cat.err"
# The part before the damaged chunk still reads right.
head -c 16384 "$MNT/dir/big.bin" >"$T/head" 2>/dev/null
ck "the first chunk still reads right" cmp -s "$T/head" \
	<(head -c 16384 "$T/big")
cat "$MNT/small.txt" >/dev/null 2>"$T/cat.err"
ck "cat of the small file exits non-zero" test $? -ne 0
ck "cat of the small file says Input/output error" \
	grep -q "Input/output error" "$T/cat.err"
ck "other files read right" cmp -s "$MNT/filler" "$T/filler"
cat "$MNT/dir/big.bin" >/dev/null 2>&1
cat "$MNT/small.txt" >/dev/null 2>&1
ck "the daemon names the big file's record once" \
	test "$(grep -c "/dir/big.bin: damaged" "$T/daemon.log")" -eq 1
ck "the daemon names the small file's record once" \
	test "$(grep -c "/small.txt: damaged" "$T/daemon.log")" -eq 1
ck "libcask names each damaged record once" \
	test "$(grep -c "\.cask: damaged record at offset" "$T/daemon.log")" -eq 2
ck "the daemon log names the big file's path" \
	grep -q "/dir/big.bin: damaged content record of inode $BIG_INO in .*$(echo "$big_segs" | tail -n 1) at offset [0-9]" \
	"$T/daemon.log"
ck "the daemon log names the small file's path" \
	grep -q "/small.txt: damaged inode record of inode $SMALL_INO in .*$(echo "$small_segs" | tail -n 1) at offset [0-9]" \
	"$T/daemon.log"
ck "libcask's line names segment, offset and key" \
	grep -q "\.cask: damaged record at offset [0-9]*, key '%02" \
	"$T/daemon.log"
ck "unmount" umount_fs
require_alive "unmount"

step "cask fs cat and cask get fail with a message"
"$C" fs cat "$DATA" /dir/big.bin >/dev/null 2>"$T/err"
ck "cask fs cat exits non-zero" test $? -ne 0
ck "cask fs cat says Input/output error" grep -q "Input/output error" \
	"$T/err"
ck "cask fs cat names the path and segment" \
	grep -q "/dir/big.bin: damaged content record .*\.cask at offset" \
	"$T/err"
ck "... once" test "$(grep -c "/dir/big.bin: damaged" "$T/err")" -eq 1
# The small file's inode record: \x01 and the inode number, big-endian.
key=$(printf '\\x01%s' "$(printf '%016x' "$SMALL_INO" | sed 's/../\\x&/g')")
"$C" get -x "$DATA" "$key" >/dev/null 2>"$T/err"
ck "cask get of the damaged record exits 3" test $? -eq 3
ck "cask get says the store data is corrupt" \
	grep -q "store data is corrupt" "$T/err"
ck "cask get's message names the segment" grep -q "\.cask: damaged record" \
	"$T/err"

finish
