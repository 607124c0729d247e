#!/bin/bash
# test_cask_fs_put.sh - cask fs put (a local tree into the caskfs of an
# unmounted store) and cask fs get (back out) keep what cp -a keeps: file
# contents, modes (set-id bits too), owners (run as root), mtimes of files,
# directories and symlinks, symlinks, hard links (put), FIFOs, device
# nodes (as root), extended attributes; checked through a mount and after
# a get. fs put replaces nothing and refuses a mounted store in one line;
# fs get into a directory that does not exist says so (exit 2); fs ls
# shows UTF-8 names as they are and owners by name.
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
for t in getfattr setfattr; do
	command -v "$t" >/dev/null || skip "$t is not installed (package attr)"
done
C=$CASK_BIN
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

# listing DIR: one line per entry (type, mode, owners unless not root,
# links, mtime in ns, symlink target; the size of regular files), sorted.
listing() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %n %T@ %l\n' |
		sort) >"$T/list.tmp"
	if [ "$ROOT" = 1 ]; then
		(cd "$1" && find . -mindepth 1 -printf '%P %U:%G\n' | sort)
	fi
	(cd "$1" && find . -type f -printf '%P %s\n' | sort)
	cat "$T/list.tmp"
}

# xattrs DIR: the user.* extended attributes of every entry but symlinks.
xattrs() {
	(cd "$1" && find . -mindepth 1 ! -type l -print0 | sort -z |
		xargs -0 getfattr -h -d -m '^user\.' 2>/dev/null)
}

# contents DIR: a checksum of every regular file.
contents() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

SRC=$T/src
mkdir -p "$SRC/d1/d2" "$SRC/empty"
head -c 300000 /dev/urandom >"$SRC/d1/big"
echo small >"$SRC/small"
: >"$SRC/d1/d2/zero"
echo grüße >"$SRC/grüße.txt"
ln "$SRC/small" "$SRC/d1/small.hard"
ln -s ../small "$SRC/d1/link"
mkfifo "$SRC/fifo"
chmod 4750 "$SRC/d1/big"
chmod 2775 "$SRC/d1"
chmod 600 "$SRC/small"
setfattr -n user.color -v blue "$SRC/small"
setfattr -n user.empty "$SRC/d1/d2"
if [ "$ROOT" = 1 ]; then
	mknod "$SRC/null" c 1 3
	chown 1234:5678 "$SRC/d1/d2/zero"
	chown -h 4321:4321 "$SRC/d1/link"
fi
touch -h -d '2001-02-03 04:05:06.123456789' "$SRC/d1/link"
touch -d '2002-03-04 05:06:07.5' "$SRC/small" "$SRC/d1/d2" "$SRC/empty"
touch -d '2003-01-01' "$SRC/d1" "$SRC"
listing "$SRC" >"$T/src.list"
xattrs "$SRC" >"$T/src.xattrs"
contents "$SRC" >"$T/src.sums"

step "fs put into a new store"
mount_fs
umount_fs || FAILS=$((FAILS + 1))
"$C" fs put "$DATA" "$SRC" /tree >"$T/out" 2>"$T/err"
ck_eq "fs put exits 0" 0 "$?"
ck "fs put says nothing" test ! -s "$T/err"

step "what the mount shows"
mount_fs
listing "$MNT/tree" >"$T/mnt.list"
ck "modes, owners, links, times and targets kept" diff "$T/src.list" "$T/mnt.list"
xattrs "$MNT/tree" >"$T/mnt.xattrs"
ck "extended attributes kept" diff "$T/src.xattrs" "$T/mnt.xattrs"
contents "$MNT/tree" >"$T/mnt.sums"
ck "contents kept" diff "$T/src.sums" "$T/mnt.sums"
ck_eq "hard links kept: one inode" "$(stat -c %i "$MNT/tree/small")" \
	"$(stat -c %i "$MNT/tree/d1/small.hard")"
"$C" fs put "$DATA" "$SRC/small" /other >"$T/out" 2>"$T/err"
ck_eq "fs put while mounted: exit 3" 3 "$?"
ck "the refusal names the mount, in one line" \
	test "$(grep -c "mounted by caskfs on $MNT" "$T/err")" = 1 -a \
	"$(wc -l <"$T/err")" = 1
umount_fs || FAILS=$((FAILS + 1))

step "fs put replaces nothing"
"$C" fs put "$DATA" "$SRC/small" /tree/small >"$T/out" 2>"$T/err"
ck_eq "an existing file: exit 3" 3 "$?"
ck "the message names the file and says it exists" \
	grep -q "small: exists in the store" "$T/err"
"$C" fs put "$DATA" "$SRC/small" /nodir/small >"$T/out" 2>"$T/err"
ck_eq "a missing directory: exit 1" 1 "$?"
ck "the message says the directory is not in the store" \
	grep -q "/nodir/small: its directory is not in the store" "$T/err"
"$C" fs put "$DATA" "$SRC/small" /tree/d1 >/dev/null 2>&1
ck_eq "into an existing directory: exit 0" 0 "$?"
ck "put as SRC's name in it" bash -c '"$0" fs cat "$1" /tree/d1/small | grep -q small' \
	"$C" "$DATA"

step "fs get keeps it all"
"$C" fs get "$DATA" /tree "$T/got" >"$T/out" 2>"$T/err"
ck_eq "fs get exits 0" 0 "$?"
rm -f "$T/got/d1/small" # the one put into /tree/d1 above
# Hard links come out as separate files (docs/cask.1).
listing "$SRC" | sed 's/^\(small\|d1\/small.hard\) f \([0-7]*\) 2 /\1 f \2 1 /' \
	>"$T/want.list"
listing "$T/got" >"$T/got.list"
sed -i '/^d1 d /d' "$T/want.list" "$T/got.list" # d1's mtime changed above
ck "modes, owners, times, symlinks, FIFOs and devices kept" \
	diff "$T/want.list" "$T/got.list"
xattrs "$T/got" >"$T/got.xattrs"
ck "extended attributes kept" diff "$T/src.xattrs" "$T/got.xattrs"
contents "$T/got" >"$T/got.sums"
ck "contents kept" diff "$T/src.sums" "$T/got.sums"

step "fs get into a directory that does not exist"
"$C" fs get "$DATA" /tree/small "$T/missing/dir/small" >"$T/out" 2>"$T/err"
ck_eq "exit 2" 2 "$?"
ck "the message names the directory and says it does not exist" \
	grep -q "$T/missing/dir: no such directory" "$T/err"
ck "one line" test "$(wc -l <"$T/err")" = 1

step "fs ls: UTF-8 names and owners"
"$C" fs ls "$DATA" /tree >"$T/ls" 2>"$T/err"
ck "a UTF-8 name as it is" grep -q ' grüße.txt$' "$T/ls"
ck "owners by name" grep -q '^-rw------- *2 root *root ' "$T/ls"
if [ "$ROOT" = 1 ]; then
	"$C" fs ls "$DATA" /tree/d1/d2 >"$T/ls"
	ck "an owner this system does not know, by number" \
		grep -q ' 1234 *5678 .* zero$' "$T/ls"
	"$C" fs ls "$DATA" /tree/null >"$T/ls"
	ck "a device node's numbers where the size goes" \
		grep -q '^crw-r--r-- .* 1, 3 .* /tree/null$' "$T/ls"
fi

finish
