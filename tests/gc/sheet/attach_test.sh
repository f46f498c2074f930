#!/bin/bash
# attach_test.sh DSMRUN SHEET PROTOCOL — a user at "sheet -a 1", the
# terminal of user u1 outside the job (examples/sheet): what is typed there
# reaches u1's node, u1's output is shown without the node's echo of the
# typed lines, a collection asked by u0 shows up while u1 is idle, the end
# of the terminal's input (Ctrl-D) is quit. Compared with
# expected/attach_u1.txt, written by hand. Every wait has a deadline.
set -u
dsmrun=$1 sheet=$2 proto=$3 step=30
dir=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)
job= term=
cleanup() {
	[ -n "$job" ] && kill "$job" 2>/dev/null
	[ -n "$term" ] && kill "$term" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$dir"/u*.out "$dir/a1.txt" "$dir/job.log"; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; echo; }
	done
	exit 1
}
mkfifo "$dir/u0.in" "$dir/u1.in" "$dir/keys" || fail mkfifo
exec 3<>"$dir/u0.in" 4<>"$dir/keys"
"$dsmrun" -n 2 --protocol "$proto" "$sheet" -i "$dir" -o "$dir" >"$dir/job.log" 2>&1 3>&- 4>&- &
job=$!
"$sheet" -a 1 -i "$dir" -o "$dir" <"$dir/keys" >"$dir/a1.txt" 2>"$dir/a1.err" 3>&- 4>&- &
term=$!

# done_with U N: user U's node has echoed N commands and prompts again.
done_with() {
	local f=$dir/u$1.out
	[ -f "$f" ] && [ "$(grep -c "^u$1> ." "$f")" -ge "$2" ] && [ "$(tail -c 4 "$f")" = "u$1> " ]
}
wait_until() {
	local deadline=$((SECONDS + step)) what=$1
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && fail "no progress in ${step}s: $what"
		sleep 0.05
	done
}
u0() { echo "$2" >&3; wait_until "u0: $2" done_with 0 "$1"; }
u1() { echo "$2" >&4; wait_until "u1: $2" done_with 1 "$1"; }

u0 1 "set A1 10"
u1 1 "set B1 =A1+1"
u1 2 "check"
u1 3 "incorporate"
u1 4 "get B1"
u0 2 "gc"
exec 4>&- # Ctrl-D at u1's terminal
quit_out() { grep -q "^u1 quit (" "$dir/u1.out"; }
wait_until "u1's quit after the end of its terminal's input" quit_out
term_over() { ! kill -0 "$term" 2>/dev/null; }
wait_until "sheet -a 1 ending after u1 quit" term_over
wait "$term" || fail "sheet -a 1 exited with $?"
term=
echo quit >&3
job_over() { ! kill -0 "$job" 2>/dev/null; }
wait_until "the job's end" job_over
wait "$job" || fail "the job exited with $?"
job=
diff -u "$here/expected/attach_u1.txt" "$dir/a1.txt" || fail "u1's terminal differs from the expected"
echo "sheet -a under $proto: u1's terminal as expected"
