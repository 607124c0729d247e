#!/bin/bash
# test_write_fail.sh - a write that fails for lack of space changes nothing
# it did not report (issue 10, finding 5). The data directory is on a
# 32 MiB tmpfs (needs root; skipped otherwise); with the writeback cache and
# with -o no_writeback, dd copies 64 MiB of random bytes into the mount and
# must fail with ENOSPC. The file must then read back as a prefix of what
# dd wrote: its size covers no byte that was not stored, and no byte below
# it reads as zeros (or anything but what was written) - while mounted and
# after a remount. Without the writeback cache every write dd was told
# succeeded must be there.
#
# With the writeback cache the kernel writes pages back in parallel
# requests the daemon serves in any order, so before the fix a later range
# was stored before an earlier one failed, and a small last request still
# fitted after larger ones failed: the size covered the failed ranges and
# they read as zeros (27 of 64 MiB, also after a remount).
#
# The kernel keeps its own size for a regular file it caches with the
# writeback cache (a server cannot lower it), so the check while mounted
# first makes the kernel drop its unused dentries and inodes
# (drop_caches=2) and so look the file up again.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

small_tmpfs 32m
DATA=$SMALL/store

# prefix_of WHAT FILE MIN: FILE holds the first N bytes of src for some
# N >= MIN, and nothing else; reading it fails nowhere.
prefix_of() {
	local size first
	size=$(stat -c %s "$2")
	if [ "$size" -gt $((64 << 20)) ] || [ "$size" -lt "$3" ]; then
		t_fail "$1: size $size, expected $3 to $((64 << 20))"
		return
	fi
	if cmp -n "$size" "$2" "$T/src" >"$T/cmp.out" 2>&1; then
		t_ok "$1: the first $size bytes of what was written, no more"
		return
	fi
	first=$(grep -o 'byte [0-9]*' "$T/cmp.out" || :)
	t_fail "$1: size $size: $(xargs <"$T/cmp.out")" \
		"${first:+($(od -A d -t x1 -j "${first#byte }" -N 8 "$2" | head -n 1))}"
}

for mode in writeback no_writeback; do
	opts=(-o segment_size=4M)
	[ "$mode" = no_writeback ] && opts+=(-o no_writeback)
	rm -rf "$DATA"
	step "$mode: dd of 64 MiB into a 32 MiB tmpfs"
	mount_fs -- "${opts[@]}"
	head -c $((64 << 20)) /dev/urandom >"$T/src"
	rc=0
	dd if="$T/src" of="$MNT/fill" bs=1M conv=fsync 2>"$T/dd.err" || rc=$?
	echo "   dd: $(xargs <"$T/dd.err")"
	if [ "$rc" -ne 0 ] && grep -q 'No space left on device' "$T/dd.err"; then
		t_ok "$mode: dd fails with ENOSPC"
	else
		t_fail "$mode: dd: exit $rc, $(xargs <"$T/dd.err")"
	fi
	# Bytes the writer was told are written: none with the writeback
	# cache (its errors come at fsync), the whole records dd wrote without.
	acked=0
	if [ "$mode" = no_writeback ]; then
		acked=$(($(sed -n 's/^\([0-9]*\)+0 records out$/\1/p' "$T/dd.err") << 20))
	fi
	require_alive "the dd" || exit 1
	echo 2 >/proc/sys/vm/drop_caches
	prefix_of "$mode: while mounted" "$MNT/fill" "$acked"
	umount_fs >/dev/null || :
	mount_fs -- "${opts[@]}"
	prefix_of "$mode: after a remount" "$MNT/fill" "$acked"
	umount_fs || t_fail "$mode: clean unmount"
	[ "$mode" = writeback ] || continue

	# The second half of a file is written back first (as when the daemon
	# serves the kernel's requests out of order), then at fsync the first
	# half, which does not fit. The file's size must not cover the failed
	# part of the first half.
	step "$mode: the second half written back first"
	rm -rf "$DATA"
	mount_fs -- "${opts[@]}"
	free=$(df -k --output=avail "$SMALL" | tail -n 1)
	size=$(((free / 1024 + 8) << 20))
	python3 - "$MNT/halves" "$T/src" "$size" >"$T/py.out" <<'PY'
import ctypes, os, sys
path, src, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f:
    data = f.read(size)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
half = size // 2 >> 20 << 20
os.pwrite(fd, data[half:], half)
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64,
                                 ctypes.c_int64, ctypes.c_uint]
# SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | .._WAIT_AFTER
rc = libc.sync_file_range(fd, half, size - half, 1 | 2 | 4)
print("sync_file_range", "ok" if rc == 0 else os.strerror(ctypes.get_errno()))
os.pwrite(fd, data[:half], 0)
for what, call in (("fsync", os.fsync), ("close", os.close)):
    try:
        call(fd)
        print(what, "ok")
    except OSError as e:
        print(what, e.strerror)
PY
	echo "   $((size >> 20)) MiB with $free KiB free: $(xargs <"$T/py.out")"
	if grep -q 'fsync No space left' "$T/py.out"; then
		t_ok "$mode: fsync fails with ENOSPC"
	else
		t_fail "$mode: fsync: $(xargs <"$T/py.out")"
	fi
	echo 2 >/proc/sys/vm/drop_caches
	prefix_of "$mode: halves, while mounted" "$MNT/halves" 0
	umount_fs >/dev/null || :
	mount_fs -- "${opts[@]}"
	prefix_of "$mode: halves, after a remount" "$MNT/halves" 0
	umount_fs || t_fail "$mode: clean unmount"
done
echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
