#!/usr/bin/env bash
# run-kvbench.sh - build bench/kvbench and run the full engine comparison
# (libcask against LMDB, LevelDB, RocksDB and Kyoto Cabinet) with the
# standard arguments: 1,000,000 x 100-byte and 200,000 x 4 KiB values, five
# repetitions (the machine is shared and noisy: five make the median robust
# against one disturbed repetition), median reported. Takes about 15 minutes
# on an idle 2-core machine, longer on a busy one.
#
# The markdown tables (for docs/BENCHMARKS.md) go to $OUT (default
# $BUILD/kvbench.md), the progress log to the same name with .log. Extra
# arguments are passed on to kvbench (e.g. --quick, --engines=cask,lmdb).
#
# Environment: BUILD (build tree, default build), OUT, KVBENCH_DIR (where
# the stores are created and removed, default /var/tmp/kvbench: a real
# disk, not tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
OUT=${OUT:-$BUILD/kvbench.md}
KVBENCH_DIR=${KVBENCH_DIR:-/var/tmp/kvbench}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD" --target kvbench -j "$(nproc)"

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- kv 2>/dev/null; then
	rev="$rev + uncommitted kv/ changes"
fi

# Five repetitions unless the caller chose (--reps) or asked for a smoke run.
reps=--reps=5
for a in "$@"; do
	case $a in
	--quick | --reps=*) reps= ;;
	esac
done

echo "kvbench: tables to $OUT, log to ${OUT%.md}.log" >&2
{
	echo "- libcask source: $rev"
	"$BUILD/bench/kvbench" --markdown $reps --base-dir="$KVBENCH_DIR" "$@"
} >"$OUT" 2> >(tee "${OUT%.md}.log" >&2)
cat "$OUT"
