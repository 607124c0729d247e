#!/bin/bash
# test_cask_json.sh - the cask tool's --json output (verify, backup, stat,
# fs ls, scan) parses as JSON, checked by json_check.c (compiled here: a
# bare Debian root has no python3 or jq), and holds the members docs/cask.1
# documents: a clean store, one that is not a store (problems listed), a
# backup taken while mounted (the window mechanism), names that are UTF-8
# (as they are) and names that are not (NAME_latin1).
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC) to build json_check"
"$CC" -O2 -Wall -o "$T/json_check" "$(dirname "$0")/json_check.c" ||
	skip "json_check.c does not build"
C=$CASK_BIN
J=$T/json_check

# ck_json DESCRIPTION [-l] COMMAND...: COMMAND exits 0 or 1 and its stdout
# (kept in $T/out) parses.
ck_json() {
	local d=$1 lines=
	shift
	[ "$1" = -l ] && lines=-l && shift
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" -le 1 ] && "$J" $lines <"$T/out" >/dev/null 2>"$T/jerr"; then
		echo "ok   $d (exit $rc)"
	else
		echo "FAIL $d: exit $rc; $(cat "$T/jerr"); stdout:"
		head -c 2000 "$T/out" | sed 's/^/     /'
		sed 's/^/     stderr: /' "$T/err"
		FAILS=$((FAILS + 1))
	fi
}

# has MEMBER_TEXT: $T/out holds it.
has() {
	grep -qF -- "$1" "$T/out"
}

step "the checker itself"
ck "accepts an object" sh -c "echo '{\"a\":[1,-2.5e3,true,null,\"\\u00ff\"]}' | '$J'"
ck "refuses a missing value" sh -c "! echo '{\"a\":}' | '$J' 2>/dev/null"
ck "refuses invalid UTF-8 in a string" sh -c "! printf '\"\\377\"' | '$J' 2>/dev/null"
ck "refuses two values" sh -c "! echo '{} {}' | '$J' 2>/dev/null"

step "a caskfs store with UTF-8 and non-UTF-8 names"
mount_fs
mkdir "$MNT/dir"
echo hello >"$MNT/dir/grüße.txt"
echo x >"$MNT/dir/$(printf 'bad\377name')"
ln -s grüße.txt "$MNT/dir/link"
chown 4321:4321 "$MNT/dir/link" 2>/dev/null
ck_json "backup --json while mounted" "$C" backup --json "$DATA" "$T/live"
ck "backup names the window mechanism" has '"mechanism":"window"'
ck "backup names the mount" has "\"mount\":\"$MNT\""
ck "backup says verified" has '"verified":true'
ck "backup --json writes no status line" test ! -s "$T/err"
umount_fs || FAILS=$((FAILS + 1))

step "verify, stat, fs ls, scan"
ck_json "verify --json" "$C" verify --json "$DATA"
ck "verify: ok" has '"ok":true'
ck "verify: status" has '"status":"ok"'
ck "verify: the caskfs check" has '"caskfs":{"mounts":true'
ck "verify --json writes no summary" test ! -s "$T/err"
ck_json "stat --json" "$C" stat --json "$DATA"
ck "stat: keys" has '"keys":'
ck_json "fs ls --json" "$C" fs ls --json "$DATA" /dir
ck "fs ls: a UTF-8 name as it is" has '"name":"grüße.txt"'
ck "fs ls: a non-UTF-8 name as name_latin1" has '"name_latin1":"bad\u00ffname"'
ck "fs ls: a symlink's target" has '"target":"grüße.txt"'
ck "fs ls: owners by name" has '"user":"root"'
ck "fs ls: an owner this system does not know is null" has '"user":null'
ck_json "fs ls --json of one file" "$C" fs ls --json "$DATA" /dir/grüße.txt
ck_json "scan --json (JSON lines)" -l "$C" scan --json "$DATA"
ck_json "backup --json offline" "$C" backup --json "$DATA" "$T/copy"
ck "backup offline: the check mechanism" has '"mechanism":"check","mount":null'

step "verify --json of a store that holds no caskfs"
"$C" put --create "$T/kv" key value
ck_json "verify --json" "$C" verify --json "$T/kv"
ck "caskfs is null" has '"caskfs":null'
ck "ok" has '"ok":true'

step "verify --json of a directory that is not a store"
cp -a "$T/copy" "$T/foreign"
echo notes >"$T/foreign/notes.txt"
ck_json "verify --json (exit 1)" "$C" verify --json "$T/foreign"
ck "status NOT A STORE" has '"status":"NOT A STORE"'
ck "the note is a problem" has '"kind":"note","message":"holds 1 file libcask did not create (notes.txt)'
ck "not ok" has '"ok":false'
"$C" verify --json --manifest "$T/copy" >/dev/null 2>"$T/err"
ck_eq "--json with --manifest is a usage error" 2 "$?"

finish
