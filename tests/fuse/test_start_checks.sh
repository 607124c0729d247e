#!/bin/bash
# test_start_checks.sh - caskfs refuses to start where a mount tool should,
# with a message that says what was found, and a refused start leaves the
# disk as it was: a data directory holding a user's files, swapped
# arguments (the "data dir" is a caskfs mount, the "mount point" holds a
# store; a data directory on another FUSE filesystem's root is fine), a
# data directory inside the mount point (through .., a symlink, a missing
# directory), a mount point that is not empty (unless -o nonempty) or
# already has a FUSE mount, a missing parent of the data directory, a bad
# option (also with a bad mount point), a mount that fails after a new
# store was made, a store that cannot be made in the directory just
# created, two starts racing to make one store. Then a remount right
# after fusermount3 -u, and a store whose lock is held for a moment: the
# daemon waits for it.
. "$(dirname "$0")/common.sh"

# snapshot: every path under T but the daemon's log and our own notes.
snapshot() {
	find "$T" -mindepth 1 \( -name daemon.log -o -name 'out.*' -o \
		-name 'snap.*' \) -prune -o -print | sort
}

# our_mounts: the mount points under T (other tests may be mounting
# elsewhere on this machine: never touch theirs).
our_mounts() {
	awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort
}

# refused DESC REGEX ARGS...: caskfs ARGS (detaching) fails, says REGEX
# (grep -E) and creates, removes or mounts nothing.
N=0
refused() {
	local desc=$1 re=$2 rc m
	shift 2
	N=$((N + 1))
	snapshot >"$T/snap.$N"
	our_mounts >"$T/snap.mounts"
	"$CASKFS_BIN" "$@" >"$T/out.$N" 2>&1
	rc=$?
	# A start that succeeded has mounted one of its arguments (maybe on
	# top of a mount that was there): undo it before looking.
	our_mounts | comm -13 "$T/snap.mounts" - | while IFS= read -r m; do
		fusermount3 -u "$m" || fusermount3 -u -z "$m"
		sleep 0.5
	done
	if [ "$rc" -eq 0 ]; then
		t_fail "$desc: caskfs $* started"
	elif ! grep -Eq "$re" "$T/out.$N"; then
		t_fail "$desc: the message does not say /$re/:"
		sed 's/^/    /' "$T/out.$N"
	elif ! snapshot | cmp -s - "$T/snap.$N"; then
		t_fail "$desc: the refused start changed the disk:"
		snapshot | diff "$T/snap.$N" - | sed 's/^/    /'
	else
		t_ok "$desc"
		sed 's/^/    /' "$T/out.$N"
	fi
}

# A store with a file in it, unmounted.
STORE_DIR=$T/store
mount_fs "$STORE_DIR" "$MNT"
echo kept >"$MNT/kept"
umount_fs || exit 1

step "a data directory holding a user's files"
mkdir -p "$T/home/docs"
echo note >"$T/home/notes.txt"
printf 'hi' >"$T/home/0000000001.cask"
refused "a directory of user files" "notes.txt" "$T/home" "$MNT"
ck_eq "the user's 0000000001.cask is kept" hi "$(cat "$T/home/0000000001.cask")"

step "swapped arguments"
mkdir -p "$T/empty"
refused "the mount point holds a store (the data directory missing)" \
	"holds a store.*DATA_DIR MOUNTPOINT" "$T/new" "$STORE_DIR"
refused "the mount point holds a store (the data directory empty)" \
	"holds a store.*DATA_DIR MOUNTPOINT" "$T/empty" "$STORE_DIR"
refused "... also with -o nonempty" "holds a store" "$T/empty" \
	"$STORE_DIR" -o nonempty
mount_fs "$STORE_DIR" "$MNT"
refused "the data directory is a caskfs mount" \
	"is a caskfs mount.*DATA_DIR MOUNTPOINT" "$MNT" "$T/empty"
refused "the data directory is a caskfs mount, the mount point missing" \
	"is a caskfs mount" "$MNT" "$T/nowhere"

step "a data directory inside the mount point, spelt another way"
mkdir -p "$T/other" "$T/m"
ln -s m "$T/mlink"
(cd "$T/other" && refused "through .. (the data directory missing)" \
	"must not be inside" ../m/store "$T/m")
refused "through a symlinked parent" "must not be inside" \
	"$T/mlink/store" "$T/m"
refused "through a missing directory and .." "must not be inside" \
	"$T/gone/../m/store" "$T/m"

step "a mount point that already has a FUSE mount"
refused "a second caskfs on a mount point in use" \
	"already has a FUSE mount" "$T/new" "$MNT"
ck_eq "the first mount still serves its store" kept "$(cat "$MNT/kept")"
umount_fs || exit 1

step "a mount point that is not empty"
mkdir -p "$T/full"
echo mine >"$T/full/mine"
refused "a mount point holding a file" "not empty.*nonempty" \
	"$T/new" "$T/full"
mount_fs "$T/new" "$T/full" -- -o nonempty
ck "-o nonempty mounts over it" is_served "$T/full"
ck "umount" umount_fs "$T/full"
ck_eq "the file under the mount is still there" mine "$(cat "$T/full/mine")"

