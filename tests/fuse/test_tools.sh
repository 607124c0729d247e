#!/bin/bash
# test_tools.sh - real programs on a caskfs mount: cp -a in and out with
# diff -r, tar c/x, rsync -a (temp file + rename), an editor-style save
# (temp, fsync, rename over), sqlite3, and concurrent writers.
. "$(dirname "$0")/common.sh"

# A source tree with files of several sizes, links and modes.
SRC=$T/src
mkdir -p "$SRC/d1/d2/d3" "$SRC/empty"
for i in $(seq 1 40); do
	head -c $((i * 997)) /dev/urandom >"$SRC/d1/f$i"
done
head -c 3000000 /dev/urandom >"$SRC/d1/d2/large"
echo "small text" >"$SRC/d1/d2/d3/note.txt"
chmod 600 "$SRC/d1/f1"
chmod 755 "$SRC/d1/f2"
chmod 640 "$SRC/d1/f5"
chmod 750 "$SRC/d1/d2"
ln -s d1/d2/large "$SRC/link"
ln "$SRC/d1/f3" "$SRC/d1/f3.hard"
touch -d '2010-01-01 12:00' "$SRC/d1/f4"

mount_fs
cd "$MNT" || exit 1

step "cp -a in and out"
cp -a "$SRC" "$MNT/cpin"
ck "diff -r source vs mount" diff -r "$SRC" "$MNT/cpin"
# cp creates files 0600 and directories 0700, then sets the modes (through
# the ACL xattr, falling back to chmod): 0600 alone would prove nothing.
ck_eq "mode kept" 600 "$(stat -c %a cpin/d1/f1)"
ck_eq "mode 755 kept" 755 "$(stat -c %a cpin/d1/f2)"
ck_eq "mode 640 kept" 640 "$(stat -c %a cpin/d1/f5)"
ck_eq "directory mode 750 kept" 750 "$(stat -c %a cpin/d1/d2)"
ck_eq "mtime kept" "$(stat -c %Y "$SRC/d1/f4")" "$(stat -c %Y cpin/d1/f4)"
ck_eq "hard link kept" "$(stat -c %i cpin/d1/f3)" "$(stat -c %i cpin/d1/f3.hard)"
ck_eq "symlink kept" d1/d2/large "$(readlink cpin/link)"
cp -a "$MNT/cpin" "$T/cpout"
ck "diff -r mount vs copy out" diff -r "$SRC" "$T/cpout"

step "tar c / tar x"
tar -C "$SRC" -cf "$T/src.tar" .
mkdir tarx
tar -C tarx -xf "$T/src.tar"
ck "tar x into the mount" diff -r "$SRC" tarx
tar -C tarx -cf "$T/back.tar" .
mkdir "$T/tarback"
tar -C "$T/tarback" -xf "$T/back.tar"
ck "tar c from the mount" diff -r "$SRC" "$T/tarback"

step "rsync -a"
rsync -a "$SRC/" rs/
ck "rsync -a into the mount" diff -r "$SRC" rs
echo changed >>"$SRC/d1/f5"
rsync -a "$SRC/" rs/
ck "rsync -a of a changed file (temp + rename)" cmp "$SRC/d1/f5" rs/d1/f5
ck "no rsync temp files left" test -z "$(find rs -name '.*.??????')"

step "editor-style save"
printf 'version 1\n' >conf.txt
ino1=$(stat -c %i conf.txt)
python3 - "$MNT/conf.txt" <<'EOF'
import os, sys
path = sys.argv[1]
tmp = os.path.join(os.path.dirname(path), ".conf.txt.swp")
with open(tmp, "w") as f:
    f.write("version 2\n")
    f.flush()
    os.fsync(f.fileno())
os.rename(tmp, path)
d = os.open(os.path.dirname(path), os.O_RDONLY)
os.fsync(d)
os.close(d)
EOF
ck_eq "saved content" "version 2" "$(cat conf.txt)"
ck "new inode after save" test "$(stat -c %i conf.txt)" -ne "$ino1"
ck "swap file gone" test ! -e .conf.txt.swp

step "sqlite3"
if command -v sqlite3 >/dev/null; then
	{
		echo "create table t(id integer primary key, v text);"
		echo "begin;"
		for i in $(seq 1 1000); do
			echo "insert into t(v) values('row $i');"
		done
		echo "commit;"
	} | sqlite3 db.sqlite
	ck_eq "1000 rows" 1000 "$(sqlite3 db.sqlite 'select count(*) from t;')"
	ck_eq "row 500" "row 500" \
		"$(sqlite3 db.sqlite 'select v from t where id = 500;')"
	sqlite3 db.sqlite "pragma journal_mode=wal;" >/dev/null
	sqlite3 db.sqlite "update t set v = 'x' || v where id % 2 = 0;"
	ck_eq "integrity_check" ok "$(sqlite3 db.sqlite 'pragma integrity_check;')"
	ck_eq "update through WAL" "xrow 2" \
		"$(sqlite3 db.sqlite 'select v from t where id = 2;')"
else
	echo "skip: sqlite3 is not installed"
fi

step "concurrent writers"
pids=()
for w in 1 2 3 4 5 6; do
	(
		mkdir -p "conc/w$w"
		for i in $(seq 1 60); do
			printf 'writer %d file %d\n' "$w" "$i" >"conc/w$w/f$i"
			[ $((i % 10)) -eq 0 ] && mv "conc/w$w/f$i" "conc/w$w/r$i"
		done
	) &
	pids+=($!)
done
(
	# A reader listing and reading meanwhile.
	for _ in $(seq 1 20); do
		find conc -type f -exec cat {} + >/dev/null 2>&1
	done
) &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
bad=0
for w in 1 2 3 4 5 6; do
	for i in $(seq 1 60); do
		n=f$i
		[ $((i % 10)) -eq 0 ] && n=r$i
		[ "$(cat "conc/w$w/$n")" = "writer $w file $i" ] || bad=$((bad + 1))
	done
done
ck_eq "360 files by 6 writers intact" 0 "$bad"
ck_eq "file count" 360 "$(find conc -type f | wc -l)"

step "large sequential write and read"
dd if=/dev/urandom of="$T/rand" bs=1M count=24 status=none
dd if="$T/rand" of=seq bs=1M conv=fsync status=none
ck "24 MiB file equal" cmp "$T/rand" seq
dd if="$T/rand" of=seq bs=4k seek=1000 count=10 conv=notrunc status=none
dd if="$T/rand" of="$T/rand2" bs=1M status=none
dd if="$T/rand" of="$T/rand2" bs=4k seek=1000 count=10 conv=notrunc status=none
ck "overwrite in the middle" cmp "$T/rand2" seq

cd / && umount_fs || FAILS=$((FAILS + 1))
step "everything still there after remount"
mount_fs
ck "cp -a tree after remount" diff -r "$SRC" "$MNT/rs"
ck "24 MiB file after remount" cmp "$T/rand2" "$MNT/seq"
if command -v sqlite3 >/dev/null; then
	ck_eq "sqlite after remount" ok \
		"$(sqlite3 "$MNT/db.sqlite" 'pragma integrity_check;')"
fi
cd / && umount_fs || FAILS=$((FAILS + 1))
finish
