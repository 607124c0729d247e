#!/bin/bash
# test_space_back.sh - what is deleted returns to the disk (issue 13): the
# data directory on a 64 MiB tmpfs (needs root; skipped otherwise), with
# the writeback cache and with -o no_writeback, segments of 8 MiB. Fill
# the mount with dd until it fails, rm the file, ask for a merge: within
# seconds the tmpfs has the space back and 30 MB copied in fit. Nobody
# copies the data directory here, so the merge keeps none of its inputs
# for a copy (the default merge_keep): before, they stayed ten minutes and
# the tmpfs stayed full.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
small_tmpfs 64m
DATA=$SMALL/store

free_kb() { df -k --output=avail "$SMALL" | tail -n 1 | tr -d ' '; }

for mode in writeback no_writeback; do
	opts=(-o segment_size=8M)
	[ "$mode" = no_writeback ] && opts+=(-o no_writeback)
	rm -rf "$DATA"
	step "$mode: fill a 64 MiB tmpfs, rm, merge"
	mount_fs -- "${opts[@]}"
	dd if=/dev/urandom of="$MNT/big" bs=1M count=100 conv=fsync \
		2>"$T/dd.err" && t_fail "$mode: 100 MB fit in 64 MiB"
	echo "   filled: $(free_kb) KiB free on the tmpfs"
	rm -f "$MNT/big"
	if merge_wait; then
		t_ok "$mode: the merge ran"
	else
		t_fail "$mode: no merge ran: $(getfattr --only-values -n user.caskfs.stats "$MNT" | xargs)"
	fi
	back=
	for _ in $(seq 50); do
		[ "$(free_kb)" -ge 40960 ] && back=1 && break
		sleep 0.1
	done
	if [ -n "$back" ]; then
		t_ok "$mode: the space is back on the tmpfs ($(free_kb) KiB free)"
	else
		t_fail "$mode: the tmpfs has $(free_kb) KiB free 5 s after the merge: $(ls -l "$DATA" | xargs)"
	fi
	if dd if=/dev/urandom of="$MNT/copy" bs=1M count=30 conv=fsync \
		2>"$T/dd.err"; then
		t_ok "$mode: 30 MB copied in"
	else
		t_fail "$mode: 30 MB do not fit: $(tail -n 1 "$T/dd.err")"
	fi
	umount_fs || t_fail "$mode: unmount"
done

echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