step "a data directory that is the root of another FUSE filesystem"
# A store on an sshfs or ntfs-3g root is legitimate: only a caskfs mount
# as the data directory means swapped arguments.
if command -v bindfs >/dev/null && mkdir -p "$T/under" "$T/bound" \
	"$T/bmnt" && bindfs "$T/under" "$T/bound"; then
	MOUNTS+=("$T/bound")
	mount_fs "$T/bound" "$T/bmnt"
	echo stored >"$T/bmnt/f"
	ck "umount" umount_fs "$T/bmnt"
	ck "the store is in the bindfs's directory" test -f "$T/under/STORE"
	fusermount3 -u "$T/bound"
else
	echo "skip: a store on a bindfs root (no bindfs)"
fi

step "the data directory's parent is missing"
refused "a missing parent is named" "$T/a does not exist" \
	"$T/a/b/data" "$MNT"
refused "... with -o ro, which creates nothing" "data does not exist" \
	"$T/a/b/data" "$MNT" -o ro
echo x >"$T/plain"
refused "a data directory that is a file" "not a directory" "$T/plain" "$MNT"

step "every option is checked before anything is created"
refused "an option unknown to caskfs and libfuse" "bogus" \
	"$T/fresh" "$MNT" -o bogus
refused "a bad option is named when the mount point is missing too" \
	"bogus" "$T/fresh" "$T/nowhere" -o bogus
refused "a bad caskfs value, the mount point missing" "sync" \
	"$T/fresh" "$T/nowhere" -o sync=sometimes
refused "max_threads=0" "max_threads" "$T/fresh" "$MNT" -o max_threads=0
# Only the kernel can refuse this one, after the new store was made.
if [ "$(id -u)" = 0 ] && [ ! -d /sys/fs/selinux ]; then
	refused "a mount the kernel refuses (context= without SELinux)" \
		"cannot mount" "$T/made" "$MNT" -o context=system_u:object_r:tmp_t:s0
	# The store cannot be made (no inode left after the directory's):
	# the directory this start made goes too.
	mkdir -p "$T/tiny"
	if mount -t tmpfs -o size=1M,nr_inodes=2 caskfs-tiny "$T/tiny"; then
		RESTORE+=("umount '$T/tiny' 2>/dev/null || umount -l '$T/tiny' || :")
		refused "a store that cannot be made (ENOSPC)" \
			"No space left" "$T/tiny/new" "$MNT"
		umount "$T/tiny"
	fi
	# Two starts on one missing directory: B looks (and finds nothing),
	# A creates the store and serves a write, then B opens A's store and
	# its mount fails: B's undo must leave A's store alone.
	CC=${CC:-cc}
	if command -v "$CC" >/dev/null && "$CC" -O2 -Wall -shared -fPIC \
		-o "$T/slow_open.so" "$(dirname "$0")/slow_open.c" -ldl; then
		mkdir -p "$T/amnt"
		LD_PRELOAD=$T/slow_open.so "$CASKFS_BIN" "$T/race" "$MNT" -f \
			-o context=system_u:object_r:tmp_t:s0 >"$T/out.race" 2>&1 &
		B=$!
		sleep 0.5
		mount_fs "$T/race" "$T/amnt"
		echo mine >"$T/amnt/a"
		sleep 1.5 # B now waits for the store's lock
		ck "umount A" umount_fs "$T/amnt"
		wait "$B"
		ck_eq "the losing start's mount failed" 1 "$?"
		sed 's/^/    /' "$T/out.race"
		ck "A's store is still there" test -f "$T/race/STORE"
		if [ -f "$T/race/STORE" ]; then
			mount_fs "$T/race" "$T/amnt"
			ck_eq "with A's file" mine "$(cat "$T/amnt/a")"
			ck "umount" umount_fs "$T/amnt"
		fi
	else
		echo "skip: two starts racing (no C compiler)"
	fi
else
	echo "skip: a mount the kernel refuses (needs root, no SELinux)"
fi

step "remount right after fusermount3 -u"
for i in 1 2 3; do
	mount_fs "$STORE_DIR" "$MNT"
	# Something for the closing daemon to write back and sync.
	head -c 20M /dev/zero >"$MNT/big$i"
	fusermount3 -u "$MNT"
	DAEMON_PID=
	mount_fs "$STORE_DIR" "$MNT"
	ck_eq "remount $i right after fusermount3 -u" kept "$(cat "$MNT/kept")"
	ck "umount" umount_fs
done

step "the store's lock held for a moment"
flock -x "$STORE_DIR/LOCK" sleep 1.5 &
HOLDER=$!
sleep 0.3
: >"$T/daemon.log"
mount_fs "$STORE_DIR" "$MNT"
ck_eq "mounted once the lock was released" kept "$(cat "$MNT/kept")"
ck_eq "the wait is logged once" 1 "$(grep -c 'waiting' "$T/daemon.log")"
sed 's/^/    /' "$T/daemon.log"
ck "umount" umount_fs
wait "$HOLDER"

echo "$PASSED passed, $FAILS failed"
finish
