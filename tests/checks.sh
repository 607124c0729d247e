# checks.sh - sourced by the shell tests (tests/fuse/common.sh,
# tests/cmake/common.sh): checks that print "ok   WHAT" or "FAIL WHAT" and
# count the failures, and the closing line (finish: exit 1 if any failed).
FAILS=${FAILS:-0}

step() {
	echo "== $*"
}

# t_ok / t_fail DESCRIPTION: record a check decided by the caller (for
# scripts that print their own closing "N passed, N failed" line).
PASSED=0
t_ok() {
	echo "ok   $*"
	PASSED=$((PASSED + 1))
}
t_fail() {
	echo "FAIL $*"
	FAILS=$((FAILS + 1))
}

# ck DESCRIPTION COMMAND...: run a check, print ok/FAIL, count failures.
ck() {
	local d=$1
	shift
	if "$@"; then
		echo "ok   $d"
	else
		echo "FAIL $d"
		FAILS=$((FAILS + 1))
	fi
}

# ck_eq DESCRIPTION EXPECTED ACTUAL
ck_eq() {
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected '$2', got '$3'"
		FAILS=$((FAILS + 1))
	fi
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}

# has FILE REGEX: FILE (which may be missing) has a line matching REGEX
# (grep -E).
has() {
	grep -Eq -- "$2" "$1" 2>/dev/null
}
