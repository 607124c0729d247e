#!/bin/bash
# test_modes.sh - the same I/O with the kernel writeback cache on (the
# default) and off (-o no_writeback), and with sync=always: concurrent
# O_APPEND writers, O_TRUNC, writes in the middle, shared writable mmap,
# SEEK_DATA/SEEK_HOLE (holes reported without the writeback cache only);
# then SIGTERM ends the daemon cleanly (exit 0,
# unmounted) and data written without fsync is there after a remount.
. "$(dirname "$0")/common.sh"
command -v python3 >/dev/null || skip "python3 is needed for mmap"

io_checks() {
	local label=$1 w i
	cd "$MNT" || exit 1
	pids=()
	for w in 1 2 3 4; do
		(for i in $(seq 1 150); do echo "w$w line $i" >>app; done) &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	ck_eq "$label: 600 appended lines" 600 "$(wc -l <app)"
	ck_eq "$label: no torn lines" 0 "$(grep -cvE '^w[1-4] line [0-9]+$' app)"
	ck_eq "$label: each writer's lines in order" 4 "$(for w in 1 2 3 4; do
		grep "^w$w " app | awk '{ print $3 }' | sort -nc && echo y
	done | grep -c y)"

	printf 'long old content\n' >tr
	printf 'new\n' >tr
	ck_eq "$label: O_TRUNC" new "$(cat tr)"

	head -c 200000 /dev/urandom >mid
	cp mid "$T/mid.ref"
	printf 'XYZ' | dd of=mid bs=1 seek=100000 conv=notrunc status=none
	printf 'XYZ' | dd of="$T/mid.ref" bs=1 seek=100000 conv=notrunc status=none
	ck "$label: write in the middle" cmp mid "$T/mid.ref"

	python3 - "$MNT/mm" <<'EOF'
import mmap, os, sys
p = sys.argv[1]
with open(p, "wb") as f:
    f.truncate(3 * 65536)
with open(p, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    for i in range(3):
        m[i * 65536:i * 65536 + 5] = b"page%d" % i
    m.flush()
    m.close()
EOF
	ck_eq "$label: shared mmap writes" "page0page1page2" \
		"$(python3 -c "
import sys
d = open('$MNT/mm', 'rb').read()
sys.stdout.write(''.join(d[i * 65536:i * 65536 + 5].decode() for i in range(3)))")"

	python3 - "$MNT/holes" <<'EOF' >"$T/holes.out"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.pwrite(fd, b"x" * 4096, 4 << 20)
os.fsync(fd)
print(os.lseek(fd, 0, os.SEEK_DATA) <= 4 << 20, os.lseek(fd, 0, os.SEEK_HOLE) < 4 << 20,
      os.lseek(fd, (4 << 20) + 1, os.SEEK_DATA) == (4 << 20) + 1)
os.close(fd)
EOF
	# Without the writeback cache the daemon reports the hole; with it the
	# kernel answers (mount/ops.c, op_lseek): no hole before the end, which
	# POSIX allows, but never a hole over data.
	if [ "$label" = no_writeback ]; then
		ck_eq "$label: SEEK_DATA/SEEK_HOLE" "True True True" \
			"$(cat "$T/holes.out")"
	else
		ck_eq "$label: SEEK_DATA/SEEK_HOLE" "True False True" \
			"$(cat "$T/holes.out")"
	fi
	cd /
}

step "writeback cache on (default)"
mount_fs
io_checks writeback
echo "unsynced data" >"$MNT/unsynced"
step "SIGTERM: clean end"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
ck_eq "daemon exits 0 on SIGTERM" 0 "$?"
DAEMON_PID=
ck "unmounted after SIGTERM" bash -c "! grep -q ' $MNT ' /proc/self/mounts"

step "writeback cache off (-o no_writeback)"
rm -rf "$DATA.wb" && mv "$DATA" "$DATA.wb"
mount_fs -- -o no_writeback
io_checks no_writeback
umount_fs || FAILS=$((FAILS + 1))

step "sync=always"
rm -rf "$DATA"
mount_fs -- -o sync=always
io_checks sync_always
umount_fs || FAILS=$((FAILS + 1))

step "data written before SIGTERM is there after remount"
rm -rf "$DATA" && mv "$DATA.wb" "$DATA"
mount_fs
ck_eq "unsynced file after SIGTERM + remount" "unsynced data" "$(cat "$MNT/unsynced")"
ck_eq "appended file after remount" 600 "$(wc -l <"$MNT/app")"
umount_fs || FAILS=$((FAILS + 1))
finish
