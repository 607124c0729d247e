#!/bin/bash
# test_cask_progress.sh - the progress line of the cask tool's long
# commands (backup, verify, dump, load, fs get, fs put, merge): on a
# terminal (a pty made by script(1)) each draws "CMD  BYTES ... UNIT
# RATE/s  TIME left" with carriage returns and erases it at the end; with
# stderr not a terminal, or with --quiet, there is none.
. "$(dirname "$0")/common.sh"

[ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ] || skip "CASK_BIN is not built"
command -v script >/dev/null || skip "script(1) (bsdutils) is not installed"
C=$CASK_BIN

# on_tty COMMAND...: run it with stdin, stdout and stderr on a pty;
# the typescript goes to $T/tty. Returns the command's exit status.
on_tty() {
	local cmd=
	for a in "$@"; do
		cmd+=" $(printf '%q' "$a")"
	done
	script -qec "$cmd" /dev/null </dev/null >"$T/tty" 2>&1
}

# ck_progress NAME UNIT COMMAND...: on a terminal COMMAND succeeds and draws
# a line naming NAME, the bytes, UNIT (none: "-"), a rate and the time left,
# then erases it; with --quiet (inserted after the subcommand words NAME
# holds) it draws nothing; with stderr a file nothing either.
ck_progress() {
	local name=$1 unit=$2 rc words
	shift 2
	on_tty "$@"
	rc=$?
	# The drawn lines: after a CR, up to the erase-to-end-of-line.
	tr '\r' '\n' <"$T/tty" | grep -a "^$name  " >"$T/lines"
	if [ "$rc" -eq 0 ] && [ -s "$T/lines" ] &&
		grep -aq "B/s" "$T/lines" &&
		grep -aqE "[0-9]+(\.[0-9])? (B|KiB|MiB)" "$T/lines" &&
		{ [ "$unit" = - ] || grep -aqE "[0-9]+(/[0-9]+)? $unit" "$T/lines"; } &&
		grep -aq " left" "$T/lines" &&
		grep -aq $'\r\033\[K' "$T/tty"; then
		echo "ok   $name: a progress line on a terminal ($(head -n 1 "$T/lines" | tr -d '\033' | cut -c1-70))"
	else
		echo "FAIL $name: exit $rc, typescript:"
		od -c "$T/tty" | head -n 20 | sed 's/^/     /'
		FAILS=$((FAILS + 1))
	fi
}

# ck_none NAME HOW COMMAND...: no line is drawn when COMMAND (which has
# --quiet) runs on a terminal (HOW "tty"), or runs with stderr to a file
# (HOW "file").
ck_none() {
	local name=$1 how=$2 rc out=$T/err
	shift 2
	if [ "$how" = tty ]; then
		on_tty "$@"
		rc=$?
		out=$T/tty
	else
		"$@" </dev/null >"$T/out" 2>"$T/err"
		rc=$?
	fi
	if [ "$rc" -eq 0 ] && ! grep -aq $'\r'"$name  " "$out"; then
		echo "ok   $name: no progress line ($how)"
	else
		echo "FAIL $name: a progress line ($how), or exit $rc:"
		od -c "$out" | head -n 10 | sed 's/^/     /'
		FAILS=$((FAILS + 1))
	fi
}

step "a store of 3000 keys, loaded twice (dead bytes to merge)"
{
	echo "cask-dump 1"
	for i in $(seq 3000); do
		echo "put key$i $(printf 'v%.0s' $(seq 40))$i"
	done
	echo "end 3000"
} >"$T/dump"
KV=$T/kv
ck "load --create" "$C" load --create -q "$KV" -i "$T/dump"
ck_progress load records "$C" load "$KV" -i "$T/dump"
ck_none load tty "$C" load -q "$KV" -i "$T/dump"
ck_none load file "$C" load "$KV" -i "$T/dump"
ck_progress dump keys "$C" dump "$KV" -o "$T/dump2"
ck_none dump tty "$C" dump -q "$KV" -o "$T/dump2"
ck_none dump file "$C" dump "$KV" -o "$T/dump2"
ck_progress verify segments "$C" verify "$KV"
ck_none verify tty "$C" verify -q "$KV"
ck_none verify file "$C" verify "$KV"
ck_progress backup files "$C" backup "$KV" "$T/b1"
ck_none backup tty "$C" backup -q "$KV" "$T/b2"
ck_none backup file "$C" backup "$KV" "$T/b3"
ck_progress merge - "$C" merge "$KV"
"$C" load -q "$KV" -i "$T/dump"
ck_none merge tty "$C" merge -q "$KV"
"$C" load -q "$KV" -i "$T/dump"
ck_none merge file "$C" merge "$KV"

step "fs put and fs get"
mkdir -p "$T/src/sub"
for i in $(seq 20); do
	head -c $((i * 5000)) /dev/urandom >"$T/src/sub/f$i"
done
mount_fs
umount_fs || FAILS=$((FAILS + 1))
ck_progress "fs put" files "$C" fs put "$DATA" "$T/src" /a
ck_none "fs put" tty "$C" fs put -q "$DATA" "$T/src" /b
ck_none "fs put" file "$C" fs put "$DATA" "$T/src" /c
ck_progress "fs get" files "$C" fs get "$DATA" /a "$T/g1"
ck_none "fs get" tty "$C" fs get -q "$DATA" /a "$T/g2"
ck_none "fs get" file "$C" fs get "$DATA" /a "$T/g3"
ck "what fs get restored is what fs put took" diff -r "$T/src" "$T/g1"

finish
