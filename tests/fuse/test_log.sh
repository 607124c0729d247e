#!/bin/bash
# test_log.sh - where the daemon's messages go (issue 12): -o log=FILE
# gets them in the foreground (beside stderr) and in the background, from
# the mount to the store's close; in the background without -o log and
# with no syslog daemon on /dev/log they go to DATA_DIR.log, and the start
# says so on the terminal; a -o log whose directory is missing is refused.
. "$(dirname "$0")/common.sh"

step "-o log=FILE in the foreground"
mount_fs -- -o "log=$T/fg.log"
echo hi >"$MNT/f"
ck "umount" umount_fs
ck "FILE has the mount line" has "$T/fg.log" "caskfs\[[0-9]+\]: $DATA mounted on $MNT"
ck "FILE has the close line" has "$T/fg.log" "$MNT unmounted, store closed"
ck "lines are timestamped" has "$T/fg.log" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}'
ck "stderr has it too" has "$T/daemon.log" "^caskfs: $DATA mounted on"

step "-o log=FILE in the background, a relative FILE"
(cd "$T" && "$CASKFS_BIN" "$DATA" "$MNT" -o log=bg.log) >"$T/out.bg" 2>&1
ck_eq "caskfs returns 0 once mounted" 0 "$?"
MOUNTS+=("$MNT")
pid=$(pid_of_store "$DATA")
cat "$MNT/f" >/dev/null
fusermount3 -u "$MNT"
ck "the daemon exits" wait_gone "${pid:-0}"
ck "FILE (relative to where caskfs started) has the mount line" \
	has "$T/bg.log" "caskfs\[$pid\]: $DATA mounted on $MNT"
ck "... and the close line, written after detaching" \
	has "$T/bg.log" "caskfs\[$pid\]: $MNT unmounted, store closed"
ck_eq "nothing on the terminal" "" "$(cat "$T/out.bg")"

step "the background without a syslog daemon"
# bg_nosyslog: a background start with no syslog daemon listening; where
# /dev/log exists, it is hidden (as root, in a mount namespace of its own,
# where the mount is made, used and unmounted).
bg_nosyslog() {
	"$CASKFS_BIN" "$DATA" "$MNT" >"$T/out.nosyslog" 2>&1 || return 1
	pid=$(pid_of_store "$DATA")
	cat "$MNT/f" >/dev/null
	fusermount3 -u "$MNT"
	wait_gone "$pid"
}
export -f bg_nosyslog pid_of_store wait_gone
export CASKFS_BIN DATA MNT T
rm -f "$DATA.log"
ran=1
if [ ! -e /dev/log ]; then
	bg_nosyslog
	ck_eq "started, served and stopped" 0 "$?"
elif [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	unshare -m --propagation private bash -c \
		'mount --bind /dev/null /dev/log && bg_nosyslog'
	ck_eq "started, served and stopped (/dev/log hidden)" 0 "$?"
else
	echo "skip: the background without syslog (/dev/log exists; hiding it needs root and a private mount namespace)"
	ran=0
fi
if [ "$ran" = 1 ]; then
	ck "the start says where messages go" \
		has "$T/out.nosyslog" "no syslog daemon.*messages go to $DATA.log"
	ck "DATA_DIR.log has the mount line" has "$DATA.log" "$DATA mounted on $MNT"
	ck "... and the close line" has "$DATA.log" "$MNT unmounted, store closed"
fi

step "a -o log that cannot be written is refused before anything is made"
"$CASKFS_BIN" "$T/new" "$MNT" -o "log=$T/nodir/x.log" >"$T/out.bad" 2>&1
ck_eq "refused" 1 "$?"
ck "the option is named" has "$T/out.bad" "-o log: '$T/nodir/x.log'"
"$CASKFS_BIN" "$T/new" "$T/nowhere" -o "log=$T/nodir/x.log" >"$T/out.bad2" 2>&1
ck "... also when the mount point is missing" has "$T/out.bad2" "-o log:"
ck "no data directory was made" test ! -e "$T/new"

finish
