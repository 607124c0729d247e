# common.sh - sourced by the tests/cmake/test_*.sh scripts: the checks
# of ../checks.sh, cmake and T. Each script gets the cmake to run as its
# argument and CASK_SOURCE_DIR, CASK_BUILD_DIR and TEST_TMPDIR from ctest.
set -u
cmake=${1:?usage: $0 CMAKE}
T=${TEST_TMPDIR:?TEST_TMPDIR not set}
. "$(dirname "${BASH_SOURCE[0]}")/../checks.sh"
