#!/bin/bash
# test_install.sh - what `cmake --install` gives a user (issue 12): the
# caskfs and cask programs and their man pages, each page in the section
# its .TH names, every reference between them naming that section, and
# `man caskfs` / `man cask` finding them (when man is installed).
#
# usage: test_install.sh CMAKE   (CASK_BUILD_DIR, TEST_TMPDIR from ctest)
. "$(dirname "$0")/common.sh"
build=${CASK_BUILD_DIR:?}

p=$T/prefix
"$cmake" --install "$build" --prefix "$p" >"$T/install.log" 2>&1
ck "cmake --install exits 0" test $? -eq 0
man=$p/share/man
for prog in caskfs cask; do
	ck "bin/$prog is installed" test -x "$p/bin/$prog"
	ck "share/man/man1/$prog.1 is installed" test -f "$man/man1/$prog.1"
done

# Each page's .TH section is the directory it is installed in, and every
# .BR NAME (N) reference to an installed page, in any of them, says N.
for page in "$man"/man*/*.*; do
	[ -f "$page" ] || continue
	name=$(basename "$page" | sed 's/\.[^.]*$//')
	sect=$(basename "$(dirname "$page")" | sed 's/^man//')
	th=$(awk '$1 == ".TH" { print $3; exit }' "$page")
	ck "$name: .TH says section $sect" test "$th" = "$sect"
	for other in "$man"/man*/*.*; do
		bad=$(grep -nE "^\.BR? $name \(" "$other" |
			grep -vE "^[0-9]+:\.BR? $name \($sect\)" || true)
		ck "$(basename "$other") refers to $name($sect)${bad:+: $bad}" test -z "$bad"
	done
done
ck "caskfs.1 names cask(1)" grep -q '^\.BR cask (1)' "$man/man1/caskfs.1"
ck "cask.1 names caskfs(1)" grep -q '^\.BR caskfs (1)' "$man/man1/cask.1"

if command -v man >/dev/null; then
	for prog in caskfs cask; do
		ck "man $prog finds the installed page" bash -c \
			"MANPATH='$man' man -P cat $prog 2>/dev/null | grep -q '^NAME'"
	done
else
	echo "skip: man caskfs (man is not installed)"
fi

finish
