#!/bin/bash
# test_cask_tool.sh - the cask command-line tool (cli/) against real
# stores: every subcommand with good and bad input (missing directory,
# wrong key, usage errors, binary and large values, a corrupted sealed
# segment that verify names by file and offset), a dump/load round trip of
# random binary data, backup + manifest check, and with a caskfs mount:
# files written through the mount, read back with cask fs from the store
# while mounted (read-only), after unmount, and from a backup copy; a write
# command refused while the daemon holds the store, and while another
# process does (one line naming the process: put, fs put, fsck --repair).
# (Named test_cask_tool, not test_cli: that one tests the caskfs daemon's
# command line.)
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
for t in cmp head od dd sha256sum diff; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
C=$CASK_BIN
S=$T/store

# ck_rc DESCRIPTION EXPECTED_EXIT COMMAND...: exit status check.
ck_rc() {
	local d=$1 want=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		echo "ok   $d (exit $rc)"
	else
		echo "FAIL $d: exit $rc, expected $want; stderr:"
		sed 's/^/     /' "$T/err"
		FAILS=$((FAILS + 1))
	fi
}

# snap DIR: every entry of DIR with its size, links, mtime and ctime (what
# any write, new file, link or rename in it changes).
snap() {
	(cd "$1" && find . -printf '%P %s %n %T@ %C@\n' | sort)
}

# ck_same DESCRIPTION BEFORE AFTER: two snap outputs are equal.
ck_same() {
	if cmp -s "$2" "$3"; then
		echo "ok   $1"
	else
		echo "FAIL $1:"
		diff "$2" "$3" | sed 's/^/     /'
		FAILS=$((FAILS + 1))
	fi
}

# flip FILE OFFSET: add 1 to the byte at OFFSET.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# sealed DIR: the name of a sealed segment (one with a hint) of DIR.
sealed() {
	local h
	h=$(cd "$1" && ls -- *.hint | head -n 1)
	echo "${h%.hint}.cask"
}

step "help, usage and exit codes"
for c in get put del scan stat merge verify dump load backup fs; do
	ck_rc "$c --help" 0 "$C" "$c" --help
	ck "$c --help prints usage" grep -q "usage: cask $c" "$T/out"
done
ck_rc "no command" 2 "$C"
ck_rc "unknown command" 2 "$C" frobnicate
ck_rc "get without key" 2 "$C" get "$S"
ck_rc "scan bad --limit" 2 "$C" scan "$S" --limit x
ck_rc "missing store: get" 3 "$C" get "$T/nope" k
ck "missing store message names it" grep -q "$T/nope" "$T/err"
ck_rc "missing store: scan" 3 "$C" scan "$T/nope"
ck_rc "missing store: verify" 3 "$C" verify "$T/nope"
ck_rc "missing store: del" 3 "$C" del "$T/nope" k
ck_rc "missing store: fs ls" 3 "$C" fs ls "$T/nope"

step "a directory that is not a store: said so, nothing written"
mkdir "$T/empty" "$T/user"
echo "a user's file" >"$T/user/notes.txt"
echo "cask-dump 1" >"$T/user.dump"
echo "end 0" >>"$T/user.dump"
# nostore DESCRIPTION COMMAND...: exit 3 and a message naming $dir.
nostore() {
	local d=$1
	shift
	ck_rc "$d" 3 "$@"
	ck "$d: says $dir holds no store" grep -qF "no store at $dir" "$T/err"
}
for dir in "$T/nope" "$T/empty" "$T/user"; do
	[ -d "$dir" ] && snap "$dir" >"$T/snap.before"
	nostore "put without --create: ${dir##*/}" "$C" put "$dir" k v
	nostore "del: ${dir##*/}" "$C" del "$dir" k
	nostore "merge: ${dir##*/}" "$C" merge "$dir"
	nostore "load without --create: ${dir##*/}" "$C" load "$dir" \
		-i "$T/user.dump"
	nostore "verify: ${dir##*/}" "$C" verify "$dir"
	nostore "get: ${dir##*/}" "$C" get "$dir" k
	nostore "scan: ${dir##*/}" "$C" scan "$dir"
	nostore "stat: ${dir##*/}" "$C" stat "$dir"
	nostore "dump: ${dir##*/}" "$C" dump "$dir"
	nostore "fs ls: ${dir##*/}" "$C" fs ls "$dir"
	nostore "backup: ${dir##*/}" "$C" backup "$dir" "$T/nobk"
	ck "backup of ${dir##*/} made no copy" test ! -e "$T/nobk"
	if [ -d "$dir" ]; then
		snap "$dir" >"$T/snap.after"
		ck_same "nothing written into ${dir##*/}" "$T/snap.before" \
			"$T/snap.after"
	else
		ck "${dir##*/} was not created" test ! -e "$dir"
	fi
