#!/bin/bash
# test_boot.sh - the README's "Mounting at boot" as written (issue 12): its
# fstab line (the ```fstab block) mounted with `mount -a -T` from a test
# fstab, its systemd mount unit (the ```systemd block) checked with
# `systemd-analyze verify` under the name the README gives it and mounted
# the way systemd mounts it (mount -t TYPE -o OPTIONS WHAT WHERE). The
# README's paths are replaced by the test's; caskfs is found where the
# README says, /usr/local/bin: in a mount namespace of the test's own, the
# build under test is bound there.
. "$(dirname "$0")/common.sh"

readme=${CASK_SOURCE_DIR:-$(dirname "$0")/../..}/README.md
[ -f "$readme" ] || skip "no README.md at $readme"

# block LANG: the README's code block opened by ```LANG.
block() {
	awk -v open='```'"$1" '$0 == open { f = 1; next } /^```/ { f = 0 } f' "$readme"
}
# ours: the README's paths replaced by the test's.
ours() {
	sed -e "s|/var/lib/caskfs|$DATA|g" -e "s|/mnt/caskfs|$MNT|g"
}

fstab=$(block fstab)
unit=$(block systemd)
ck "the README has an fstab block" test -n "$fstab"
ck "the README has a systemd block" test -n "$unit"
unit_name=$(grep -o '/etc/systemd/system/[^ `]*\.mount' "$readme" | head -1)
ck "the README names the unit's file" test -n "$unit_name"

step "systemd-analyze verify of the unit"
if ! command -v systemd-analyze >/dev/null; then
	echo "skip: systemd-analyze verify (systemd is not installed)"
else
	mkdir -p "$T/units" "$T/man/man1"
	printf '%s\n' "$unit" >"$T/units/$(basename "$unit_name")"
	man_opt=--man=yes
	if command -v man >/dev/null; then
		# Documentation=man:caskfs(1) is looked up: the page under test.
		cp "${CASK_SOURCE_DIR:-$(dirname "$0")/../..}/docs/caskfs.1" "$T/man/man1/"
	else
		man_opt=--man=no
		echo "skip: the unit's man: link (man is not installed)"
	fi
	MANPATH=$T/man systemd-analyze verify "$man_opt" \
		"$T/units/$(basename "$unit_name")" >"$T/verify.out" 2>&1
	ck_eq "systemd-analyze verify exits 0" 0 "$?"
	ck "... and says nothing" test ! -s "$T/verify.out"
	sed 's/^/    /' "$T/verify.out"
fi

# in_ns CMD: run the bash command CMD as root where mount.fuse3's shell
# finds caskfs: in a mount namespace of its own where /usr/local/bin holds
# the caskfs under test (the mount CMD makes lives there, so CMD uses it,
# unmounts it and waits for the daemon), or, where no such namespace can
# be made (a chroot, whose / is no mount point), as it is, when caskfs is
# installed on that path (scripts/run.sh installs it).
mkdir -p "$T/bin"
ln -s "$CASKFS_BIN" "$T/bin/caskfs"
in_ns() {
	if [ "$how" = namespace ]; then
		unshare -m --propagation private bash -c \
			"mount --bind '$T/bin' /usr/local/bin && $1"
	else
		bash -c "$1"
	fi
}
how=""
installed=$(env -i /bin/sh -c 'command -v caskfs' 2>/dev/null)
if command -v unshare >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	how=namespace
elif [ -n "$installed" ]; then
	how=installed
	echo "note: no private mount namespace here; the installed $installed is used"
fi
# serve_and_stop: the mount at MNT serves, then unmounts; its daemon exits.
serve_and_stop() {
	local pid
	is_served "$MNT" || { echo "not mounted"; return 1; }
	echo boot >"$MNT/f" && [ "$(cat "$MNT/f")" = boot ] || return 1
	pid=$(pid_of_store "$DATA")
	umount "$MNT" || return 1
	wait_gone "$pid" || { echo "the daemon $pid did not exit"; return 1; }
}
export -f is_served is_mounted serve_and_stop pid_of_store wait_gone
export DATA MNT
# A daemon left in the namespace by a failed check is ended (by its pid).
RESTORE+=('p=$(head -n 1 "$DATA/LOCK" 2>/dev/null); [ -n "$p" ] && kill "$p" 2>/dev/null; :')

if [ "$(id -u)" != 0 ]; then
	echo "skip: mounting the fstab line and the unit (mount -a -T needs root)"
elif [ -z "$how" ]; then
	echo "skip: mounting the fstab line and the unit (caskfs is not installed, and no private mount namespace can be made to put it in /usr/local/bin)"
else
	step "mount -a -T with the README's fstab line"
	printf '%s\n' "$fstab" | ours >"$T/fstab"
	sed 's/^/    /' "$T/fstab"
	in_ns "mount -a -T '$T/fstab' && serve_and_stop" >"$T/out.fstab" 2>&1
	ck_eq "mounted, served, unmounted" 0 "$?"
	sed 's/^/    /' "$T/out.fstab"

	step "the unit, mounted as systemd mounts it"
	key() { printf '%s\n' "$unit" | sed -n "s/^$1=//p" | ours; }
	cmd="mount -t '$(key Type)' -o '$(key Options)' '$(key What)' '$(key Where)'"
	echo "    $cmd"
	in_ns "$cmd && serve_and_stop" >"$T/out.unit" 2>&1
	ck_eq "mounted, served, unmounted" 0 "$?"
	sed 's/^/    /' "$T/out.unit"
	ck_eq "both wrote to one store" boot "$("${CASK_BIN:-cask}" fs cat "$DATA" /f 2>&1)"
fi

finish
