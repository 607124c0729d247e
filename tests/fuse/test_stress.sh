#!/bin/bash
# test_stress.sh - 8 concurrent workers doing mixed operations on one
# caskfs mount (create, overwrite, append, read-and-verify, rename, unlink,
# mkdir, readdir; in a directory of their own and in one they all share)
# for STRESS_SECONDS (default 30) while merges are started over and over
# (setfattr user.caskfs.merge and SIGUSR1; small segments so that there is
# much to merge). Each worker keeps a model (name -> md5) of its files and
# checks every read against it; at the end every file is checked against
# the models, before and after a remount, and the daemon must have lived.
set -euo pipefail
. "$(dirname "$0")/common.sh"
set -euo pipefail

command -v setfattr >/dev/null || skip "setfattr (attr) is not installed"

WORKERS=8
SECONDS_RUN=${STRESS_SECONDS:-30}
mount_fs -- -o segment_size=1M
mkdir "$MNT/shared"

# worker N: runs until $T/stop exists; writes its model to $T/model.N
# (lines "path md5", path relative to the mount) and errors to $T/err.N.
worker() {
	local w=$1 n=0 op name f g sum got len
	local own=w$w
	local -A model=() # path -> md5
	local src=$T/src.$w sh=$T/shadow.$w # native copies of the files
	set +e # every failure is recorded, none ends the worker
	mkdir "$MNT/$own" "$sh"
	: >"$T/err.$w"
	RANDOM=$((w * 7919 + $$))
	while [ ! -e "$T/stop" ]; do
		n=$((n + 1))
		op=$((RANDOM % 100))
		# a name in the worker's dir, a subdir of it, or the shared dir
		case $((RANDOM % 3)) in
		0) name=$own/f$((RANDOM % 16)) ;;
		1) name=$own/d$((RANDOM % 3))/f$((RANDOM % 8)) ;;
		2) name=shared/w${w}_$((RANDOM % 16)) ;;
		esac
		if [ "$op" -lt 30 ]; then # create or overwrite
			len=$((RANDOM % 4 == 0 ? RANDOM * 4 : RANDOM % 5000))
			head -c "$len" /dev/urandom >"$src"
			if cp "$src" "$MNT/$name" 2>/dev/null; then
				cp "$src" "$sh/${name//\//_}"
				model[$name]=$(md5sum <"$src" | cut -c1-32)
			elif [ -d "$MNT/${name%/*}" ]; then
				echo "cp to $name failed" >>"$T/err.$w"
			fi
		elif [ "$op" -lt 40 ]; then # append
			[ -n "${model[$name]:-}" ] || continue
			f=$sh/${name//\//_}
			printf 'append %d %d\n' "$w" "$n" >>"$f"
			model[$name]=$(md5sum <"$f" | cut -c1-32)
			printf 'append %d %d\n' "$w" "$n" >>"$MNT/$name" ||
				echo "append to $name failed" >>"$T/err.$w"
		elif [ "$op" -lt 65 ]; then # read and verify
			[ -n "${model[$name]:-}" ] || continue
			got=$(md5sum <"$MNT/$name" | cut -c1-32) || got=unreadable
			[ "$got" = "${model[$name]}" ] ||
				echo "read of $name: md5 $got, expected ${model[$name]}" >>"$T/err.$w"
		elif [ "$op" -lt 75 ]; then # rename (maybe over another file)
			[ -n "${model[$name]:-}" ] || continue
			g=${name%/*}/r$((RANDOM % 16))
			[ "${name%/*}" = shared ] && g=shared/w${w}_$((RANDOM % 16))
			[ "$g" = "$name" ] && continue
			if mv -f "$MNT/$name" "$MNT/$g"; then
				mv -f "$sh/${name//\//_}" "$sh/${g//\//_}"
				model[$g]=${model[$name]}
				unset "model[$name]"
			else
				echo "mv $name $g failed" >>"$T/err.$w"
			fi
		elif [ "$op" -lt 85 ]; then # unlink
			[ -n "${model[$name]:-}" ] || continue
			if rm "$MNT/$name"; then
				rm -f "$sh/${name//\//_}"
				unset "model[$name]"
			else
				echo "rm $name failed" >>"$T/err.$w"
			fi
		elif [ "$op" -lt 90 ]; then # mkdir
			mkdir -p "$MNT/$own/d$((RANDOM % 3))" ||
				echo "mkdir failed" >>"$T/err.$w"
		else # readdir: the listing holds exactly the model's names
			f=$own
			[ $((RANDOM % 2)) = 0 ] && f=shared
			got=$(cd "$MNT/$f" && find . -maxdepth 2 -type f |
				sed "s|^\./|$f/|" | grep -E "^($own/|shared/w${w}_)" | sort)
			sum=$(for g in "${!model[@]}"; do
				case $g in "$f"/*) echo "$g" ;; esac
			done | sort)
			[ "$got" = "$sum" ] ||
				echo "listing of $f: $(diff <(echo "$sum") <(echo "$got") | grep '^[<>]' | head -3 | xargs)" >>"$T/err.$w"
		fi
	done
	for g in "${!model[@]}"; do
		echo "$g ${model[$g]}"
	done | sort >"$T/model.$w"
	echo "$n" >"$T/ops.$w"
}

step "$WORKERS workers for $SECONDS_RUN s, merges started all along"
pids=()
for w in $(seq 1 $WORKERS); do
	worker "$w" &
	pids+=($!)
done
end=$((SECONDS + SECONDS_RUN))
merges_asked=0
busy=0
while [ $SECONDS -lt $end ]; do
	sleep 0.5
	if [ $((merges_asked % 2)) = 0 ]; then
		if ! out=$(setfattr -n user.caskfs.merge -v 1 "$MNT" 2>&1); then
			case $out in
			*busy*) busy=$((busy + 1)) ;;
			*) t_fail "setfattr user.caskfs.merge: $out" ;;
			esac
		fi
	else
		kill -USR1 "$DAEMON_PID"
	fi
	merges_asked=$((merges_asked + 1))
	require_alive "the stress run" || break
done
touch "$T/stop"
for p in "${pids[@]}"; do
	wait "$p" || t_fail "a worker exited with an error"
done
require_alive "the stress run" || exit 1
t_ok "the daemon lived through $merges_asked merge requests ($busy refused as busy)"
stats=$(getfattr --only-values -n user.caskfs.stats "$MNT" 2>/dev/null || :)
echo "   $(echo "$stats" | grep -E '^(merges|segments|keys|dead_bytes):' | xargs)"
merges=$(echo "$stats" | awk -F': *' '$1 == "merges" { print $2 }')
if [ -n "$merges" ] && [ "$merges" -gt 0 ]; then
	t_ok "$merges merges ran during the workload"
else
	t_fail "no merge ran (stats: $(echo "$stats" | xargs))"
fi
ops=$(cat "$T"/ops.* | awk '{ s += $1 } END { print s }')
echo "   $ops operations by $WORKERS workers"

errs=$(cat "$T"/err.*)
if [ -z "$errs" ]; then
	t_ok "no worker saw a wrong read, listing or failed call ($ops operations)"
else
	t_fail "$(echo "$errs" | wc -l) worker errors:"
	echo "$errs" | head -n 20
fi

# check_models WHEN: every file of the mount is in a model with its md5,
# and every model entry is there.
check_models() {
	local bad
	sort "$T"/model.* >"$T/expected"
	(cd "$MNT" && find . -type f | sed 's|^\./||' | sort |
		while read -r f; do echo "$f $(md5sum <"$f" | cut -c1-32)"; done) \
		>"$T/actual"
	if bad=$(diff "$T/expected" "$T/actual"); then
		t_ok "$1: $(wc -l <"$T/expected") files match the workers' models"
	else
		t_fail "$1: the files differ from the models:"
		echo "$bad" | head -n 20
	fi
}
check_models "after the workload"
umount_fs || t_fail "clean unmount"
mount_fs
check_models "after a remount"
umount_fs || t_fail "clean unmount after the check"
echo "$PASSED passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
