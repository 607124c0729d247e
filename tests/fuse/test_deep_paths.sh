#!/bin/bash
# test_deep_paths.sh - trees deeper than the kernel's PATH_MAX on a real
# caskfs mount, built and used with relative paths as on any Linux
# filesystem: a 4095-byte relative path made with mkdir -p from the mount
# root; 100 levels of 100-byte names (10 KB paths) made with cd step by
# step, with files, a symlink and a FIFO at the bottom, then stat, ls,
# mv (of files, and of a directory 50 levels deep with its subtree), ln,
# rm, find and rm -r; the limit itself: a directory whose path is 65279
# bytes takes a 254-byte name (a 65534-byte path) and refuses a 255-byte
# one with ENAMETOOLONG, and a rename that would push the bottom past the
# limit fails and changes nothing. After an unmount, cask fs ls and cat
# by the 10 KB absolute path, and cask fs get of the whole tree, which
# must come out equal (names, types, modes, times, contents) to what the
# mount shows.
. "$(dirname "$0")/common.sh"

C=${CASK_BIN:-}
[ -n "$C" ] && [ -x "$C" ] || skip "CASK_BIN is not set to the cask tool"

LEVELS=100
# name I [LEN [CHAR]]: the name of level I, LEN bytes (default 100).
name() {
	local s
	s=$(printf '%s%04d' "${3:-d}" "$1")
	while [ ${#s} -lt "${2:-100}" ]; do
		s+=${3:-d}
	done
	printf '%s' "${s:0:${2:-100}}"
}
# deep_path N: the absolute path of level N in the store (for cask fs).
deep_path() {
	local i p=
	for i in $(seq "$1"); do
		p+=/$(name "$i")
	done
	printf '%s' "$p"
}
# down FROM TO: cd into the levels FROM..TO, one at a time (no path the
# kernel is given is longer than a name).
down() {
	local i
	for i in $(seq "$1" "$2"); do
		cd "$(name "$i")" || return 1
	done
}
# at_bottom DIR CMD...: run CMD at the bottom of the chain made in DIR.
at_bottom() {
	(
		cd "$1" || exit 1
		for i in $(seq 254); do
			cd "$(name "$i" 255 c)" || exit 1
		done
		cd "$(name 0 250 c)" || exit 1
		shift
		"$@"
	)
}
# The nodes of the tree: the root, each level and its f, list, g3..g300,
# renamed, sym, fifo, hard.
NODES=$((1 + 2 * LEVELS + 1 + 298 + 4))

# listing DIR: every node below DIR with its type, mode and mtime (and a
# symlink's target), then the checksum of every file (find -execdir: no
# path past PATH_MAX is ever passed to the kernel).
listing() {
	(cd "$1" && find . -printf '%P|%y|%m|%T@|%l\n' | sort &&
		find . -type f -execdir md5sum {} + | sort)
}

mount_fs
cd "$MNT" || exit 1

step "a 4095-byte relative path from the mount root"
p=$(python3 -c "print('/'.join(['y' * 99] * 41)[:4095])")
ck_eq "its length" 4095 "${#p}"
ck "mkdir -p of it" mkdir -p "$p"
ck "stat by it" test -d "$p"
ck "a file beside its end" touch "${p%/*}/end"
ck "rm -r of it" rm -r "${p%%/*}"

step "100 levels of 100-byte names, cd step by step"
for i in $(seq $LEVELS); do
	n=$(name "$i")
	mkdir "$n" && cd "$n" || break
	echo "level $i" >f
done
ck_eq "levels made" $LEVELS "$i"
ck "the path is past PATH_MAX" test "${#PWD}" -gt 10000
ck_eq "a file at the bottom" "level $LEVELS" "$(cat f)"
for i in $(seq 300); do echo "g$i"; done >list
xargs touch <list
ck_eq "300 files listed" 302 "$(ls | wc -l)"
ln -s f sym
mkfifo fifo
ln f hard
ck_eq "hard link count" 2 "$(stat -c %h f)"
mv g1 renamed
rm g2
ck_eq "rename and unlink" "renamed:no" \
	"$(ls renamed):$(test -e g2 && echo yes || echo no)"
ck_eq "readlink" f "$(readlink sym)"
cd "$MNT"

step "mv of a directory 50 levels deep, and back"
down 1 49 || exit 1
ck "mv of level 50" mv "$(name 50)" moved
ck_eq "the bottom under its new name" "level $LEVELS" \
	"$(cd moved && down 51 $LEVELS && cat f)"
ck "mv back" mv moved "$(name 50)"
cd "$MNT"
ck_eq "find sees every node" $NODES "$(find . | wc -l)"

step "at the limit: 65534 bytes of path, and one more"
mkdir lim && cd lim || exit 1
# "/lim" (4) + 254 levels of 256 bytes = 65028; + "/" + 250 = 65279.
for i in $(seq 254); do
	n=$(name "$i" 255 c)
	mkdir "$n" && cd "$n" || break
done
n=$(name 0 250 c)
mkdir "$n" && cd "$n" || exit 1
ck "a 254-byte name: a 65534-byte path" touch "$(name 1 254 z)"
ck_eq "stat of it" "regular empty file" "$(stat -c %F "$(name 1 254 z)")"
err=$(touch "$(name 1 255 z)" 2>&1)
ck "a 255-byte name: ENAMETOOLONG" grep -q "File name too long" <<<"$err"
err=$(mkdir "$(name 1 255 z)" 2>&1)
ck "mkdir: ENAMETOOLONG" grep -q "File name too long" <<<"$err"
cd "$MNT"
err=$(mv lim limx 2>&1)
ck "a rename pushing the bottom past the limit: ENAMETOOLONG" \
	grep -q "File name too long" <<<"$err"
mkdir other
err=$(mv lim other/ 2>&1)
ck "a move one level down: ENAMETOOLONG" \
	grep -q "File name too long" <<<"$err"
ck "and nothing changed" test -d "lim/$(name 1 255 c)"
ck "a rename that keeps it within the limit" mv lim lin
ck "the bottom under the new name" at_bottom lin test -f "$(name 1 254 z)"
ck "rm -r of the chain" rm -r lin other
require_alive "the deep tree"
cd "$T"

step "cask fs ls, cat and get of the deep tree"
umount_fs || FAILS=$((FAILS + 1))
deep=/$(deep_path $LEVELS)
"$C" fs ls "$DATA" "$deep" >"$T/ls" 2>"$T/err"
ck_eq "cask fs ls by the 10 KB path" 0 "$?"
ck_eq "it lists the bottom" "304:1" \
	"$(wc -l <"$T/ls"):$(grep -c ' sym -> f$' "$T/ls")"
ck_eq "cask fs cat by the 10 KB path" "level $LEVELS" \
	"$("$C" fs cat "$DATA" "$deep/f")"
"$C" fs get "$DATA" / "$T/restored" 2>"$T/err"
ck_eq "cask fs get of the whole tree" 0 "$?"
mount_fs -- -o ro
listing "$MNT" >"$T/want"
umount_fs || FAILS=$((FAILS + 1))
listing "$T/restored" >"$T/got"
ck "the restored tree equals the mount's" diff "$T/want" "$T/got"
ck_eq "nodes compared" $NODES "$(grep -c '|' "$T/want")"
rm -rf "$T/restored"
finish