done
"$C" put "$T/empty" k v 2>"$T/err"
ck "the refusal of put says how to make one" grep -q -- "--create" "$T/err"
ck_rc "put --create into an empty directory" 0 "$C" put --create \
	"$T/empty" k v
ck_eq "... made a store there" "v" "$("$C" get "$T/empty" k)"
ck_rc "put --create into a missing directory" 0 "$C" put --create \
	"$T/new" k v
ck_rc "get --create is a usage error" 2 "$C" get --create "$T/new" k

step "put / get / del"
ck_rc "put --create creates the store" 0 "$C" put --create "$S" hello world
ck_rc "get" 0 "$C" get "$S" hello
ck_eq "get prints the raw value" "world" "$(cat "$T/out")"
ck_rc "get of a wrong key" 1 "$C" get "$S" nosuchkey
head -c 100000 /dev/urandom >"$T/rnd"
ck_rc "put - from stdin (100000 random bytes)" 0 \
	bash -c '"$0" put "$1" bin - <"$2"' "$C" "$S" "$T/rnd"
"$C" get "$S" bin >"$T/rnd.out"
ck "binary value round trip" cmp -s "$T/rnd" "$T/rnd.out"
head -c 3000000 /dev/urandom >"$T/big"
ck_rc "put a 3 MB value" 0 bash -c '"$0" put "$1" big <"$2"' "$C" "$S" "$T/big"
ck "3 MB value round trip" bash -c '"$0" get "$1" big | cmp -s - "$2"' \
	"$C" "$S" "$T/big"
ck_rc "put an empty value" 0 "$C" put "$S" empty ""
ck_eq "empty value" "0" "$("$C" get "$S" empty | wc -c)"
ck_rc "put with an escaped binary key" 0 "$C" put -x "$S" 'k\x00\xff\\' v
ck_rc "get it back escaped" 0 "$C" get -x "$S" 'k\x00\xff\\'
ck_rc "del" 0 "$C" del "$S" hello
ck_rc "del again: not found" 1 "$C" del "$S" hello
ck_rc "get deleted: not found" 1 "$C" get "$S" hello

step "scan and stat"
for i in 1 2 3 4 5; do "$C" put "$S" "p/$i" "v$i"; done
ck_rc "scan" 0 "$C" scan "$S"
ck "escaped key in scan output" grep -qF 'k\x00\xff\\' "$T/out"
ck_eq "scan --prefix --keys-only" "p/1 p/2 p/3 p/4 p/5" \
	"$("$C" scan "$S" --prefix p/ --keys-only | tr '\n' ' ' | sed 's/ $//')"
ck_eq "scan --reverse --limit 2" "p/5 p/4" \
	"$("$C" scan "$S" -p p/ -r -k -n 2 | tr '\n' ' ' | sed 's/ $//')"
ck_eq "scan --json" '{"key":"p/1","value":"v1"}' \
	"$("$C" scan "$S" --prefix p/ --json --limit 1)"
ck_eq "scan | head does not fail" 0 \
	"$("$C" scan "$S" | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}")"
ck_rc "stat" 0 "$C" stat "$S"
ck "stat shows keys" grep -q "^keys: 9" "$T/out"
ck_rc "stat --json" 0 "$C" stat "$S" --json
ck "stat --json has segments" grep -q '"segments":\[{"id"' "$T/out"

step "merge"
for i in $(seq 50); do "$C" put "$S" "p/1" "overwrite $i"; done
ck_rc "merge" 0 "$C" merge "$S"
ck "merge reports" grep -q "merged:" "$T/out"
ck_eq "values survive merge" "overwrite 50" "$("$C" get "$S" p/1)"
ck "binary survives merge" bash -c '"$0" get "$1" bin | cmp -s - "$2"' \
	"$C" "$S" "$T/rnd"

