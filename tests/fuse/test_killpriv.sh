#!/bin/bash
# test_killpriv.sh - set-user-ID and set-group-ID are cleared as the VFS
# clears them, now that the daemon negotiates FUSE_HANDLE_KILLPRIV_V2
# (issue 14: a file's later write(2)s send no GETXATTR security.capability)
# and so clears them itself on the requests the kernel marks: a write, a
# truncate or an O_TRUNC open by a user without CAP_FSETID clears S_ISUID,
# and S_ISGID when the group may execute or the user is not in the group;
# chown clears them for anyone (S_ISGID without group execute only for
# non-root); root's own write keeps them. The expected modes are what
# the VFS gives on tmpfs. On main, where the kernel cleared them, an
# O_TRUNC open by uid 65534 kept both bits and its write kept S_ISGID
# without group execute (fails without the fix). A set-user-ID root program another user
# appended to no longer runs as root (mounted -o suid), also though the
# kernel caches the mode. On /dev/fuse (-o no_io_uring) and, where the
# kernel has the switch, on io_uring.
. "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
# This test picks the transport itself, for each mount.
CASKFS_TEST_URING=0

NOBODY=65534
as_nobody() {
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"
}
reach_for_others $NOBODY

# fresh NAME MODE: a root-owned file NAME of mode MODE with some bytes
fresh() {
	echo data >"$1"
	chmod "$2" "$1"
}
mode_of() { stat -c %a "$1"; }

transports=(no_io_uring)
[ -w "$URING_SWITCH" ] && transports+=(io_uring)
for t in "${transports[@]}"; do
	step "$t"
	if [ "$t" = io_uring ]; then
		uring_switch Y
	else
		[ -w "$URING_SWITCH" ] && uring_switch N
	fi
	rm -rf "$DATA"
	mount_fs -- -o allow_other -o suid -o "$t"
	ck_eq "$t: the mount is served by its transport" \
		"$([ "$t" = io_uring ] && echo io_uring || echo /dev/fuse)" \
		"$(transport "$MNT")"
	cd "$MNT" || exit 1

	fresh w 6777
	as_nobody sh -c 'echo more >>w'
	ck_eq "$t: a write by uid 65534 clears suid and sgid (group x)" 777 "$(mode_of w)"
	fresh wg 6766
	as_nobody sh -c 'echo more >>wg'
	ck_eq "$t: ... and sgid without group x when not in the group" 766 "$(mode_of wg)"
	fresh wn 6766
	chgrp $NOBODY wn
	chmod 6766 wn
	as_nobody sh -c 'echo more >>wn'
	ck_eq "$t: ... but keeps that one for a member of the group" 2766 "$(mode_of wn)"
	fresh w2 6777
	as_nobody sh -c 'echo one >>w2; echo two >>w2'
	chmod 6777 w2
	as_nobody sh -c 'echo three >>w2'
	ck_eq "$t: a later write clears them again" 777 "$(mode_of w2)"
	fresh t 6777
	as_nobody truncate -s 1 t
	ck_eq "$t: truncate by uid 65534 clears them" 777 "$(mode_of t)"
	fresh o 6777
	as_nobody sh -c ': >o'
	ck_eq "$t: an O_TRUNC open by uid 65534 clears them" 777 "$(mode_of o)"
	# As on ext4: a file the call creates keeps the mode it asked for,
	# though the kernel marks the CREATE (O_TRUNC, no CAP_FSETID).
	mkdir -p open && chmod 777 open
	as_nobody sh -c 'umask 0; perl -MFcntl -e "sysopen(my \$f, q(open/new), O_CREAT | O_TRUNC | O_WRONLY, 06755) or die \$!"'
	ck_eq "$t: a file uid 65534 creates with O_TRUNC keeps suid and sgid" 6755 "$(mode_of open/new)"
	fresh c 6755
	chown $NOBODY c
	ck_eq "$t: chown by root clears them" 755 "$(mode_of c)"
	fresh cg 6744
	chown $NOBODY cg
	ck_eq "$t: ... but not sgid without group x" 2744 "$(mode_of cg)"
	fresh r 6777
	echo more >>r
	truncate -s 1 r
	ck_eq "$t: root's own write and truncate keep them" 6777 "$(mode_of r)"

	# The kernel keeps its cached mode under the writeback cache: the
	# daemon must make it look again, or exec would still set the uid.
	cp /usr/bin/id ./id
	chmod 4755 id
	ck_eq "$t: the set-user-ID copy of id runs as root" 0 "$(as_nobody ./id -u)"
	chmod 4777 id
	as_nobody sh -c 'printf x >>id'
	ck_eq "$t: after uid 65534 appended to it, it no longer does" \
		$NOBODY "$(as_nobody ./id -u)"
	cd / || exit 1
	umount_fs || t_fail "$t: clean unmount"
done
finish
