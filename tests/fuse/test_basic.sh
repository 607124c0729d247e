#!/bin/bash
# test_basic.sh - everyday file operations on a real caskfs mount with
# shell tools: write/append/read, mkdir -p, ls -l, stat, touch -d,
# chmod/chown, hard and symbolic links, mv, rm -rf, mkfifo, find, du, df,
# a file unlinked while open, and persistence (content, st_ino) across an
# unmount and remount.
. "$(dirname "$0")/common.sh"

mount_fs
cd "$MNT" || exit 1

step "write, append, read"
echo hello >f
echo world >>f
ck_eq "cat after append" "$(printf 'hello\nworld')" "$(cat f)"
printf 'abc' >g
ck_eq "size of a 3-byte file" 3 "$(stat -c %s g)"
: >g
ck_eq "truncate by redirection" 0 "$(stat -c %s g)"
head -c 300000 /dev/urandom >big
ck_eq "300 KB file reads back" "$(head -c 300000 big | md5sum)" "$(md5sum <big)"
truncate -s 100 big
ck_eq "truncate to 100" 100 "$(stat -c %s big)"
truncate -s 1M sparse
ck_eq "sparse file reads zeros" "$(head -c 1M /dev/zero | md5sum)" \
	"$(md5sum <sparse)"

step "directories"
mkdir -p a/b/c/d
ck "mkdir -p made a/b/c/d" test -d a/b/c/d
ck_eq "nlink of a dir with one subdir" 3 "$(stat -c %h a/b)"
ck_eq "nlink of an empty dir" 2 "$(stat -c %h a/b/c/d)"
ck "rmdir of a non-empty dir fails" bash -c '! rmdir a/b 2>/dev/null'

step "listings the kernel keeps (FOPEN_CACHE_DIR) follow every change"
mkdir many && (cd many && seq -f 'f%04g' 1500 | xargs touch)
ck_eq "a listing of 1500 names" 1500 "$(ls many | wc -l)"
ck_eq "the same listing again" 1500 "$(ls many | wc -l)"
touch many/new
ck_eq "a created name is listed" 1 "$(ls many | grep -c '^new$')"
rm many/f0001
ck_eq "an unlinked name is not" 0 "$(ls many | grep -c '^f0001$')"
mv many/f0002 many/zz
ck_eq "a renamed name is listed under its new name" "1 0" \
	"$(ls many | grep -c '^zz$') $(ls many | grep -c '^f0002$')"
ck_eq "a second handle resumes where the kept listing ends" 1500 \
	"$(find many -type f | wc -l)"
rm -r many
ck_eq "ls -l lists a, big, f, g, sparse" "a big f g sparse" \
	"$(ls -l | awk 'NR > 1 { print $NF }' | xargs)"
for i in $(seq 1 300); do : >"a/n$i"; done
ck_eq "300 names listed once each" 300 "$(ls a | grep -c '^n')"
ck_eq "ls -f of 300 (no repeats)" 300 "$(ls -f a | grep '^n' | sort -u | wc -l)"

step "stat, touch -d, chmod, chown"
touch -d '2001-02-03 04:05:06.123456789' f
ck_eq "mtime set by touch -d (ns)" "2001-02-03 04:05:06.123456789" \
	"$(stat -c %y f | cut -c1-29)"
chmod 640 f
ck_eq "chmod 640" 640 "$(stat -c %a f)"
chmod u+s,g+s f
ck_eq "chmod u+s,g+s" 6640 "$(stat -c %a f)"
chown 1234:5678 f
ck_eq "chown 1234:5678" "1234:5678" "$(stat -c %u:%g f)"
# What the native filesystem under $T does is what we expect.
: >"$T/native" && chmod 6640 "$T/native" && chown 1234:5678 "$T/native"
ck_eq "chown cleared suid as natively" "$(stat -c %a "$T/native")" \
	"$(stat -c %a f)"
chmod 6750 f && chown 0:0 f
: >"$T/native" && chmod 6750 "$T/native" && chown 0:0 "$T/native"
ck_eq "chown of a group-executable file as natively" \
	"$(stat -c %a "$T/native")" "$(stat -c %a f)"
