#!/bin/bash
# test_run.sh - scripts/run.sh as the README's first command (issue 12),
# here with PREFIX in the test's directory and the build tree under test:
# it installs caskfs and cask with their man pages, mounts, and its
# closing message says how to unmount, where the log is and how to mount
# at boot; two stores started by it do not share a log; run again it says
# the mount point is already mounted.
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BUILD_DIR:-}" ] || skip "CASK_BUILD_DIR is not set"
src=${CASK_SOURCE_DIR:-$(dirname "$0")/../..}
export PREFIX=$T/prefix BUILD_DIR=$CASK_BUILD_DIR

# run DATA MNT OUT: scripts/run.sh DATA MNT, its output in OUT.
run() {
	"$src/scripts/run.sh" "$1" "$2" >"$3" 2>&1
}

step "the first store"
mkdir -p "$T/m1" "$T/m2"
MOUNTS+=("$T/m1" "$T/m2")
run "$T/d1" "$T/m1" "$T/out1"
rc=$?
ck_eq "run.sh exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 20 "$T/out1"
ck "it is mounted" is_served "$T/m1"
ck "caskfs is installed in PREFIX/bin" test -x "$PREFIX/bin/caskfs"
ck "cask is installed in PREFIX/bin" test -x "$PREFIX/bin/cask"
ck "caskfs.1 is installed" test -f "$PREFIX/share/man/man1/caskfs.1"
ck "cask.1 is installed" test -f "$PREFIX/share/man/man1/cask.1"
ck "the message says how to unmount" grep -q "fusermount3 -u $T/m1\$" "$T/out1"
ck "... where the log is" grep -q "log: $T/d1.log\$" "$T/out1"
ck "... how to mount at boot (an fstab line)" \
	grep -Eq "^  $T/d1 +$T/m1 +fuse.caskfs " "$T/out1"
ck "... and how to back it up" grep -q "cask backup $T/d1 " "$T/out1"

step "a second store beside it"
run "$T/d2" "$T/m2" "$T/out2"
ck_eq "run.sh exits 0" 0 "$?"
ck "it is mounted" is_served "$T/m2"
echo one >"$T/m1/f"
echo two >"$T/m2/f"
ck_eq "each serves its own store" "one two" "$(cat "$T/m1/f" "$T/m2/f" | xargs)"
p1=$(pid_of_store "$T/d1")
p2=$(pid_of_store "$T/d2")
ck "the first log has the first daemon's mount line" \
	grep -q "caskfs\[$p1\]: $T/d1 mounted on $T/m1" "$T/d1.log"
ck "the second log has the second daemon's" \
	grep -q "caskfs\[$p2\]: $T/d2 mounted on $T/m2" "$T/d2.log"
ck "and not the first's" bash -c "! grep -q 'caskfs\[$p1\]' '$T/d2.log'"

step "again on a mounted mount point"
run "$T/d1" "$T/m1" "$T/out3"
ck_eq "run.sh exits 0" 0 "$?"
ck "it says it is already mounted" grep -q "$T/m1 is already mounted" "$T/out3"

for m in m1 m2; do
	fusermount3 -u "$T/$m"
done
wait_gone "$p1"
wait_gone "$p2"
ck "the first log has the close" grep -q "$T/m1 unmounted, store closed" "$T/d1.log"
finish
