#!/bin/bash
# test_users.sh - several users on one mount: with -o allow_other (root
# mounts) another user (uid 65534) is held to the permission bits by
# default_permissions, new nodes belong to the calling user, sticky and
# setgid directories behave; without allow_other other users are shut out;
# and an ordinary user mounts and unmounts a store of its own through
# fusermount3 (a container's /dev/fuse of mode 0600 gets Debian's 0666 for
# that step; skipped only if it cannot).
. "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to act as other users"
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"

NOBODY=65534
as_nobody() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"
}
reach_for_others $NOBODY

step "allow_other with default_permissions"
mount_fs -- -o allow_other
cd "$MNT" || exit 1
echo secret >private
chmod 600 private
echo public >public
chmod 644 public
mkdir rootdir && chmod 755 rootdir
mkdir -m 1777 shared
mkdir sgid && chgrp 4242 sgid && chmod 2777 sgid
ck "uid 65534 cannot read a root file of mode 600" bash -c \
	"! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups cat private 2>/dev/null"
ck_eq "uid 65534 reads a file of mode 644" public "$(as_nobody cat public)"
ck "uid 65534 cannot write a root file of mode 644" bash -c \
	"! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups sh -c 'echo x >>public' 2>/dev/null"
ck "uid 65534 cannot create in a root dir of mode 755" bash -c \
	"! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups touch rootdir/x 2>/dev/null"
ck "uid 65534 cannot chmod a root file" bash -c \
	"! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups chmod 777 public 2>/dev/null"
as_nobody sh -c 'echo mine >shared/nobodys; mkdir shared/nd'
ck_eq "a new file belongs to the caller" "$NOBODY:$NOBODY" "$(stat -c %u:%g shared/nobodys)"
ck_eq "a new dir belongs to the caller" "$NOBODY:$NOBODY" "$(stat -c %u:%g shared/nd)"
echo r >shared/roots
ck "sticky dir: uid 65534 cannot remove root's file" bash -c \
	"! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups rm -f shared/roots 2>/dev/null && test -e shared/roots"
ck "sticky dir: uid 65534 removes its own file" as_nobody rm shared/nobodys
as_nobody sh -c 'umask 022; echo g >sgid/f; mkdir sgid/d'
ck_eq "setgid dir: new file gets the dir's group" 4242 "$(stat -c %g sgid/f)"
ck_eq "setgid dir: new dir gets the group and setgid" "4242 2755" \
	"$(stat -c '%g %a' sgid/d)"
ck_eq "umask of the caller applies" 644 "$(stat -c %a sgid/f)"
chmod 604 private
ck_eq "chmod 604 opens it to others" secret "$(as_nobody cat private)"
cd / && umount_fs || FAILS=$((FAILS + 1))

step "without allow_other"
mount_fs
ck "uid 65534 is shut out" bash -c \
	"! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups ls '$MNT' >/dev/null 2>&1"
ck_eq "root still reads" public "$(cat "$MNT/public")"
umount_fs || FAILS=$((FAILS + 1))

step "mount by an ordinary user"
# Debian gives /dev/fuse mode 0666 (udev); a container may give it 0600,
# and libfuse opens it before it tries fusermount3. Use Debian's mode for
# this step and put the old one back afterwards, also on failure.
fuse_mode=$(stat -c %a /dev/fuse)
if ! as_nobody test -r /dev/fuse -a -w /dev/fuse &&
	chmod 0666 /dev/fuse 2>/dev/null; then
	RESTORE+=("chmod $fuse_mode /dev/fuse")
fi
if ! as_nobody test -r /dev/fuse -a -w /dev/fuse; then
	echo "skip: /dev/fuse is not readable and writable by uid $NOBODY" \
		"($(stat -c '%A' /dev/fuse)); libfuse opens it before trying fusermount3"
elif [ ! -u "$(command -v fusermount3)" ]; then
	echo "skip: fusermount3 is not setuid root"
elif [ ! -e /etc/mtab ]; then
	echo "skip: /etc/mtab is absent: fusermount3 needs it for a user's" \
		"mount (scripts/install-deps.sh links it to /proc/self/mounts)"
else
	U=$T/user
	mkdir -p "$U/mnt"
	# A daemon in a build tree closed to others runs from a copy (it
	# links libcask statically).
	bin=$CASKFS_BIN
	if ! as_nobody test -x "$bin"; then
		bin=$T/caskfs
		cp "$CASKFS_BIN" "$bin"
	fi
	chown -R $NOBODY:$NOBODY "$U"
	as_nobody "$bin" "$U/data" "$U/mnt" >>"$T/daemon.log" 2>&1
	ck_eq "uid 65534 mounts its store" 0 "$?"
	MOUNTS+=("$U/mnt")
	as_nobody sh -c "echo by-user >'$U/mnt/f'"
	ck_eq "uid 65534 writes and reads" by-user "$(as_nobody cat "$U/mnt/f")"
	ck_eq "file owned by uid 65534" $NOBODY "$(as_nobody stat -c %u "$U/mnt/f")"
	if ! grep -q '^user_allow_other' /etc/fuse.conf 2>/dev/null; then
		mkdir -p "$U/mnt2" && chown $NOBODY "$U/mnt2"
		out=$(as_nobody "$bin" "$U/data2" "$U/mnt2" -o allow_other 2>&1)
		ck "allow_other without user_allow_other fails clearly" \
			grep -q user_allow_other <<<"$out"
	fi
	pid=$(head -n 1 "$U/data/LOCK")
	ck "uid 65534 unmounts" as_nobody fusermount3 -u "$U/mnt"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	ck "its daemon exits" bash -c "! kill -0 $pid 2>/dev/null"
fi
finish
