#!/bin/bash
# sheet_test.sh DSMRUN SHEET PROTOCOL [STEP_SECONDS] — three users at
# three terminals (examples/sheet, docs/gc.md). Each user's node reads its
# own FIFO; this script is the three users: it types script.txt's lines
# into their FIFOs, one at a time, waiting for the command's user to show
# the next prompt (so the run is deterministic, while the nodes run their
# streams independently and the idle ones sit in poll()). Every user's
# transcript (privileges and locks refused, check/incorporate showing
# exactly the others' changes, collections asked by one user joined by the
# idle ones and by one who quit, live objects and list sizes) and the
# saved sheets must equal the expected files, written by hand. Every wait
# has a deadline (STEP_SECONDS per command, default 30).
set -u
dsmrun=$1 sheet=$2 proto=$3 step=${4:-30}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
job=
cleanup() {
	[ -n "$job" ] && kill "$job" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$dir"/u*.out "$dir/job.log"; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; echo; }
	done
	exit 1
}

for u in 0 1 2; do
	mkfifo "$dir/u$u.in" || fail "mkfifo"
done
# Read-write opens of a FIFO never block: the feeds are open before the job.
exec 3<>"$dir/u0.in" 4<>"$dir/u1.in" 5<>"$dir/u2.in"
"$dsmrun" -n 3 --protocol "$proto" "$sheet" -i "$dir/u%d.in" -o "$dir/u%d.out" \
	>"$dir/job.log" 2>&1 3>&- 4>&- 5>&- &
job=$!

typed=(0 0 0)
# Whether user $1's command number $2 is done: $2 commands echoed and the
# transcript ends with the next prompt (or, for quit, the quit line is out).
done_with() {
	local f=$dir/u$1.out
	[ -f "$f" ] || return 1
	if [ "$3" = quit ]; then
		grep -q "^u$1 quit (" "$f"
		return
	fi
	[ "$(grep -c "^u$1> ." "$f")" -ge "$2" ] && [ "$(tail -c 4 "$f")" = "u$1> " ]
}
wait_until() { # deadline-seconds what command...
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ $SECONDS -ge $deadline ] && fail "no progress in ${step}s: $what"
		kill -0 "$job" 2>/dev/null || "$@" || fail "the job ended early: $what"
		sleep 0.05
	done
}

while IFS= read -r line; do
	case $line in '' | '#'*) continue ;; esac
	line=${line//@DIR@/$dir}
	u=${line%% *} cmd=${line#* }
	u=${u#u}
	echo "$cmd" >&$((3 + u)) || fail "typing into u$u"
	typed[u]=$((typed[u] + 1))
	wait_until "$step" "u$u: $cmd" done_with "$u" "${typed[u]}" "$cmd"
done <"$here/script.txt"

# Everyone has quit: the job must end on its own.
job_over() { ! kill -0 "$job" 2>/dev/null; }
wait_until "$step" "the job's end after every user quit" job_over
wait "$job"
rc=$?
job=
[ $rc = 0 ] || fail "the job exited with $rc"
rc=0
for f in u0.out u1.out u2.out sheet.txt final.txt; do
	[ -f "$dir/$f" ] || { echo "FAIL: no $f"; rc=1; continue; }
	if ! sed "s|$dir|@DIR@|g" "$dir/$f" | diff -u "$here/expected/$f" -; then
		echo "FAIL: $f differs from the expected"
		rc=1
	fi
done
[ $rc = 0 ] && echo "sheet: 3 users, 3 input streams, under $proto: transcripts and saved sheets as expected"
exit $rc