step "dump / load round trip"
D=$T/dumped
for i in $(seq 30); do
	head -c $((RANDOM % 5000)) /dev/urandom >"$T/v"
	head -c $((1 + RANDOM % 40)) /dev/urandom | od -An -tx1 | tr -d ' \n' |
		sed 's/../\\x&/g' >"$T/k"
	bash -c '"$0" put -x "$1" "$2" - <"$3"' "$C" "$S" "$(cat "$T/k")" "$T/v"
done
ck_rc "dump" 0 "$C" dump "$S" -o "$T/dump.txt"
ck "dump is printable text" bash -c '! LC_ALL=C grep -q "[^ -~]" "$0"' \
	"$T/dump.txt"
ck "dump header" bash -c 'head -n 1 "$0" | grep -qx "cask-dump 1"' "$T/dump.txt"
ck_rc "load into a new store" 0 bash -c '"$0" load --create "$1" <"$2"' "$C" "$D" \
	"$T/dump.txt"
"$C" dump "$D" >"$T/dump2.txt"
ck "dump of the loaded store is identical" cmp -s "$T/dump.txt" "$T/dump2.txt"
ck "scan of both stores identical" bash -c \
	'diff <("$0" scan "$1") <("$0" scan "$2")' "$C" "$S" "$D"
ck_rc "load rejects a non-dump" 2 bash -c \
	'echo hello | "$0" load --create "$1"' "$C" "$T/x"
head -n 5 "$T/dump.txt" >"$T/trunc.txt"
ck_rc "load rejects a truncated dump" 2 "$C" load "$D" -i "$T/trunc.txt"
printf 'cask-dump 1\nput a%%zz b\nend 1\n' >"$T/bad.txt"
ck_rc "load rejects a bad escape" 2 "$C" load --create "$T/x2" -i "$T/bad.txt"
ck "the error names the line" grep -q "line 2" "$T/err"

step "backup and manifests"
ck_rc "verify" 0 "$C" verify "$S"
ck_rc "backup" 0 "$C" backup "$S" "$T/bk"
ck_rc "backup into a non-empty directory" 3 "$C" backup "$S" "$T/bk"
ck_rc "verify --manifest" 0 bash -c \
	'"$0" verify --manifest "$1" >"$2"' "$C" "$T/bk" "$T/manifest"
ck "manifest is sha256sum-compatible" bash -c \
	'cd "$0" && sha256sum --quiet -c "$1"' "$T/bk" "$T/manifest"
ck_rc "verify --manifest FILE DIR" 0 "$C" verify --manifest "$T/manifest" \
	"$T/bk"
ck "backup has the same data" bash -c \
	'diff <("$0" dump "$1") <("$0" dump "$2")' "$C" "$S" "$T/bk"
