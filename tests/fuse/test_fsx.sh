#!/bin/bash
# test_fsx.sh - the fsx-style exerciser (fsx.c, compiled here) on a caskfs
# mount, with the kernel writeback cache on and again with -o no_writeback:
# FSX_OPS (default 100000) random read/write/truncate/mmap/fallocate/punch/
# fsync/reopen operations on a file of up to 1 MiB, and a shorter run on a
# file of up to 32 KiB (inline <-> chunked), each checked against an
# in-memory copy; then the files must read the same after a remount.
# FSX_SEED fixes the seed (printed otherwise, for a replay).
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

summary() {
	echo "$PASSED passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}

CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC) to build fsx"
SRC=$(cd "$(dirname "$0")" && pwd)/fsx.c
"$CC" -O2 -Wall -o "$T/fsx" "$SRC" || {
	echo "FAIL compiling $SRC"
	exit 1
}

OPS=${FSX_OPS:-100000}
SMALL_OPS=$((OPS / 5))
SEED=${FSX_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000000 ))}
echo "fsx seed $SEED (replay: FSX_SEED=$SEED), $OPS operations per run"
START=$(date +%s)

# run_fsx NAME FILE ARGS...: one fsx run; its output goes to the log.
run_fsx() {
	local name=$1 file=$2
	shift 2
	if FSX_SEED=$SEED "$T/fsx" "$@" "$file" >"$T/fsx.out" 2>&1; then
		t_ok "$name: $(grep 'operations passed' "$T/fsx.out")"
	else
		t_fail "$name (seed $SEED):"
		# The mismatch and the last operations.
		grep -v '^  0x' "$T/fsx.out" | tail -n 40 || :
		grep '^  0x' "$T/fsx.out" | head -n 16 || :
	fi
}

for mode in writeback no_writeback; do
	step "fsx with $mode"
	opts=()
	[ "$mode" = no_writeback ] && opts=(-o no_writeback)
	rm -rf "$DATA"
	mount_fs -- "${opts[@]}"
	t0=$(date +%s)
	run_fsx "$mode: $OPS ops, file up to 1 MiB, ops up to 64 KiB" \
		"$MNT/big" -N "$OPS"
	run_fsx "$mode: $SMALL_OPS ops, file up to 32 KiB, ops up to 6000 B" \
		"$MNT/small" -N "$SMALL_OPS" -l 32768 -o 6000
	echo "   $mode runs took $(($(date +%s) - t0)) s"
	require_alive "fsx ($mode)" || exit 1
	sums=$(cd "$MNT" && md5sum big small)
	umount_fs || t_fail "$mode: clean unmount"
	mount_fs -- "${opts[@]}"
	if [ "$(cd "$MNT" && md5sum big small)" = "$sums" ]; then
		t_ok "$mode: both files read the same after a remount"
	else
		t_fail "$mode: content changed across a remount"
	fi
	umount_fs || t_fail "$mode: clean unmount after the check"
done

echo "fsx total $(($(date +%s) - START)) s"
summary
