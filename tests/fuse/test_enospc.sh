#!/bin/bash
# test_enospc.sh - a full disk under caskfs: the data directory on a 32 MiB
# tmpfs (needs root; skipped otherwise), with the writeback cache and with
# -o no_writeback. Fill the mount with dd until it fails, check the error
# is ENOSPC (not EIO), that the files written and fsync'ed before are
# intact while full and after a remount of the full store; then take the
# last bytes with mkdirs until a mkdir fails, and on that completely full
# store rm every other file (one of them still open) and the directories:
# unlink and rmdir free space, so libcask lets them use its space reserve
# (the file RESERVE in the data directory, docs/ENGINE.md). Then a merge
# must free the space of the deleted files (one segment at a time if it
# must), the reserve come back, writes succeed again, and everything be
# intact after a remount. Merged segments are not kept for merge_keep
# (default 600 s) while the disk is short of space.
#
# The writeback-cache mode used to fail about one run in seven, read as
# "space freed beside the store taken again before the merge". The space
# was never there: with the writeback cache the kernel sends the last
# pages of the failing dd in large writes, so the fill leaves between 0
# and about 80 KiB free. At 36 KiB or less rm failed and the test grew the
# tmpfs by 8 MiB; at 72-80 KiB (2 runs of 8 measured) rm succeeded, the
# tmpfs was not grown, and the merge needed room for the 3 MiB of live
# records it rewrites before removing any input: ENOSPC. The merge now
# gives up the reserve and goes one segment at a time, the most dead
# first, so both modes run by default.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
small_tmpfs 32m
DATA=$SMALL/store

free_kb() { df -k --output=avail "$SMALL" | tail -n 1 | tr -d ' '; }
md5() { md5sum <"$1" | cut -c1-32; }

# reserve_kb: KiB allocated to the store's space reserve.
reserve_kb() { du -k "$DATA/RESERVE" 2>/dev/null | cut -f1; }

