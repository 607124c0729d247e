#!/bin/bash
# test_configure.sh - the build never leaves a part out without a word
# (issue 12): a first configure where fuse3 is missing (hidden from
# pkg-config here) fails and names libfuse3-dev, caching nothing that
# keeps the daemon out, and the same cmake command once fuse3 is there
# builds caskfs; -DCASK_BUILD_FS=OFF builds without it. The benchmarks
# (CASK_BUILD_BENCH=AUTO) are decided again at each configure: a program
# skipped for a missing library comes back once the library is found.
#
# usage: test_configure.sh CMAKE   (CASK_SOURCE_DIR, TEST_TMPDIR from ctest)
. "$(dirname "$0")/common.sh"
src=${CASK_SOURCE_DIR:?}

# configure DIR LOG [ARGS...]: cmake -S src -B DIR ARGS (tests off: quicker).
configure() {
	local dir=$1 log=$2
	shift 2
	"$cmake" -S "$src" -B "$dir" -DCASK_BUILD_TESTS=OFF "$@" >"$log" 2>&1
}

mkdir -p "$T/nopc"
echo "== fuse3 missing at the first configure"
# PKG_CONFIG_LIBDIR: pkg-config looks only in an empty directory.
PKG_CONFIG_LIBDIR=$T/nopc configure "$T/b" "$T/1.log"
ck "the configure fails" test $? -ne 0
ck "the message names libfuse3-dev" has "$T/1.log" "libfuse3-dev"
ck "and the way to build without the daemon" has "$T/1.log" "CASK_BUILD_FS=OFF"
sed -n '/CMake Error/,/^$/p' "$T/1.log" | sed 's/^/    /'
ck "nothing cached keeps the daemon out" \
	bash -c "! grep -q '^CASK_BUILD_FS:BOOL=OFF' '$T/b/CMakeCache.txt'"
configure "$T/b" "$T/2.log"
ck "the same command, fuse3 there: configured" test $? -eq 0
ck "... and caskfs is a target" has "$T/2.log" "caskfs targets:.* caskfs( |$)"

echo "== -DCASK_BUILD_FS=OFF without fuse3"
PKG_CONFIG_LIBDIR=$T/nopc configure "$T/off" "$T/3.log" -DCASK_BUILD_FS=OFF
ck "configured" test $? -eq 0
ck "... without the daemon" bash -c "! grep -Eq 'caskfs targets:.* caskfs( |$)' '$T/3.log'"

echo "== the benchmarks: decided again at each configure"
# CMAKE_IGNORE_PREFIX_PATH=/usr hides every library find_library looks for.
configure "$T/bb" "$T/4.log" -DCASK_BUILD_FS=OFF -DCMAKE_IGNORE_PREFIX_PATH=/usr
ck "configured with the libraries hidden" test $? -eq 0
ck "crc_bench is skipped and says why" has "$T/4.log" "bench: crc_bench skipped, not found: libisal-dev"
configure "$T/bb" "$T/5.log" -DCASK_BUILD_FS=OFF -DCMAKE_IGNORE_PREFIX_PATH=
if grep -q '^CASK_ISAL_LIB:FILEPATH=/' "$T/bb/CMakeCache.txt"; then
	ck "ISA-L found again: crc_bench is not skipped" \
		bash -c "! grep -q 'crc_bench skipped' '$T/5.log'"
	ck "... and is a target" bash -c \
		"'$cmake' --build '$T/bb' --target help | grep crc_bench >/dev/null"
else
	echo "skip: the benchmarks' re-evaluation (ISA-L is not installed: scripts/install-deps.sh --bench)"
fi
ck "CASK_BUILD_BENCH=ON with a library missing is an error" bash -c \
	"! '$cmake' -S '$src' -B '$T/bon' -DCASK_BUILD_TESTS=OFF -DCASK_BUILD_FS=OFF \
	-DCASK_BUILD_BENCH=ON -DCMAKE_IGNORE_PREFIX_PATH=/usr >'$T/6.log' 2>&1 && grep -q 'CASK_BUILD_BENCH=ON: .* needs' '$T/6.log'"

finish