chmod 640 f
ck "ctime is recent" test "$(($(date +%s) - $(stat -c %Z f)))" -lt 60

step "links"
ln f hard
ck_eq "nlink after ln" 2 "$(stat -c %h f)"
ck_eq "same inode" "$(stat -c %i f)" "$(stat -c %i hard)"
ln -s f soft
ck_eq "readlink" f "$(readlink soft)"
ck_eq "read through symlink" "$(cat f)" "$(cat soft)"
ln -s /nonexistent/target dangling
ck_eq "dangling symlink target" /nonexistent/target "$(readlink dangling)"
rm hard
ck_eq "nlink after rm of one link" 1 "$(stat -c %h f)"
ln f hard2
mv hard2 a/
ck_eq "nlink after mv of a link" 2 "$(stat -c %h f)"
rm a/hard2

step "mv"
mv g g2
ck "mv renames" test -e g2 -a ! -e g
mkdir -p m/x/y && echo deep >m/x/y/z
ino=$(stat -c %i m/x/y/z)
mv m m2
ck_eq "mv of a tree keeps content" deep "$(cat m2/x/y/z)"
ck_eq "mv of a tree keeps st_ino" "$ino" "$(stat -c %i m2/x/y/z)"
ck "old tree is gone" test ! -e m
echo new >g3
mv -f g3 g2
ck_eq "mv over an existing file" new "$(cat g2)"
ck "mv of a dir into itself fails" bash -c '! mv m2 m2/x/ 2>/dev/null'

step "mkfifo"
mkfifo fifo
ck "mkfifo makes a FIFO" test -p fifo
(echo through-fifo >fifo) &
writer=$!
ck_eq "data through the FIFO" through-fifo "$(timeout 10 cat fifo)"
wait "$writer"

step "find, du, df"
ck_eq "find -type f count" "$(find . -type f | wc -l)" \
	"$(find . -type f -printf x | wc -c)"
ck "find -name finds z" test "$(find . -name z)" = ./m2/x/y/z
ck "du -s works" du -s . >/dev/null
ck "du counts the 300 KB written as blocks" test "$(du -k sparse big f | wc -l)" -eq 3
df_line=$(df -k "$MNT" | tail -n 1)
echo "   df: $df_line"
ck "df shows a non-zero size" test "$(echo "$df_line" | awk '{ print $2 }')" -gt 0
ck "df -i shows inodes" test "$(df -i "$MNT" | tail -n 1 | awk '{ print $3 }')" -gt 0

step "unlinked while open"
echo before >open1
exec 3<>open1
rm open1
ck "name is gone" test ! -e open1
read -r line <&3
ck_eq "read through the fd after unlink" before "$line"
echo after >&3
ck_eq "nlink of the open, unlinked file" 0 "$(stat -L -c %h /proc/self/fd/3)"
ck_eq "reopen through /proc reads both writes" "$(printf 'before\nafter')" \
	"$(cat /proc/self/fd/3)"
ck "no .fuse_hidden files" test -z "$(ls -A | grep fuse_hidden)"
exec 3>&-

step "rm -rf"
rm -rf a
ck "rm -rf removed the tree" test ! -e a

step "persistence across remount"
echo persistent >p
mkdir -p keep/sub && echo x >keep/sub/y
ln -s p keep/link
sum_before=$(find . \( -type f -o -type l \) -printf '%p %i %s %m\n' | sort | md5sum)
ino_p=$(stat -c %i p)
cd / && umount_fs || FAILS=$((FAILS + 1))
mount_fs
cd "$MNT" || exit 1
ck_eq "content after remount" persistent "$(cat p)"
ck_eq "st_ino after remount" "$ino_p" "$(stat -c %i p)"
ck_eq "names, inodes, sizes, modes after remount" "$sum_before" \
	"$(find . \( -type f -o -type l \) -printf '%p %i %s %m\n' | sort | md5sum)"
ck_eq "symlink after remount" p "$(readlink keep/link)"
echo n >newfile
ck "a new inode number is not reused" test "$(stat -c %i newfile)" -ne "$ino_p"

cd / && umount_fs || FAILS=$((FAILS + 1))
finish
