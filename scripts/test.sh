#!/usr/bin/env bash
# test.sh - install the dependencies, check the formatting of every C file
# (clang-format), build three trees and run every test:
#   build       gcc, RelWithDebInfo, benchmarks built (not run): all tests,
#               and the fuse tests again over FUSE io_uring where the kernel
#               has the switch (CASKFS_TEST_URING=1: each test turns it on
#               and puts it back as found)
#   build-asan  clang, ASan+UBSan, libFuzzer targets: unit, crash, fuzz
#               (corpus replay) and fuse tests
#   build-tsan  gcc, TSan: concurrency tests and other non-FUSE tests named
#               *concurrent*
# Warnings are errors. FUSE tests run one at a time. Prints a summary and
# exits non-zero if any build or test failed. Works from any directory.
#
# usage: scripts/test.sh    (JOBS=N to change the parallelism, default 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${JOBS:-2}
t0=$SECONDS
summary=()
total_pass=0 total_fail=0 total_skip=0

scripts/install-deps.sh --bench

# build DIR CMAKE_ARGS...: configure and build. Returns non-zero only when
# configuring fails: a target that does not compile is counted as a failure
# but the rest is built (make -k) and tested; its tests show as "Not Run".
build() {
	local dir=$1
	shift
	echo "=== $dir: configure and build"
	if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCASK_WERROR=ON "$@"; then
		summary+=("$(printf '%-11s CONFIGURE FAILED' "$dir")")
		total_fail=$((total_fail + 1))
		return 1
	fi
	local keep_going=(-- -k) # make; ninja wants a count
	if grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt"; then
		keep_going=(-- -k 0)
	fi
	if ! cmake --build "$dir" -j "$jobs" "${keep_going[@]}"; then
		summary+=("$(printf '%-11s BUILD FAILED (see above)' "$dir")")
		total_fail=$((total_fail + 1))
	fi
	return 0
}

