#!/bin/bash
# test_auto_merge.sh - what is deleted returns to the disk without anyone
# asking (issue 13): no merge is asked for, and every option that decides
# when one starts (thresholds, check timer, merge_keep) is the default.
#
#  1. `truncate -s 1000` of a large file leaves it nearly all garbage and
#     rotates no segment: the store's space comes back within a minute.
#     The file is 128 MiB in 4 MiB segments, the ratio of the issue's
#     2 GiB file in 64 MiB segments (32 segments, 99.99% garbage).
#  2. A small store on a small disk (a 64 MiB tmpfs, 8 MiB segments; root
#     only), with and without the writeback cache: fill it until ENOSPC, rm
#     the file, and the tmpfs has its space back within a minute; copying
#     30 MB in then succeeds. Again with the default 64 MiB segments, where
#     all of it is in the active segment: an idle store seals it.
#
# Nothing here lists or reads the data directory: that would pass for a
# copy in progress, for which the files a merge replaced are kept
# (-o merge_keep). The store's size is read from user.caskfs.stats.
. "$(dirname "$0")/common.sh"
command -v getfattr >/dev/null || skip "getfattr (attr) is not installed"

# KiB the store holds on disk: its segments and those kept for a copy.
store_kb() { echo $((($(stat_of disk_bytes) + $(stat_of kept_bytes)) / 1024)); }

# wait_for WHAT LIMIT_S TEST...: until TEST succeeds, at most LIMIT_S
# seconds; prints how long it took.
wait_for() {
	local what=$1 limit=$2 t0=$SECONDS
	shift 2
	while ! "$@"; do
		if [ $((SECONDS - t0)) -ge "$limit" ]; then
			t_fail "$what: not within $limit s"
			return 1
		fi
		sleep 1
	done
	t_ok "$what, after $((SECONDS - t0)) s"
}

step "truncate -s 1000 of a 128 MiB file"
mount_fs -- -o segment_size=4M
head -c $((128 * 1024 * 1024)) /dev/urandom >"$MNT/big"
sync "$MNT/big"
head -c 1000 "$MNT/big" >"$T/head"
before=$(store_kb)
truncate -s 1000 "$MNT/big"
sync "$MNT/big"
echo "   store: $before KiB before the truncate"
small_store() { [ "$(store_kb)" -lt 16384 ]; }
wait_for "the store is under 16 MiB" 60 small_store
echo "   store: $(store_kb) KiB"
ck "the 1000 bytes left are intact" cmp -s "$T/head" "$MNT/big"
umount_fs
mount_fs -- -o segment_size=4M
ck "and after a remount" cmp -s "$T/head" "$MNT/big"
umount_fs

small_tmpfs 64m
DATA=$SMALL/store
free_kb() { df -k --output=avail "$SMALL" | tail -n 1 | tr -d ' '; }
room_again() { [ "$(free_kb)" -gt 40960 ]; }
for mode in writeback no_writeback 64M-segments; do
	opts=(-o segment_size=8M)
	[ "$mode" = no_writeback ] && opts+=(-o no_writeback)
	[ "$mode" = 64M-segments ] && opts=() # the whole store one segment
	rm -rf "$DATA"
	step "$mode: a full 64 MiB tmpfs, rm"
	mount_fs -- "${opts[@]}"
	dd if=/dev/urandom of="$MNT/fill" bs=1M count=64 conv=fsync \
		2>"$T/dd.err" && t_fail "$mode: dd of 64 MiB did not fill it"
	echo "   full: $(free_kb) KiB free on the tmpfs"
	rm "$MNT/fill"
	wait_for "$mode: over 40 MiB free again" 60 room_again
	echo "   $(free_kb) KiB free on the tmpfs"
	ck "$mode: 30 MB copied in" dd if=/dev/urandom of="$MNT/copy" bs=1M \
		count=30 conv=fsync status=none
	require_alive "the copy"
	umount_fs
done

echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
