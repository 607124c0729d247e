#!/bin/bash
# test_crash_loop.sh - CRASH_CYCLES (default 200) cycles of: start the
# caskfs daemon on the same data directory, check that it mounts, that
# every file fsync'ed in any earlier cycle has its synced content and that
# no name outside the workload's appeared, run a random workload
# (crash_worker.c, compiled here: creates, writes, appends, renames,
# unlinks, mkdirs, and synced files it reports only after fsync returned),
# SIGKILL the daemon at a random moment, and detach the dead mount
# (fusermount3 -uz). The daemon's options rotate over the cycles: the
# defaults, -o sync=never, -o sync=always, -o no_writeback. At the end the
# store is checked offline with `cask verify` (when CASK_BIN is set).
# CRASH_SEED fixes the random choices. First, the worker's judgment of an
# error: the daemon's death, or a fault of a daemon that still serves.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail


CC=${CC:-cc}
command -v "$CC" >/dev/null || skip "no C compiler ($CC) to build crash_worker"
SRC=$(cd "$(dirname "$0")" && pwd)/crash_worker.c
"$CC" -O2 -Wall -o "$T/crash_worker" "$SRC" || {
	echo "FAIL compiling $SRC"
	exit 1
}

CYCLES=${CRASH_CYCLES:-200}
SEED=${CRASH_SEED:-$((RANDOM << 15 | RANDOM))}
RANDOM=$SEED
echo "crash loop: $CYCLES cycles, seed $SEED (replay: CRASH_SEED=$SEED)"
SYNCED=$T/synced # every "SYNCED name hash" line of every cycle
: >"$SYNCED"
MOUNTS+=("$MNT")
WORKER=

