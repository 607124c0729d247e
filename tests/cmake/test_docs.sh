#!/bin/bash
# test_docs.sh - the documents match the tree (issue 12): README.md and
# docs/ refer to no file outside the repository, every repository path
# they name (a markdown link, a tests/, scripts/ or docs/ path) exists, and
# every test count in docs/RELIABILITY.md's tables ("N tests" for named
# test files) is the number of cmocka tests those files hold.
#
# usage: test_docs.sh CMAKE   (CASK_SOURCE_DIR, TEST_TMPDIR from ctest;
# CMAKE unused)
. "$(dirname "$0")/common.sh"
cd "${CASK_SOURCE_DIR:?}" || exit 1
docs=(README.md docs/*.md docs/*.1)

echo "== nothing outside the repository"
# A ../ path to a file (.md .c .h .sh .1 .txt) that climbs out of the repository from the document's
# directory, or leads to nothing in it.
for d in "${docs[@]}"; do
	dir=$(dirname "$d")
	up=$(printf '%s\n' "$dir" | awk -F/ '{ print ($0 == "." ? 0 : NF) }')
	grep -noE '(\.\./)+[A-Za-z0-9_/-]+\.(md|c|h|sh|1|txt)\b' "$d" | while IFS=: read -r line p; do
		n=$(printf '%s' "$p" | grep -o '\.\./' | wc -l)
		if ((n > up)); then
			echo "$d:$line: $p climbs out of the repository"
		elif [ ! -e "$dir/$p" ]; then
			echo "$d:$line: $p: no such file in the repository"
		fi
	done
done >"$T/out.up"
if [ -s "$T/out.up" ]; then
	t_fail "references outside the repository:"
	sed 's/^/    /' "$T/out.up"
else
	echo "ok   no ../ out of the repository in ${#docs[@]} documents"
fi

echo "== every path named exists"
: >"$T/out.paths"
for d in "${docs[@]}"; do
	dir=$(dirname "$d")
	# Markdown links to files: [text](path), no URL, no #anchor only.
	grep -oE '\]\([^)#: ]+' "$d" | sed 's/^](//' | while read -r p; do
		[ -e "$dir/$p" ] || echo "$d: link to $p: no such file"
	done
	# Paths into the tree written out (tests/fuse/test_x.sh, scripts/run.sh).
	grep -oE '(^|[^a-zA-Z0-9_./-])(tests|scripts|docs|bench|mount|cli|kv|fs)/[A-Za-z0-9_./-]+\.(c|h|sh|md|1|txt)' "$d" |
		sed -E 's/^[^a-z]//' | sort -u | while read -r p; do
		[ -e "$p" ] || [ -e "$dir/$p" ] || echo "$d: $p: no such file"
	done
done >>"$T/out.paths"
if [ -s "$T/out.paths" ]; then
	t_fail "paths that do not exist:"
	sed 's/^/    /' "$T/out.paths"
else
	echo "ok   every path named exists"
fi

echo "== RELIABILITY.md's test counts"
# Rows "| DIR/test_A.c[, B, C] | ... | N tests[, ...] |": N is the number
# of cmocka_unit_test* entries of those files.
checked=0
while IFS= read -r line; do
	first=$(printf '%s\n' "$line" | awk -F'|' '{ print $2 }')
	files=$(printf '%s\n' "$first" | grep -oE '(unit|crash|concurrency|fs)/test_[a-z_]+(\.c)?(, [a-z_]+)*' | head -1)
	[ -n "$files" ] || continue
	dir=${files%%/*}
	list=$(printf '%s' "${files#*/}" | sed 's/\.c//g; s/, /\n/g; s/^test_//')
	want=$(printf '%s\n' "$line" | awk -F'|' '{ print $(NF-1) }' |
		grep -oE '^ *(about )?[0-9]+ tests?\b' | grep -oE '[0-9]+')
	[ -n "$want" ] || continue
	have=0
	for n in $list; do
		f=tests/$dir/test_${n#test_}.c
		if [ ! -f "$f" ]; then
			t_fail "RELIABILITY.md names $f, which does not exist"
			continue
		fi
		have=$((have + $(grep -cE 'cmocka_unit_test[a-z_]*\(' "$f")))
	done
	checked=$((checked + 1))
	if [ "$have" != "$want" ]; then
		t_fail "RELIABILITY.md: $files: $want tests, the files hold $have"
	fi
done < <(grep -E '^\| *(unit|crash|concurrency|fs)/test_' docs/RELIABILITY.md)
echo "ok   $checked rows of counts compared"

finish
