#!/bin/bash
# test_listing.sh - directory listings through the kernel's directory
# cache (FOPEN_CACHE_DIR) while the directory changes: a listing begun
# before a file was created, with another listing made in between, gives
# every name once (the cache once joined the two listings; fs/readdir.c).
# The same with ls and find from several processes at once.
. "$(dirname "$0")/common.sh"

CC=${CC:-cc}
if ! "$CC" -O2 -Wall -o "$T/listing_race" "$(dirname "$0")/listing_race.c"; then
	t_fail "cannot build listing_race.c with $CC"
	finish
fi

mount_fs

step "a listing with another one and a create in the middle"
for round in 1 2 3; do
	d=$MNT/race$round
	mkdir "$d"
	for i in $(seq -w 0 499); do : >"$d/f$i"; done
	"$T/listing_race" "$d" a-new$round >"$T/names" ||
		t_fail "listing_race failed"
	ck_eq "round $round: no name twice" "" "$(sort "$T/names" | uniq -d | head -3 | xargs)"
	ck_eq "round $round: every old name" 500 "$(grep -c '^f' "$T/names")"
done

step "ls and find while names come and go"
d=$MNT/busy
mkdir "$d"
for i in $(seq -w 0 299); do : >"$d/keep$i"; done
(
	for i in $(seq 1 300); do
		: >"$d/tmp$i"
		rm -f "$d/tmp$((i - 5))"
	done
) &
churn=$!
bad=0
for i in $(seq 1 40); do
	if [ $((i % 2)) = 0 ]; then
		ls -f "$d" >"$T/l"
	else
		find "$d" -maxdepth 1 -name 'keep*' -printf '%f\n' >"$T/l"
	fi
	dup=$(grep '^keep' "$T/l" | sort | uniq -d | head -1)
	got=$(grep -c '^keep' "$T/l")
	if [ -n "$dup" ] || [ "$got" != 300 ]; then
		echo "    listing $i: $got keep names, twice: ${dup:-none}"
		bad=$((bad + 1))
	fi
done
wait "$churn"
ck_eq "40 listings, each every kept name once" 0 "$bad"

ck "unmount" umount_fs
finish
