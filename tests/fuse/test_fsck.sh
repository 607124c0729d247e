#!/bin/bash
# test_fsck.sh - a copy of the data directory that lost a segment (issue
# 10, finding 4: a cp -a during merges with merge_keep=0). A store of 300
# small files and a large one is merged (the outputs hold the keys in
# order: superblock, root and inode records first, dentries last), then:
#  - copy 1 loses the output holding the superblock and root: cask verify
#    fails, cask fsck exits 4 (does not mount), caskfs -o ro fails; cask
#    fs get --keep-going restores every file it can read and lists the
#    others, writing nothing into the copy; cask fsck --repair makes it
#    mount read-only with every surviving file intact, and then checks
#    clean;
#  - copy 2 loses a later output (inode records of some files, whose
#    entries remain): cask verify fails, cask fsck exits 1 naming the lost
#    files by path, and cask fs get --keep-going restores every other file
#    and lists the lost ones.
. "$(dirname "$0")/common.sh"

command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
command -v getfattr >/dev/null || skip "getfattr (attr) is not installed"
[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not set"

N=300
content() { # content I: what file I holds (inline: at most 512 bytes)
	printf 'file %d\n' "$1"
	head -c 400 /dev/zero | tr '\0' x
}

step "a store of $N small files and a large one, merged"
mount_fs -- -o segment_size=32K,merge_keep=0
mkdir "$MNT/files"
for i in $(seq 1 $N); do
	content "$i" >"$MNT/files/f$i"
done
head -c 300000 /dev/urandom >"$T/big"
cp "$T/big" "$MNT/big"
sync -f "$MNT/big"
setfattr -n user.caskfs.merge -v 1 "$MNT"
for _ in $(seq 100); do
	s=$(getfattr --only-values -n user.caskfs.stats "$MNT")
	case "$s" in *"merge_running: no"*"merges: 1"*) break ;; esac
	sleep 0.1
done
ck "the merge ran" grep -q "merges: 1" <<<"$s"
umount_fs || exit 1

# The merge output holding the superblock, and the one two after it.
outs=$(ls "$DATA"/*.cask | sort)
first=$(grep -l -a 'caskfs' $outs | head -n 1)
third=$(echo "$outs" | awk -v f="$first" '$0 == f { n = NR } n && NR == n + 2')
ck "the superblock's segment is found" test -n "$first"
ck "a later output exists" test -n "$third"

# check_files ROOT: every file under ROOT/files holds its content or is
# missing; prints the number present.
check_files() {
	local root=$1 i bad=0 n=0
	for i in $(seq 1 $N); do
		[ -e "$root/files/f$i" ] || continue
		n=$((n + 1))
		cmp -s "$root/files/f$i" <(content "$i") || {
			echo "  $root/files/f$i differs"
			bad=1
		}
	done
	[ "$bad" -eq 0 ] && echo "$n"
}

# damaged_copy COPY SEGMENT: a copy of the data directory that lost
# SEGMENT (and its hint); cask verify calls it damaged.
damaged_copy() {
	local lose=$1/${2##*/}
	cp -a "$DATA" "$1"
	rm -f "$1/LOCK" "$lose" "${lose%.cask}.hint"
	"$CASK_BIN" verify "$1" >"$1.verify" 2>&1
	ck "cask verify of ${1##*/} fails" test $? -ne 0
}

step "copy 1: lost the superblock and the root"
C1=$T/copy1
damaged_copy "$C1" "$first"
"$CASK_BIN" fsck "$C1" >"$T/fsck1.out" 2>"$T/fsck1.err"
ck_eq "cask fsck says copy 1 does not mount (exit 4)" 4 "$?"
ck "fsck names the lost superblock" grep -q "^fatal: superblock missing" \
	"$T/fsck1.out"
ck "fsck names the root" grep -q "^fatal: /: the root directory's inode" \
	"$T/fsck1.out"
M1=$T/mnt1
mkdir -p "$M1"
timeout 20 "$CASKFS_BIN" "$C1" "$M1" -f -o ro >"$T/mount1.log" 2>&1
rc=$?
is_mounted "$M1" && fusermount3 -u "$M1"
ck "caskfs -o ro refuses copy 1 before the repair" test "$rc" -ne 0 -a \
	"$rc" -ne 124

step "copy 1: cask fs get --keep-going salvages it as it is"
# state DIR: the names, sizes, times and contents of the files of DIR.
state() {
	(cd "$1" && find . -printf '%p %s %T@ %C@ %m\n' | sort && md5sum -- *)
}
before=$(state "$C1")
"$CASK_BIN" fs get --keep-going "$C1" / "$T/out1" >"$T/get1.out" \
	2>"$T/get1.err"
ck_eq "cask fs get --keep-going: files not restored (exit 1)" 1 "$?"
ck_eq "cask fs get writes nothing into the copy" "$before" "$(state "$C1")"
n=$(check_files "$T/out1")
ck "every restored file is intact" test -n "$n"
lost=$(grep -c "^error: /files/f[0-9]*: lost" "$T/fsck1.out")
listed=$(grep -c "^not restored: /files/f" "$T/get1.out")
ck_eq "get lists the files fsck calls lost" "$lost" "$listed"
ck_eq "restored + listed = all" "$N" "$((n + listed))"
echo "  $n restored, $listed listed"
ck "the large file is restored" cmp -s "$T/out1/big" "$T/big"

"$CASK_BIN" fsck --repair "$C1" >"$T/repair1.out" 2>&1
ck_eq "cask fsck --repair: repaired, mounts (exit 1)" 1 "$?"
ck "the repair says what it does" grep -q "\[--repair: write a new one" \
	"$T/repair1.out"
"$CASK_BIN" fsck "$C1" >"$T/fsck1b.out" 2>&1
ck_eq "copy 1 checks clean after the repair" 0 "$?"
cat "$T/fsck1b.out"
mount_fs "$C1" "$M1" -- -o ro
n=$(check_files "$M1")
ck "every surviving file of copy 1 is intact" test -n "$n"
echo "  $n of $N small files survive"
ck "the large file is intact" cmp -s "$M1/big" "$T/big"
umount_fs "$M1" || t_fail "unmounting copy 1"

step "copy 2: lost the inode records of some files"
C2=$T/copy2
damaged_copy "$C2" "$third"
"$CASK_BIN" fsck "$C2" >"$T/fsck2.out" 2>&1
ck_eq "cask fsck: copy 2 is damaged but mounts (exit 1)" 1 "$?"
lost=$(grep -c "^error: /files/f[0-9]*: lost" "$T/fsck2.out")
ck "fsck names lost files by path" test "$lost" -gt 0
echo "  $lost files lost"
"$CASK_BIN" fs get --keep-going "$C2" / "$T/out" >"$T/get.out" \
	2>"$T/get.err"
ck_eq "cask fs get --keep-going: files not restored (exit 1)" 1 "$?"
n=$(check_files "$T/out")
ck "every restored file is intact" test -n "$n"
listed=$(grep -c "^not restored: /files/f" "$T/get.out")
ck_eq "get lists the files it could not restore" "$lost" "$listed"
ck_eq "restored + listed = all" "$N" "$((n + listed))"
ck "the large file is restored" cmp -s "$T/out/big" "$T/big"

finish
