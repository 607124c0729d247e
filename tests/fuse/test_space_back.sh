#!/bin/bash
# test_space_back.sh - what is deleted returns to the disk (issue 13): the
# data directory on a 64 MiB tmpfs (needs root; skipped otherwise), with
# the writeback cache and with -o no_writeback, segments of 8 MiB. Fill
# the mount with dd until it fails, rm the file, ask for a merge: within
# seconds the tmpfs has the space back and 30 MB copied in fit. Nobody
# copies the data directory here, so the merge keeps none of its inputs
# for a copy (the default merge_keep): before, they stayed ten minutes and
# the tmpfs stayed full. Then a copy reads the directory before a merge:
# its inputs are kept, and counted in user.caskfs.stats and in df on the
# mount; cask verify and cask backup leave them out and say so, cask kept
# lists them, and the rsync line of docs/CASKFS.md copies the store
# without them.
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

step "a copy reads the data directory: the inputs are kept, and counted"
C=${CASK_BIN:-}
[ -x "$C" ] || skip "CASK_BIN is not set to the cask tool"
rm -rf "$DATA"
mount_fs -- -o segment_size=1M
for i in $(seq 8); do
	head -c 1000000 /dev/urandom >"$MNT/f$i"
done
rm -f "$MNT"/f[1-4]
sync -f "$MNT"
cat "$DATA"/*.cask >/dev/null # as cp -a does
if merge_wait; then
	t_ok "the merge ran"
else
	t_fail "no merge ran"
fi
kept=$(stat_of kept_bytes)
if [ "${kept:-0}" -gt 0 ] && [ "$(stat_of kept_segments)" -gt 0 ]; then
	t_ok "user.caskfs.stats counts the kept inputs ($kept bytes, $(stat_of kept_segments) segments)"
else
	t_fail "kept_bytes '$kept': $(ls "$DATA" | xargs)"
fi
used_kb=$(df -k --output=used "$MNT" | tail -n 1 | tr -d ' ')
du_kb=$(du -sk "$DATA" | cut -f1)
if [ $((used_kb - du_kb)) -le 256 ] && [ $((du_kb - used_kb)) -le $((du_kb / 50 + 256)) ]; then
	t_ok "df on the mount counts what the data directory holds (${used_kb} KiB used, du ${du_kb} KiB)"
else
	t_fail "df on the mount says ${used_kb} KiB used, the data directory holds ${du_kb} KiB"
fi
"$C" kept "$DATA" >"$T/kept"
if grep -q '\.cask$' "$T/kept" && grep -q '\.drop$' "$T/kept"; then
	t_ok "cask kept lists the kept inputs and their drop list ($(xargs <"$T/kept"))"
else
	t_fail "cask kept: $(xargs <"$T/kept")"
fi
"$C" verify "$DATA" 2>"$T/verify.err" >/dev/null || :
if grep -q "not read: merge inputs kept" "$T/verify.err"; then
	t_ok "cask verify skips them and says so"
else
	t_fail "cask verify: $(cat "$T/verify.err")"
fi
"$C" backup "$DATA" "$T/bk" >"$T/backup.out" 2>&1 || t_fail "cask backup: $(cat "$T/backup.out")"
if grep -q "not copied: merge inputs" "$T/backup.out" &&
	! ls "$T/bk" | grep -qxFf "$T/kept"; then
	t_ok "cask backup leaves them out and says so"
else
	t_fail "cask backup: $(cat "$T/backup.out"); copied $(ls "$T/bk" | xargs)"
fi
# The documented rsync line (docs/CASKFS.md).
setfattr -n user.caskfs.backup -v $$ "$MNT"
"$C" kept "$DATA" >"$T/kept" &&
	rsync -a --delete --delete-excluded --exclude-from="$T/kept" \
		"$DATA/" "$T/rs/"
setfattr -n user.caskfs.backup -v 0 "$MNT"
if ! ls "$T/rs" | grep -qxFf "$T/kept" && "$C" verify "$T/rs" 2>/dev/null &&
	"$C" fs cat "$T/rs" /f8 | cmp -s - "$MNT/f8"; then
	t_ok "the rsync line copies the store without them, and the copy reads"
else
	t_fail "the rsync copy: $(ls "$T/rs" | xargs)"
fi
umount_fs || t_fail "unmount"

echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