# check DIR WHAT [PREFIX...] -- CTEST_ARGS...: run ctest (under PREFIX, a
# command such as setarch), keep its log, add its counts to the summary.
check() {
	local dir=$1 what=$2
	shift 2
	local prefix=()
	while (($#)) && [[ $1 != -- ]]; do
		prefix+=("$1")
		shift
	done
	shift
	local log
	log=$dir/ctest-${what//[^a-z]/_}.log
	echo "=== $dir: ctest ($what)"
	set +e
	"${prefix[@]}" ctest --test-dir "$dir" --output-on-failure "$@" 2>&1 |
		tee "$log"
	local rc=${PIPESTATUS[0]}
	set -e
	local total failed skipped
	total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
	failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
	skipped=$(grep -c '(Skipped)$' "$log" || true)
	total=${total:-0} failed=${failed:-0}
	if ((rc != 0 && failed == 0)); then
		failed=1 # ctest itself failed
	fi
	local passed=$((total - failed - skipped))
	((passed >= 0)) || passed=0
	summary+=("$(printf '%-11s %-22s %3d passed, %d failed, %d skipped%s' \
		"$dir" "$what" "$passed" "$failed" "$skipped" \
		"$(skip_reasons "$dir" "$log")")")
	total_pass=$((total_pass + passed))
	total_fail=$((total_fail + failed))
	total_skip=$((total_skip + skipped))
}

# skip_reasons DIR LOG: what the tests of the ctest run whose output is LOG
# said they skipped and why (their lines "SKIP: why", exit 77, or "skip:
# why" for a part of a test that ran), as " | skipped NAME: why; part of
# NAME: why", or nothing.
skip_reasons() {
	local skipped
	skipped=$(sed -n 's/.* Test *#[0-9]*: \([^ ]*\) .*Skipped.*/\1/p' "$2")
	awk -v skipped="$skipped" '
	BEGIN { n = split(skipped, s, "\n"); for (i = 1; i <= n; i++) whole[s[i]] = 1 }
	/^[0-9]+\/[0-9]+ Testing: / { name = $3; next }
	name != "" && /^(SKIP|skip): / {
		sub(/^(SKIP|skip): /, "")
		out = out sep (name in whole ? "" : "part of ") name ": " $0
		sep = "; "
	}
	END { if (out != "") print " | skipped " out }
	' "$1/Testing/Temporary/LastTest.log" 2>/dev/null || :
}

# step_skipped DIR WHAT WHY: a step that cannot run here, in the summary
# with its reason.
step_skipped() {
	echo "$2 skipped: $3"
	summary+=("$(printf '%-11s %-22s %3d passed, %d failed, %d skipped%s' \
		"$1" "$2" 0 0 1 " | skipped $2: $3")")
	total_skip=$((total_skip + 1))
}

# 0. Formatting: every C file as .clang-format says.
format_skipped() {
	step_skipped source clang-format "$1"
}
format_check() {
	local bad
	echo "=== clang-format"
	if ! command -v clang-format >/dev/null; then
		format_skipped "clang-format is not installed"
		return
	fi
	# The list of the repository's C files is git's: a tree without .git
	# (an archive, a tarball) cannot tell its files from generated ones.
	local top
	if ! top=$(git rev-parse --show-toplevel 2>&1); then
		format_skipped "no git work tree here to list the C files (git: ${top#fatal: })"
		return
	fi
	bad=$(git ls-files '*.c' '*.h' | while read -r f; do
		clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
	done)
	if [ -n "$bad" ]; then
		echo "not formatted (clang-format -i FILE):"
		echo "$bad"
		summary+=("$(printf '%-11s %-22s %3d passed, %d failed, %d skipped' \
			source clang-format 0 1 0)")
		total_fail=$((total_fail + 1))
	else
		summary+=("$(printf '%-11s %-22s %3d passed, %d failed, %d skipped' \
			source clang-format 1 0 0)")
		total_pass=$((total_pass + 1))
	fi
}
format_check

# 1. Plain build: every test. FUSE tests are RUN_SERIAL; run them apart.
if build build; then
	check build "all but fuse" -- -j "$jobs" -LE fuse
	check build fuse -- -j 1 -L fuse
	uring_switch=/sys/module/fuse/parameters/enable_uring
	if [ -w "$uring_switch" ]; then
		check build "fuse (io_uring)" env CASKFS_TEST_URING=1 -- -j 1 -L fuse
	elif [ -e "$uring_switch" ]; then
		step_skipped build "fuse (io_uring)" "$uring_switch is not writable here"
	else
		step_skipped build "fuse (io_uring)" "the kernel has no FUSE io_uring ($uring_switch missing)"
	fi
fi

# Sanitizer runtimes of gcc 12 / clang 14 assume the address-space layout
# of kernels with vm.mmap_rnd_bits <= 28; with more ASLR entropy (newer
# kernels and distributions use 32) TSan dies with "unexpected memory
# mapping" and ASan can hang on DEADLYSIGNAL. Running the sanitizer tests
# with ASLR off (setarch -R, inherited by every test and daemon they start)
# avoids it, and changes nothing about what the sanitizers find.
no_aslr=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
	no_aslr=(setarch "$(uname -m)" -R)
fi

# 2. ASan + UBSan, with clang so that the libFuzzer targets build too.
asan_args=(-DCASK_SANITIZE=address -DCASK_BUILD_BENCH=OFF)
if command -v clang >/dev/null; then
	asan_args+=(-DCMAKE_C_COMPILER=clang -DCASK_BUILD_FUZZ=ON)
fi
if build build-asan "${asan_args[@]}"; then
	check build-asan "unit crash fuzz" "${no_aslr[@]}" -- -j "$jobs" \
		-L 'unit|crash|fuzz'
	check build-asan fuse "${no_aslr[@]}" -- -j 1 -L fuse
fi

# 3. TSan.
if build build-tsan -DCASK_SANITIZE=thread -DCASK_BUILD_BENCH=OFF; then
	check build-tsan concurrency "${no_aslr[@]}" -- -j "$jobs" \
		-R '^concurrency_|concurrent' -LE fuse
fi

echo
echo "=== summary ($((SECONDS - t0)) s)"
printf '%s\n' "${summary[@]}"
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
((total_fail == 0))
