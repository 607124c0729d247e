#!/bin/bash
# test_cask_backup.sh - cask backup of a caskfs mount that is being written
# to. A writer rewrites a set of files in rounds (each through a temporary
# file and a rename, so every file always holds one whole version whose
# content is derived from its name and round) and adds a new file each
# round; merges are asked for all along (user.caskfs.merge) on small
# segments. cask backup must find the mount and copy inside the daemon's
# backup window, and close it (a merge is accepted again afterwards). The
# copy must verify (and match the manifest taken of it at backup time),
# mount read-only, hold only versions that were written (no newer than the
# round reached when the backup returned), hold every file that existed
# before the backup started, and give back a file by path with cask fs get.
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"
command -v getfattr >/dev/null || skip "getfattr (attr) is not installed"
C=$CASK_BIN
NFILES=30

# gen NAME ROUND: the content of version ROUND of file NAME.
gen() {
	local n=${1#[fg]}
	echo "$1 $2"
	yes "$1.$2" | head -c $((300 + n * 97))
}

# put NAME ROUND: write that version through the mount, whole or not at all.
put() {
	gen "$1" "$2" >"$MNT/.$1.tmp" && mv "$MNT/.$1.tmp" "$MNT/$1"
}

writer() {
	local r=1 i
	while [ ! -e "$T/stop" ]; do
		echo "$r" >"$T/started.tmp" && mv "$T/started.tmp" "$T/started"
		for i in $(seq 1 $NFILES); do
			put "f$i" "$r"
		done
		put "g$r" "$r" # a new file every round
		r=$((r + 1))
	done
}

merger() {
	while [ ! -e "$T/stop" ]; do
		setfattr -n user.caskfs.merge -v 1 "$MNT" 2>/dev/null
		sleep 0.1
	done
}

merge_idle() {
	getfattr -n user.caskfs.stats --only-values "$MNT" |
		grep -q '^merge_running: no'
}

mount_fs -- -o segment_size=64K
step "round 0, then writers and merges"
for i in $(seq 1 $NFILES); do put "f$i" 0; done
writer &
wpid=$!
merger &
mpid=$!
sleep 2
require_alive "the writes"
ls -A "$MNT" | grep -v '\.tmp$' | sort >"$T/before"
ck "files exist before the backup" test -s "$T/before"

step "cask backup while the mount is written to"
ck "cask backup exits 0" "$C" backup "$DATA" "$T/copy" \
	>"$T/backup.out" 2>"$T/backup.err"
MAXR=$(cat "$T/started")
sed 's/^/     /' "$T/backup.out" "$T/backup.err"
ck "the daemon's backup window was used" \
	grep -qF "caskfs backup window on $MNT" "$T/backup.out"
ck "stderr names the mount" grep -qF "mounted by caskfs on $MNT" \
	"$T/backup.err"
"$C" verify --manifest "$T/copy" >"$T/MANIFEST" 2>"$T/manifest.err"
ck "manifest of the copy at backup time" test -s "$T/MANIFEST"
require_alive "the backup"

step "the window is closed"
kill "$mpid" 2>/dev/null
wait "$mpid"
for _ in $(seq 100); do merge_idle && break; sleep 0.1; done
ck "no backup window left open (closing one is refused)" bash -c \
	"! setfattr -n user.caskfs.backup -v 0 '$MNT' 2>/dev/null"
ck "the daemon accepts a merge again" setfattr -n user.caskfs.merge -v 1 "$MNT"
touch "$T/stop"
wait "$wpid"
ck "merges ran" bash -c \
	"getfattr -n user.caskfs.stats --only-values '$MNT' | grep -q '^merges: [1-9]'"
ck "unmount the live store" umount_fs
echo "     backup returned during round $MAXR"

step "the copy verifies and matches its manifest"
ck "cask verify of the copy" "$C" verify "$T/copy"
ck "cask verify --manifest of the copy" \
	"$C" verify --manifest "$T/MANIFEST" "$T/copy"

step "the copy mounts read-only and holds written versions"
rm -f "$T/copy/LOCK"
CM=$T/copy-mnt
mkdir -p "$CM" "$T/expect"
mount_fs "$T/copy" "$CM" -- -o ro
bad=0
for p in "$CM"/* "$CM"/.[!.]*; do
	[ -e "$p" ] || continue
	name=${p##*/}
	case "$name" in
	.*.tmp) continue ;; # a temporary file caught before its rename
	esac
	read -r first round <"$p" || true
	case "$round" in
	'' | *[!0-9]*)
		echo "     $name: no round in '$first $round'"
		bad=1
		continue
		;;
	esac
	if [ "$first" != "$name" ] || [ "$round" -gt "$MAXR" ]; then
		echo "     $name: holds version '$first $round' (max round $MAXR)"
		bad=1
	fi
	gen "$name" "$round" >"$T/expect/$name"
done
ck_eq "every file parses as name and round <= $MAXR" 0 "$bad"
ck_eq "the copy holds the $NFILES rewritten files" "$NFILES" \
	"$(ls "$T/expect" | grep -c '^f')"
ck "diff -r: every file is a whole written version" \
	diff -r -x '.*.tmp' "$T/expect" "$CM"
missing=$(ls -A "$CM" | sort | comm -23 "$T/before" -)
ck_eq "every file that existed before the backup is in the copy" "" \
	"$missing"
ck "the copy unmounts cleanly" umount_fs "$CM"

step "restore one file by path with cask fs get"
ck "cask fs get /f7" "$C" fs get "$T/copy" /f7 "$T/restored"
ck "restored file equals the copy's version" \
	cmp "$T/expect/f7" "$T/restored"
finish
