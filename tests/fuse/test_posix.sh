#!/bin/bash
# test_posix.sh - POSIX conformance: posix/posix_cases.c (compiled here)
# runs the same cases in a native directory under $TEST_TMPDIR and on a
# caskfs mount (-o allow_other when root, so that the unprivileged children
# of the EACCES/EPERM cases reach it), as root and again as an unprivileged
# user (uid/gid 65534, when root). The outputs are compared line by line;
# a difference fails unless posix-known-differences.txt lists that case
# with the result caskfs gives and the reason.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

KNOWN=0
NOBODY=65534
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
[ "$ROOT" = 1 ] && reach_for_others $NOBODY

HERE=$(cd "$(dirname "$0")" && pwd)
ALLOW=$HERE/posix-known-differences.txt
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC) to build posix_cases"
"$CC" -O2 -Wall -o "$T/posix_cases" "$HERE/posix/posix_cases.c" || {
	echo "FAIL compiling posix_cases.c"
	exit 1
}
[ -r "$ALLOW" ] || {
	echo "FAIL $ALLOW is missing"
	exit 1
}

# The unprivileged children must be able to reach both directories.
chmod 755 "$T" "$MNT"
NATIVE=$T/native
mkdir -p "$NATIVE"
chmod 755 "$NATIVE"

mount_opts=()
[ "$ROOT" = 1 ] && mount_opts=(-o allow_other)
mount_fs -- "${mount_opts[@]}"

if [ "$ROOT" = 1 ] &&
	! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
		test -x "$NATIVE" -a -x "$MNT" 2>/dev/null; then
	t_fail "uid $NOBODY cannot reach $NATIVE or $MNT: a parent directory" \
		"of $T is not searchable (the unprivileged cases would be void)"
fi

# compare RUN NATIVE_OUT CASKFS_OUT: one line per differing case.
compare() {
	local run=$1 nat=$2 cask=$3 res
	res=$(awk -v run="$run" -v allow="$ALLOW" '
		function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
		BEGIN {
			FS = "\n"
			while ((getline l < allow) > 0) {
				if (l ~ /^[ \t]*(#|$)/)
					continue
				n = split(l, f, "|")
				if (n < 3) {
					print "BADALLOW " l
					continue
				}
				k = trim(f[1]) SUBSEP trim(f[2])
				why[k] = trim(f[3])
			}
		}
		function key(l) { return substr(l, 1, index(l, ": ") - 1) }
		function val(l) { return substr(l, index(l, ": ") + 2) }
		FILENAME == ARGV[1] { nat[key($0)] = val($0); order[++nn] = key($0); next }
		{ cask[key($0)] = val($0) }
		END {
			for (i = 1; i <= nn; i++) {
				c = order[i]
				if (!(c in cask)) {
					print "FAIL " run " " c ": native \"" nat[c] "\", caskfs printed nothing"
					continue
				}
				if (nat[c] == cask[c]) {
					print "PASS"
					continue
				}
				k = c SUBSEP cask[c]
				if (k in why) {
					print "KNOWN " run " " c ": native \"" nat[c] "\", caskfs \"" cask[c] "\" (" why[k] ")"
					used[k] = 1
				} else {
					print "FAIL " run " " c ": native \"" nat[c] "\", caskfs \"" cask[c] "\""
				}
			}
			for (c in cask)
				if (!(c in nat))
					print "FAIL " run " " c ": only caskfs printed it"
		}' "$nat" "$cask")
	PASSED=$((PASSED + $(grep -c '^PASS$' <<<"$res" || :)))
	KNOWN=$((KNOWN + $(grep -c '^KNOWN' <<<"$res" || :)))
	FAILS=$((FAILS + $(grep -c '^FAIL\|^BADALLOW' <<<"$res" || :)))
	grep -v '^PASS$' <<<"$res" | sed 's/^KNOWN/known/' || :
}

# run_cases NAME [-u UID:GID]: the cases on both, then the comparison.
run_cases() {
	local name=$1
	shift
	local nd=$NATIVE/$name cd=$MNT/$name rc=0
	mkdir -p "$nd" "$cd"
	chmod 755 "$nd" "$cd"
	if [ "${1:-}" = -u ]; then
		chown "${2%%:*}:${2##*:}" "$nd" "$cd"
	fi
	"$T/posix_cases" "$@" "$nd" >"$T/$name.native" 2>"$T/$name.native.err" ||
		rc=$?
	[ "$rc" = 0 ] || t_fail "$name: posix_cases on the native directory" \
		"exited $rc: $(head -c 300 "$T/$name.native.err")"
	rc=0
	"$T/posix_cases" "$@" "$cd" >"$T/$name.caskfs" 2>"$T/$name.caskfs.err" ||
		rc=$?
	[ "$rc" = 0 ] || t_fail "$name: posix_cases on caskfs exited $rc:" \
		"$(head -c 300 "$T/$name.caskfs.err")"
	require_alive "the $name cases" || exit 1
	echo "   $name: $(wc -l <"$T/$name.native") cases"
	compare "$name" "$T/$name.native" "$T/$name.caskfs"
}

step "cases as $(id -un), writeback cache (native $NATIVE vs caskfs $MNT)"
run_cases root
if [ "$ROOT" = 1 ]; then
	step "cases as uid/gid $NOBODY, writeback cache"
	run_cases user -u $NOBODY:$NOBODY
fi

# empty_after_rm WHAT: rm -rf of the case directories leaves the root empty.
empty_after_rm() {
	rm -rf "${MNT:?}"/*
	if [ -z "$(ls -A "$MNT")" ]; then
		PASSED=$((PASSED + 1))
		echo "ok   rm -rf of every case directory left the mount empty ($1)"
	else
		t_fail "left over after rm -rf ($1): $(ls -A "$MNT" | head -5 | xargs)"
	fi
}
empty_after_rm "writeback"
umount_fs || t_fail "clean unmount"

step "cases as $(id -un), -o no_writeback"
mount_fs -- "${mount_opts[@]}" -o no_writeback
rm -rf "${NATIVE:?}"/*
run_cases root_nowb
empty_after_rm "no_writeback"
umount_fs || t_fail "clean unmount"

echo "$PASSED passed ($KNOWN known differences listed in" \
	"posix-known-differences.txt), $FAILS failed"
echo "$((PASSED + KNOWN)) passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
