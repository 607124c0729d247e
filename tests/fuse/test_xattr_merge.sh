#!/bin/bash
# test_xattr_merge.sh - extended attributes with setfattr/getfattr
# (user.*), the store's figures in user.caskfs.stats, and merges started
# by setfattr user.caskfs.merge and by SIGUSR1 while files are read and
# written; everything stays readable during and after the merge, and after
# a remount.
. "$(dirname "$0")/common.sh"
command -v setfattr >/dev/null && command -v getfattr >/dev/null ||
	skip "setfattr/getfattr (package attr) not installed"

running() { # a merge is running
	case "$(stat_of merge_running)" in
	0 | no | false) return 1 ;;
	esac
	return 0
}

# Small segments so that overwrites leave whole segments of garbage.
mount_fs -- -o segment_size=1M
cd "$MNT" || exit 1

step "user.* attributes"
echo data >x
setfattr -n user.color -v blue x
setfattr -n user.empty x
ck_eq "getfattr user.color" blue "$(getfattr --absolute-names --only-values -n user.color x)"
ck "getfattr -d lists both" test "$(getfattr -d x | grep -c '^user\.')" -eq 2
setfattr -n user.color -v green x
ck_eq "replaced value" green "$(getfattr --absolute-names --only-values -n user.color x)"
head -c 3000 /dev/urandom | base64 -w0 >"$T/val"
setfattr -n user.big -v "$(cat "$T/val")" x
ck_eq "3 KB value" "$(cat "$T/val")" "$(getfattr --absolute-names --only-values -n user.big x)"
setfattr -x user.color x
ck "removed attribute is gone" bash -c '! getfattr -n user.color x 2>/dev/null'
ck "missing attribute: ENODATA" bash -c \
	'getfattr -n user.nope x 2>&1 | grep -q "No such attribute"'
mkdir dir && setfattr -n user.d -v 1 dir
ck_eq "xattr on a directory" 1 "$(getfattr --absolute-names --only-values -n user.d dir)"

step "user.caskfs.stats"
getfattr --absolute-names --only-values -n user.caskfs.stats "$MNT" | sed 's/^/   /'
ck "stats has keys" test -n "$(stat_of keys)"
ck "stats has segments" test -n "$(stat_of segments)"
ck "stats has merge_running" test -n "$(stat_of merge_running)"

step "garbage: overwrite files in 1 MiB segments"
mkdir -p keep
for i in $(seq 1 30); do
	head -c $((i * 3001)) /dev/urandom >"keep/k$i"
done
(cd keep && md5sum k* >"$T/keep.md5")
for round in 1 2 3 4 5 6; do
	head -c 2M /dev/urandom >churn
done
require_alive "writing 12 MiB of garbage"
merges0=$(stat_of merges)
echo "   before: segments=$(stat_of segments) dead_bytes=$(stat_of dead_bytes) merges=$merges0"

step "merge by setfattr while reading and writing"
ck "setfattr user.caskfs.merge" setfattr -n user.caskfs.merge -v 1 "$MNT"
bad=0
for i in $(seq 1 20); do
	(cd keep && md5sum -c --quiet "$T/keep.md5" >/dev/null 2>&1) || bad=$((bad + 1))
	echo "during $i" >"during$i"
done
require_alive "a merge"
ck_eq "files readable during the merge" 0 "$bad"
for i in $(seq 1 100); do
	! running && [ "$(stat_of merges)" != "$merges0" ] && break
	sleep 0.1
done
merges1=$(stat_of merges)
echo "   after: segments=$(stat_of segments) dead_bytes=$(stat_of dead_bytes) merges=$merges1"
ck "merge count went up" test "${merges1:-0}" -gt "${merges0:-0}"
ck "files intact after the merge" bash -c "cd keep && md5sum -c --quiet '$T/keep.md5' >/dev/null 2>&1"
ck_eq "file written during the merge" "during 7" "$(cat during7)"
ck_eq "xattr after the merge" "$(cat "$T/val")" "$(getfattr --absolute-names --only-values -n user.big x)"

step "merge by SIGUSR1"
for round in 1 2 3 4; do
	head -c 2M /dev/urandom >churn
done
kill -USR1 "$DAEMON_PID"
for i in $(seq 1 100); do
	! running && [ "$(stat_of merges)" != "$merges1" ] && break
	sleep 0.1
done
ck "SIGUSR1 started a merge" test "$(stat_of merges)" -gt "${merges1:-0}"
ck "daemon still running after SIGUSR1" kill -0 "$DAEMON_PID"
ck "files intact" bash -c "cd keep && md5sum -c --quiet '$T/keep.md5' >/dev/null 2>&1"

step "after remount"
cd / && umount_fs || FAILS=$((FAILS + 1))
mount_fs
ck "files intact after remount" bash -c "cd '$MNT/keep' && md5sum -c --quiet '$T/keep.md5' >/dev/null 2>&1"
ck_eq "xattr after remount" green-gone "$(getfattr --absolute-names --only-values -n user.color "$MNT/x" 2>/dev/null || echo green-gone)"
ck_eq "big xattr after remount" "$(cat "$T/val")" "$(getfattr --absolute-names --only-values -n user.big "$MNT/x")"
cd / && umount_fs || FAILS=$((FAILS + 1))
finish
