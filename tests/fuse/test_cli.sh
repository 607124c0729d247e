#!/bin/bash
# test_cli.sh - the caskfs command line: --help, --version, bad options
# and values named in the error, a missing mount point, a store locked by
# a running daemon, a data directory inside the mount point, starting in
# the background (exit status after mount; a new store's chunk size and
# inline maximum), -o ro, and mounting the
# /etc/fstab way through mount(8) / mount.fuse3 with fstab-only options.
. "$(dirname "$0")/common.sh"

# run_fail DESCRIPTION PATTERN COMMAND...: the command fails (non-zero)
# within 20 s and its output matches PATTERN.
run_fail() {
	local d=$1 pat=$2 out rc
	shift 2
	out=$(timeout 20 "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qE -- "$pat" <<<"$out"; then
		echo "ok   $d (exit $rc: $(head -n 1 <<<"$out"))"
	else
		echo "FAIL $d: exit $rc, output:"
		sed 's/^/     /' <<<"$out"
		FAILS=$((FAILS + 1))
	fi
}

export -f is_mounted

step "--help and --version"
ck "--help exits 0 and shows the caskfs options" bash -c \
	'"$CASKFS_BIN" --help | grep -q "sync=MODE"'
ck "--help shows FUSE options" bash -c '"$CASKFS_BIN" --help | grep -q allow_other'
ck "--version names caskfs and libfuse" bash -c \
	'"$CASKFS_BIN" --version | grep -q "^caskfs .*libfuse"'
ck "--version starts with caskfs's own version, also into a pipe" bash -c \
	'"$CASKFS_BIN" --version | head -1 | grep -q "^caskfs [0-9]"'
"$CASKFS_BIN" --help >"$T/help" 2>&1
dups=$(grep -oE '^ +(-o [a-z_]+|-[a-zA-Z]( |$)|--[a-z]+)' "$T/help" | sed 's/ *$//' |
	sort | uniq -d | xargs)
ck_eq "--help lists each option once" "" "$dups"
ck "--help gives caskfs's max_threads default" \
	grep -q 'max_threads=N .*default: one per CPU' "$T/help"
ck "--help lists -o log=FILE" grep -q -- '-o log=FILE' "$T/help"

step "bad command lines"
run_fail "no arguments" "usage" "$CASKFS_BIN"
run_fail "one argument" "usage" "$CASKFS_BIN" "$DATA"
run_fail "three arguments" "unexpected argument" "$CASKFS_BIN" "$DATA" "$MNT" extra
run_fail "missing mount point is named" "mount point $T/nowhere does not exist" \
	"$CASKFS_BIN" "$DATA" "$T/nowhere" -f
: >"$T/plainfile"
run_fail "mount point not a directory" "not a directory" \
	"$CASKFS_BIN" "$DATA" "$T/plainfile" -f
run_fail "bad sync value names the option" "-o sync: 'sometimes'" \
	"$CASKFS_BIN" "$DATA" "$MNT" -f -o sync=sometimes
run_fail "bad chunk_size names the option" "-o chunk_size" \
	"$CASKFS_BIN" "$DATA" "$MNT" -f -o chunk_size=3000
run_fail "bad segment_size names the option" "-o segment_size" \
	"$CASKFS_BIN" "$DATA" "$MNT" -f -o segment_size=12x
run_fail "bad sync_interval names the option" "-o sync_interval" \
	"$CASKFS_BIN" "$DATA" "$MNT" -f -o sync_interval=0
run_fail "unknown option is refused" "unknown option.*bogus" \
	"$CASKFS_BIN" "$DATA" "$MNT" -f -o bogus
run_fail "data dir inside the mount point" "must not be inside" \
	"$CASKFS_BIN" "$MNT/data" "$MNT" -f
ck "nothing mounted by the failures" bash -c '! is_mounted "$MNT"'

step "background start"
"$CASKFS_BIN" "$DATA" "$MNT" -o sync=always,chunk_size=64K
rc=$?
MOUNTS+=("$MNT")
ck_eq "caskfs returns 0 once mounted" 0 "$rc"
ck "mounted when caskfs returns" is_mounted "$MNT"
ck "mount shows fuse.caskfs and the data dir" \
	grep -q "^$DATA $MNT fuse.caskfs " /proc/self/mounts
ck "default_permissions is on" bash -c \
	"grep ' $MNT ' /proc/self/mounts | grep -q default_permissions"
echo hi >"$MNT/hello"
if command -v getfattr >/dev/null; then
	ck_eq "a new store takes the chunk size asked for" 65536 "$(stat_of chunk_size)"
	ck_eq "a new store keeps files of at most 512 bytes inline" 512 \
		"$(stat_of inline_max)"
	k0=$(stat_of keys)
	head -c 512 /dev/zero >"$MNT/inline512"
	k1=$(stat_of keys)
	head -c 513 /dev/zero >"$MNT/chunked513"
	k2=$(stat_of keys)
	ck_eq "a 512-byte file: its entry and inode record" 2 "$((k1 - k0))"
	ck_eq "a 513-byte file: its entry, inode record and a chunk" 3 \
		"$((k2 - k1))"
fi
bgpid=$(pid_of_store "$DATA")
ck "daemon pid in the store's LOCK" kill -0 "${bgpid:-0}"
ck "daemon detached from the terminal (own session)" test \
	"$(ps -o sid= -p "${bgpid:-0}" | tr -d ' ')" = "${bgpid:-0}"

step "locked store"
mkdir -p "$T/mnt2"
run_fail "second daemon on the same store (foreground)" "in use by another process" \
	"$CASKFS_BIN" "$DATA" "$T/mnt2" -f
run_fail "second daemon on the same store (background)" "in use by another process" \
	"$CASKFS_BIN" "$DATA" "$T/mnt2"
ck "second mount point not mounted" bash -c "! is_mounted '$T/mnt2'"
ck "first mount still works" test "$(cat "$MNT/hello")" = hi
fusermount3 -u "$MNT"
ck "daemon exits after unmount" wait_gone "${bgpid:-0}"

step "read-only mount (-o ro)"
mount_fs -- -o ro
ck_eq "content readable" hi "$(cat "$MNT/hello")"
ck "writes fail with EROFS" bash -c \
	"! echo x 2>&1 >'$MNT/new' | grep -qv 'Read-only file system'"
ck "no new file" test ! -e "$MNT/new"
umount_fs || FAILS=$((FAILS + 1))

step "fstab options given to caskfs directly"
opts=rw,dev,suid,noauto,user,users,_netdev,nofail,x-systemd.automount,x-systemd.device-timeout=10,defaults,comment=x
"$CASKFS_BIN" "$DATA" "$MNT" -o "$opts"
ck_eq "caskfs with fstab-only options exits 0" 0 "$?"
ck_eq "content" hi "$(cat "$MNT/hello" 2>&1)"
pid=$(pid_of_store "$DATA")
fusermount3 -u "$MNT"
ck "daemon exits" wait_gone "${pid:-0}"

step "fstab: mount(8) and mount.fuse3"
# mount.fuse3 runs the program named by the type (fuse.caskfs) or by the
# source (caskfs#DATA) through the shell; mount(8) resets PATH, so where
# caskfs is not installed the "/path/to/caskfs#DATA" form is used.
mkdir -p "$T/bin"
ln -sf "$CASKFS_BIN" "$T/bin/caskfs"
if ! command -v mount.fuse3 >/dev/null && [ ! -x /sbin/mount.fuse3 ]; then
	echo "skip: mount.fuse3 not installed"
elif [ "$(id -u)" -ne 0 ]; then
	echo "skip: mount(8) with a helper needs root here"
else
	PATH=/sbin:/usr/sbin:$PATH
	opts=rw,noauto,user,_netdev,nofail,x-systemd.automount,defaults,sync=never
	timeout 20 mount -t fuse -o "$opts" "$T/bin/caskfs#$DATA" "$MNT"
	ck_eq "mount -t fuse /path/caskfs#DATA with fstab options exits 0" 0 "$?"
	ck "mounted as fuse.caskfs" grep -q " $MNT fuse.caskfs " /proc/self/mounts
	ck_eq "content via mount(8)" hi "$(cat "$MNT/hello" 2>&1)"
	pid=$(pid_of_store "$DATA")
	timeout 20 umount "$MNT"
	ck_eq "umount exits 0" 0 "$?"
	ck "daemon exits after umount" wait_gone "${pid:-0}"

	# What "mount -t fuse.caskfs DATA MNT" runs once caskfs is in PATH.
	PATH="$T/bin:$PATH" timeout 20 mount.fuse3 "$DATA" "$MNT" -t fuse.caskfs \
		-o rw,dev,suid,noauto,users,_netdev,nofail
	ck_eq "mount.fuse3 DATA MNT -t fuse.caskfs exits 0" 0 "$?"
	ck_eq "content via mount.fuse3 -t fuse.caskfs" hi "$(cat "$MNT/hello" 2>&1)"
	pid=$(pid_of_store "$DATA")
	fusermount3 -u "$MNT"
	ck "daemon exits" wait_gone "${pid:-0}"

	# An /etc/fstab line, read from a private fstab file (mount -T).
	printf '%s %s fuse defaults,noauto,_netdev,nofail,x-systemd.automount 0 0\n' \
		"$T/bin/caskfs#$DATA" "$MNT" >"$T/fstab"
	timeout 20 mount -T "$T/fstab" "$MNT"
	ck_eq "mount MOUNTPOINT with an fstab line exits 0" 0 "$?"
	ck_eq "content via the fstab line" hi "$(cat "$MNT/hello" 2>&1)"
	pid=$(pid_of_store "$DATA")
	umount "$MNT"
	ck "daemon exits" wait_gone "${pid:-0}"

	if command -v caskfs >/dev/null; then
		# caskfs is installed: the fuse.caskfs type works as is.
		printf '%s %s fuse.caskfs defaults,noauto 0 0\n' "$DATA" "$MNT" >"$T/fstab"
		timeout 20 mount -T "$T/fstab" "$MNT"
		ck_eq "fstab line of type fuse.caskfs" hi "$(cat "$MNT/hello" 2>&1)"
		pid=$(pid_of_store "$DATA")
		umount "$MNT"
		wait_gone "${pid:-0}"
	fi
fi

finish