# Our own fast mount wait: 10 ms steps, 10 s at most.
start_daemon() {
	"$CASKFS_BIN" "$DATA" "$MNT" -f "$@" >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	local i
	for i in $(seq 1000); do
		if is_served "$MNT"; then
			return 0
		fi
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

kill_all() {
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null || :
	[ -n "$DAEMON_PID" ] && wait "$DAEMON_PID" 2>/dev/null || :
	DAEMON_PID=
	[ -n "$WORKER" ] && kill -9 "$WORKER" 2>/dev/null || :
	[ -n "$WORKER" ] && wait "$WORKER" 2>/dev/null || :
	WORKER=
	if is_mounted "$MNT"; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" || :
	fi
}

# stopped PID: every thread of PID is stopped (state T).
stopped() {
	local t
	for t in /proc/"$1"/task/*; do
		grep -q '^State:[[:space:]]*T' "$t/status" 2>/dev/null || return 1
	done
}

# all_stopped PID: wait up to 5 s until every thread of PID is stopped.
all_stopped() {
	for _ in $(seq 500); do
		stopped "$1" && return 0
		sleep 0.01
	done
	return 1
}

# An EIO while the daemon serves is a fault. One that comes with the
# daemon's death is the crash: the kernel gives it when it cannot copy a
# write into the buffer of a daemon thread that the SIGKILL reached first,
# and the statfs the worker then asks waits until the connection is aborted
# (ECONNABORTED). A stopped daemon makes that statfs wait for sure.
judge_errors() {
	local pid w rc=0
	if ! start_daemon; then
		t_fail "the daemon did not mount the store"
		return
	fi
	if "$T/crash_worker" judge "$MNT" 2>/dev/null; then
		t_fail "the worker takes an EIO of a serving daemon for a crash"
	fi
	kill -STOP "$DAEMON_PID"
	# SIGSTOP reaches the daemon's threads one by one: until every one is
	# stopped, one of them may still answer the judge's statfs.
	all_stopped "$DAEMON_PID" || t_fail "the daemon did not stop"
	"$T/crash_worker" judge "$MNT" 2>"$T/judge.err" &
	pid=$!
	for _ in $(seq 500); do
		w=$(cat "/proc/$pid/wchan" 2>/dev/null) || break
		[ "$w" = request_wait_answer ] && break
		sleep 0.01
	done
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || :
	DAEMON_PID=
	wait "$pid" || rc=$?
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" || :
	if [ "$rc" -eq 0 ]; then
		t_ok "the worker tells a crash from a fault of a serving daemon"
	else
		t_fail "the worker takes the daemon's death for a fault:" \
			"$(head -c 300 "$T/judge.err")"
	fi
}
judge_errors

START=$(date +%s%N)
survived=0
worker_errors=0
synced_total=0
for cycle in $(seq 1 "$CYCLES"); do
	case $((cycle % 4)) in
	0) opts=() ;;
	1) opts=(-o sync=never) ;;
	2) opts=(-o sync=always) ;;
	3) opts=(-o no_writeback) ;;
	esac
	if ! start_daemon "${opts[@]}"; then
		t_fail "cycle $cycle: the daemon did not mount the store"
		tail -n 20 "$T/daemon.log"
		break
	fi
	if ! "$T/crash_worker" check "$MNT" "$SYNCED" >"$T/check.out" 2>&1; then
		t_fail "cycle $cycle: after the crash of cycle $((cycle - 1)):"
		grep PROBLEM "$T/check.out" | head -n 20
		kill_all
		break
	fi
	# The scratch work of the cycle before goes (not synced, not checked).
	rm -rf "$MNT/c$((cycle - 1))" || {
		t_fail "cycle $cycle: rm -rf of the last cycle's scratch"
		kill_all
		break
	}
	timeout 20 "$T/crash_worker" "$MNT" "$cycle" "$RANDOM$RANDOM" \
		>"$T/worker.out" 2>"$T/worker.err" &
	WORKER=$!
	# Kill the daemon 20-300 ms into the workload.
	sleep "0.$(printf '%03d' $((20 + RANDOM % 281)))"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || :
	DAEMON_PID=
	rc=0
	wait "$WORKER" || rc=$?
	WORKER=
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 137 ]; then
		worker_errors=$((worker_errors + 1))
		t_fail "cycle $cycle: the workload met an error before the" \
			"crash: $(head -c 300 "$T/worker.err")"
	fi
	grep '^SYNCED ' "$T/worker.out" >>"$SYNCED" || :
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" || :
	survived=$((survived + 1))
done
kill_all

# A last mount: checked, then unmounted cleanly, then opened offline.
if start_daemon; then
	if "$T/crash_worker" check "$MNT" "$SYNCED" >"$T/check.out" 2>&1; then
		t_ok "after the last crash: $(tail -n 1 "$T/check.out")"
	else
		t_fail "after the last crash:"
		grep PROBLEM "$T/check.out" | head -n 20
	fi
	umount_fs || t_fail "clean unmount at the end"
else
	t_fail "the daemon did not mount the store after the last crash"
fi
if [ -n "${CASK_BIN:-}" ] && [ -x "$CASK_BIN" ]; then
	if "$CASK_BIN" verify "$DATA" >"$T/verify.out" 2>&1; then
		t_ok "cask verify of the store after $CYCLES crashes:" \
			"$(tail -n 1 "$T/verify.out")"
	else
		t_fail "cask verify of the store:"
		tail -n 10 "$T/verify.out"
	fi
fi
synced_total=$(wc -l <"$SYNCED")
ms=$((($(date +%s%N) - START) / 1000000))
secs=$((ms / 1000)).$(printf "%03d" $((ms % 1000)))
if [ "$survived" -eq "$CYCLES" ]; then
	t_ok "$survived of $CYCLES crash cycles survived (mount, synced" \
		"content, no stray names); $synced_total synced files in all, each" \
		"checked in every later cycle"
else
	t_fail "$survived of $CYCLES crash cycles survived"
fi
[ "$worker_errors" -eq 0 ] && t_ok "no workload error before a crash"
echo "crash loop: $survived cycles in $secs s"
echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