cp -a "$T/bk" "$T/bk2"
rm -f "$T"/bk2/*.hint
echo junk >"$T/bk2/0000099999.cask"
ck_rc "manifest check finds missing and extra files" 1 "$C" verify \
	--manifest "$T/manifest" "$T/bk2"
ck "MISSING reported" grep -q "^MISSING .*hint" "$T/out"
ck "EXTRA reported" grep -q "^EXTRA 0000099999.cask" "$T/out"

step "backup: independent files, nothing written into the store"
snap "$S" >"$T/snap.before"
ck_rc "backup" 0 "$C" backup "$S" "$T/ind"
ck_rc "verify" 0 "$C" verify "$S"
for c in "get $S p/1" "scan $S" "stat $S" "dump $S"; do
	# unquoted: the words of $c are the arguments
	ck_rc "$c" 0 "$C" $c
done
snap "$S" >"$T/snap.after"
ck_same "backup, verify, get, scan, stat and dump leave the store's files, sizes, links and times" \
	"$T/snap.before" "$T/snap.after"
ck_eq "no file of the backup is a hard link" "" \
	"$(find "$T/ind" -type f -links +1)"
seg=$(sealed "$T/ind")
flip "$T/ind/$seg" $(($(stat -c %s "$T/ind/$seg") / 2))
ck_rc "a byte changed in the backup's sealed segment: it is damaged" 1 \
	"$C" verify "$T/ind"
ck_rc "... and the store still verifies" 0 "$C" verify "$S"
cp -a "$S" "$T/s2"
ck_rc "backup of a second store" 0 "$C" backup "$T/s2" "$T/ind2"
flip "$T/s2/$seg" $(($(stat -c %s "$T/s2/$seg") / 2))
ck_rc "a byte changed in the store's sealed segment: it is damaged" 1 \
	"$C" verify "$T/s2"
ck_rc "... and its backup still verifies" 0 "$C" verify "$T/ind2"
ck_rc "backup --link" 0 "$C" backup --link "$S" "$T/lk"
ck "--link warns that the files are shared" grep -q "hard links" "$T/err"
ck "--link hard-links the sealed segments" test "$(stat -c %h "$T/lk/$seg")" = 2
rm -rf "$T/lk"
snap "$S" >"$T/snap.before"
ck_rc "backup into the store refused" 2 "$C" backup "$S" "$S/bk"
ck "the refusal says why" grep -q "is the store .* or inside it" "$T/err"
ck_rc "backup onto the store itself refused" 2 "$C" backup "$S" "$S"
ln -s "$S" "$T/store-link"
ck_rc "backup into the store through a symlink refused" 2 \
	"$C" backup "$S" "$T/store-link/bk"
snap "$S" >"$T/snap.after"
ck_same "a refused backup writes nothing into the store" \
	"$T/snap.before" "$T/snap.after"

step "corruption"
sealed=$(sealed "$T/bk")
cp -a "$T/bk" "$T/bad"
size=$(stat -c %s "$T/bad/$sealed")
off=$((size / 2))
flip "$T/bad/$sealed" "$off"
ck_rc "verify finds the flipped byte" 1 "$C" verify "$T/bad"
ck "verify names the file and an offset" grep -qE "^$sealed:[0-9]+: damage:" \
	"$T/out"
rep=$(grep -E "^$sealed:[0-9]+: damage:" "$T/out" | head -n 1 | cut -d: -f2)
ck "the reported offset is at or before the flipped byte" \
	test "${rep:-999999999}" -le "$off"
ck_rc "manifest check finds the mismatch" 1 "$C" verify --manifest \
	"$T/manifest" "$T/bad"
ck "MISMATCH reported" grep -q "^MISMATCH $sealed" "$T/out"
# Damage in a store closed cleanly: the open finds a damaged range and the
# key it cost.
for i in 1 2 3; do "$C" put --create "$T/dmg" "d/$i" "value number $i"; done
dseg=$(cd "$T/dmg" && ls -- *.cask | tail -n 1)
flip "$T/dmg/$dseg" $(($(stat -c %s "$T/dmg/$dseg") - 5))
ck_rc "stat of a damaged store" 0 "$C" stat "$T/dmg"
ck "stat counts the damaged range" grep -q "^damaged_ranges: 1$" "$T/out"
ck "... its bytes" grep -qE "^damaged_bytes: [1-9]" "$T/out"
ck "... and the key it cost" grep -q "^damaged_keys: 1$" "$T/out"
ck_rc "stat --json of a damaged store" 0 "$C" stat --json "$T/dmg"
ck "stat --json counts the damaged range" \
	grep -qE '"damaged_ranges":1,"damaged_bytes":[1-9][0-9]*,"damaged_keys":1,' \
	"$T/out"

step "a store directory holding a file that is not the store's"
cp -a "$S" "$T/foreign"
echo "notes" >"$T/foreign/notes.txt"
ck_rc "verify fails" 1 "$C" verify "$T/foreign"
ck "verify says no \"ok\"" bash -c '! grep -q ": ok" "$0"' "$T/err"
ck "verify says why: files that are not the store's" \
	grep -q "foreign: directory holds files that are not part of a store" \
	"$T/err"
ck "verify names the file" grep -q "notes.txt" "$T/out"
ck "verify tries no filesystem check" \
	bash -c '! grep -q "Directory not empty" "$0"' "$T/err"
ck_rc "fs ls fails" 3 "$C" fs ls "$T/foreign" /
ck "fs ls names the file" grep -q "notes.txt" "$T/err"
ck "fs ls says what is wrong" grep -q "files that are not the store's" \
	"$T/err"
ck "fs ls says more than \"Directory not empty\"" \
	bash -c '! grep -q "Directory not empty" "$0"' "$T/err"
ck_rc "get fails" 3 "$C" get "$T/foreign" k
ck "get names the file" grep -q "notes.txt" "$T/err"
ck "get names the directory once" \
	bash -c '! grep -qF "$0: $0:" "$1"' "$T/foreign" "$T/err"

if [ -z "${CASKFS_BIN:-}" ] || [ ! -c /dev/fuse ]; then
	echo "(no caskfs or /dev/fuse: mount checks skipped)"
	finish
fi

step "caskfs: files written through a mount, read with cask fs"
mkdir -p "$T/src/sub/deeper"
head -c 200000 /dev/urandom >"$T/src/sub/blob.bin"
echo "config" >"$T/src/app.conf"
chmod 640 "$T/src/app.conf"
ln -s app.conf "$T/src/link"
touch -d "2001-02-03 04:05:06" "$T/src/app.conf"
mount_fs
cp -a "$T/src/." "$MNT/"
ck_rc "read-only cask fs ls while mounted" 0 "$C" fs ls "$DATA" /
ck_rc "put refused while mounted" 3 "$C" put "$DATA" k v
ck "the refusal names the mount" grep -q "mounted by caskfs on $MNT" \
	"$T/err"
ck "the refusal is one line" test "$(wc -l <"$T/err")" -eq 1
ck_rc "live backup while mounted" 0 "$C" backup "$DATA" "$T/live"
# What the mount says (the tool is checked against the filesystem, not
# against the daemon's handling of cp -a).
mnt_mode=$(stat -c %a "$MNT/app.conf")
umount_fs || FAILS=$((FAILS + 1))
snap "$DATA" >"$T/snap.before"
ck_rc "fs ls" 0 "$C" fs ls "$DATA" /
ck "fs ls lists app.conf" grep -q " app.conf$" "$T/out"
ck "fs ls shows the symlink" grep -q " link -> app.conf$" "$T/out"
ck_rc "fs cat" 0 "$C" fs cat "$DATA" /sub/blob.bin
ck "fs cat content" cmp -s "$T/out" "$T/src/sub/blob.bin"
ck_rc "fs cat of a missing path" 1 "$C" fs cat "$DATA" /nope
ck_rc "fs cat of a relative path" 2 "$C" fs cat "$DATA" nope
ck_rc "fs get of the whole tree" 0 "$C" fs get "$DATA" / "$T/restored"
ck "restored tree equals the source" diff -r "$T/src" "$T/restored"
ck_eq "mode kept" "$mnt_mode" "$(stat -c %a "$T/restored/app.conf")"
ck_eq "mtime kept" "$(stat -c %Y "$T/src/app.conf")" \
	"$(stat -c %Y "$T/restored/app.conf")"
ck_rc "backup of the unmounted store" 0 "$C" backup "$DATA" "$T/fsbk"
ck_rc "verify of the unmounted store" 0 "$C" verify "$DATA"
snap "$DATA" >"$T/snap.after"
ck_same "fs ls/cat/get, backup and verify write nothing into the store" \
	"$T/snap.before" "$T/snap.after"
"$C" verify --manifest "$T/fsbk" >"$T/fsbk.manifest" 2>/dev/null
ck_rc "the backup matches its manifest" 0 "$C" verify --manifest \
	"$T/fsbk.manifest" "$T/fsbk"
ck_rc "restore one file from the backup" 0 "$C" fs get "$T/fsbk" \
	/sub/blob.bin "$T/one.bin"
ck "restored file content" cmp -s "$T/one.bin" "$T/src/sub/blob.bin"
ck_rc "restore one file from the live backup" 0 "$C" fs get "$T/live" \
	/app.conf "$T/one.conf"
ck "live backup file content" cmp -s "$T/one.conf" "$T/src/app.conf"

step "a store another process holds: said once, naming the process"
# cask load holds the store's lock while it waits for its input.
mkfifo "$T/hold"
"$C" load "$DATA" <"$T/hold" 2>/dev/null &
holder=$!
exec 9>"$T/hold"
for _ in $(seq 100); do
	[ "$(head -n 1 "$DATA/LOCK" 2>/dev/null)" = "$holder" ] && break
	sleep 0.1
done
for cmd in "fsck --repair" "put" "fs put"; do
	case $cmd in
	put) args=(put "$DATA" k v) name=put ;;
	"fs put") args=(fs put "$DATA" "$T/src/app.conf" /other) name="fs put" ;;
	*) args=(fsck --repair "$DATA") name=fsck ;;
	esac
	ck_rc "$cmd refused" 3 "$C" "${args[@]}"
	ck "$cmd: one line naming the store and the process" \
		test "$(cat "$T/err")" = "cask $name: $DATA: in use by process $holder"
done
exec 9>&-
wait "$holder"
finish