for mode in writeback no_writeback; do
	opts=(-o segment_size=4M)
	[ "$mode" = no_writeback ] && opts+=(-o no_writeback)
	rm -rf "$DATA"
	step "$mode: fill a 32 MiB tmpfs"
	mount_fs -- "${opts[@]}"
	if [ "$(reserve_kb)" -ge 4096 ]; then
		t_ok "$mode: the store holds a space reserve of $(reserve_kb) KiB"
	else
		t_fail "$mode: no space reserve: $(ls -ls "$DATA" | xargs)"
	fi
	declare -A sums=()
	for f in keep1 keep2 keep3 open; do
		head -c $((1024 * 1024 + RANDOM)) /dev/urandom >"$T/src"
		dd if="$T/src" of="$MNT/$f" bs=64k conv=fsync status=none
		sums[$f]=$(md5 "$T/src")
	done
	echo "   4 files written and fsync'ed; $(free_kb) KiB free on the tmpfs"
	rc=0
	dd if=/dev/urandom of="$MNT/fill" bs=1M count=64 conv=fsync \
		2>"$T/dd.err" || rc=$?
	echo "   dd: $(grep -v records "$T/dd.err" | head -n 2 | xargs)"
	if [ "$rc" -ne 0 ] && grep -q 'No space left on device' "$T/dd.err" &&
		! grep -q 'Input/output error' "$T/dd.err"; then
		t_ok "$mode: dd of 64 MiB fails with ENOSPC, not EIO"
	else
		t_fail "$mode: dd of 64 MiB: exit $rc, $(xargs <"$T/dd.err")"
	fi
	[ "$mode" = no_writeback ] && {
		# Without the writeback cache the write(2) itself fails.
		if grep -q "error writing.*No space left" "$T/dd.err"; then
			t_ok "$mode: the write(2) call itself returned ENOSPC"
		else
			t_fail "$mode: expected write(2) to fail: $(xargs <"$T/dd.err")"
		fi
	}
	# More small writes while full: ENOSPC or success, never EIO.
	errs=$(for i in $(seq 20); do
		head -c 100000 /dev/urandom 2>/dev/null >"$MNT/more$i" || :
	done 2>&1 | grep -o 'Input/output error' | sort -u || :)
	mkdir "$MNT/dir_when_full" 2>"$T/mkdir.err" || :
	if [ -z "$errs" ] && ! grep -q 'Input/output' "$T/mkdir.err"; then
		t_ok "$mode: more writes and a mkdir on the full store: no EIO"
	else
		t_fail "$mode: EIO while full: $errs $(xargs <"$T/mkdir.err")"
	fi
	require_alive "the fill" || exit 1
	bad=
	for f in "${!sums[@]}"; do
		[ "$(md5 "$MNT/$f")" = "${sums[$f]}" ] || bad="$bad $f"
	done
	if [ -z "$bad" ]; then
		t_ok "$mode: the fsync'ed files are intact while full"
	else
		t_fail "$mode: changed while full:$bad"
	fi
	echo "   $(free_kb) KiB free"
	# The daemon may not be able to write back what is still buffered
	# (never fsync'ed): it says so and exits non-zero; the store must
	# still open with everything fsync'ed.
	rc=0
	umount_fs >/dev/null || rc=1
	echo "   unmount of the full store: daemon $([ $rc = 0 ] && echo "exited 0" ||
		echo "reported an error: $(grep -iv mounted "$T/daemon.log" | tail -n 1)")"
	if mount_fs -- "${opts[@]}" 2>/dev/null; then
		bad=
		for f in "${!sums[@]}"; do
			[ "$(md5 "$MNT/$f")" = "${sums[$f]}" ] || bad="$bad $f"
		done
		if [ -z "$bad" ]; then
			t_ok "$mode: the full store mounts again; fsync'ed files intact"
		else
			t_fail "$mode: changed after remounting the full store:$bad"
		fi
	else
		t_fail "$mode: the full store does not mount again"
		exit 1
	fi

	step "$mode: free space on the completely full store"
	# The fill leaves up to ~80 KiB (writeback cache); empty directories
	# take them until not even a mkdir fits.
	n=0
	while [ $n -lt 10000 ] && mkdir "$MNT/pad$n" 2>"$T/mkdir.err"; do
		n=$((n + 1))
	done
	if grep -q 'No space left' "$T/mkdir.err"; then
		t_ok "$mode: completely full: mkdir fails with ENOSPC after $n more ($(free_kb) KiB free)"
	else
		t_fail "$mode: mkdir on the full store: $(xargs <"$T/mkdir.err")"
	fi
	exec 3<"$MNT/open"
	if rm -rf "$MNT"/fill "$MNT"/more* "$MNT"/pad* "$MNT"/open \
		2>"$T/rm.err"; then
		t_ok "$mode: rm of the files (one still open) and rmdir on the completely full store"
	else
		t_fail "$mode: rm on the full store: $(head -n 3 "$T/rm.err" | xargs)"
	fi
	if [ "$(md5sum <&3 | cut -c1-32)" = "${sums[open]}" ]; then
		t_ok "$mode: the file removed while open still reads whole"
	else
		t_fail "$mode: the file removed while open changed"
	fi
	exec 3<&-
	unset "sums[open]"
	left=$(cd "$MNT" && echo *)
	bad=
	for f in "${!sums[@]}"; do
		[ "$(md5 "$MNT/$f")" = "${sums[$f]}" ] || bad="$bad $f"
	done
	if [ -z "$bad" ] && { [ "$left" = "dir_when_full keep1 keep2 keep3" ] ||
		[ "$left" = "keep1 keep2 keep3" ]; }; then
		t_ok "$mode: nothing else lost: $left"
	else
		t_fail "$mode: after rm: files '$left', changed:$bad"
	fi
	grep -q "space reserve given up" "$T/daemon.log" &&
		echo "   daemon: $(grep -m1 "space reserve given up" "$T/daemon.log")"
	before=$(free_kb)
	if merge_wait; then
		t_ok "$mode: a merge ran: $before KiB free before, $(free_kb) after"
	else
		t_fail "$mode: the merge did not finish: $(xargs <"$T/merge.err")" \
			"$(getfattr --only-values -n user.caskfs.stats "$MNT" | xargs)"
		ls -l "$DATA"
		echo "   tmpfs: $(df -k "$SMALL" | tail -n 1), du: $(du -sk "$SMALL")"
	fi
	if [ "$(free_kb)" -gt 16384 ]; then
		t_ok "$mode: more than 16 MiB free again"
	else
		t_fail "$mode: only $(free_kb) KiB free after rm and merge"
	fi
	if [ "$(reserve_kb)" -ge 4096 ] &&
		[ "$(stat_of reserve_bytes)" = $((4 << 20)) ]; then
		t_ok "$mode: the space reserve is back ($(reserve_kb) KiB, user.caskfs.stats says $(stat_of reserve_bytes))"
	else
		t_fail "$mode: the space reserve is not back: $(reserve_kb) KiB, user.caskfs.stats says '$(stat_of reserve_bytes)'"
	fi
	head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/src"
	if dd if="$T/src" of="$MNT/after" bs=1M conv=fsync status=none 2>"$T/dd.err"; then
		t_ok "$mode: an 8 MiB write with fsync succeeds again"
	else
		t_fail "$mode: writing after freeing space: $(xargs <"$T/dd.err")"
	fi
	sums[after]=$(md5 "$T/src")
	umount_fs || t_fail "$mode: clean unmount"
	mount_fs -- "${opts[@]}"
	bad=
	for f in "${!sums[@]}"; do
		[ "$(md5 "$MNT/$f")" = "${sums[$f]}" ] || bad="$bad $f"
	done
	if [ -z "$bad" ]; then
		t_ok "$mode: all files intact after a remount"
	else
		t_fail "$mode: changed after the last remount:$bad"
	fi
	umount_fs || t_fail "$mode: clean unmount"
	unset sums
done
echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
