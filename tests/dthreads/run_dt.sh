#!/usr/bin/env bash
# run_dt.sh DSMDET PROG [RUNS] [--sorted]: run a plain pthreads program
# (compiled with -pthread only) under dsmdet RUNS times, half of them with
# random delays (DSM_DET_DELAY_US in the runtime, DT_TEST_DELAY in the
# program), and check that
#  - every dsmdet run exits 0 without a "dsmdet:" message on stderr and
#    prints byte-identical output;
#  - that output equals the program's own plain pthreads run, minus lines
#    starting with "sched:" (those depend on the schedule under pthreads);
#    with --sorted, equal as sorted lines (threads printing concurrently).
# The expected output comes from the plain run, never from dsmdet.
# Every run has DSM_DET_CHECK on (1 or 2; DT_CHECK=N forces one level):
# a broken runtime invariant aborts with a "dsmdet:" message.
set -u
DSMDET=${1:?dsmdet}; PROG=${2:?program}; RUNS=${3:-20}; MODE=${4:-}
BUILD=${BIN_DIR:-$(dirname "$DSMDET")}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (its runtime must come first; libdsm_dthreads interposes malloc and pthreads)"
	exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$PROG" >"$tmp/plain" 2>"$tmp/plain.err" || { echo "FAIL: plain run of $PROG exited $?"; cat "$tmp/plain.err"; exit 1; }
grep -v '^sched:' "$tmp/plain" >"$tmp/plain.f"
[ "$MODE" = --sorted ] && sort "$tmp/plain.f" -o "$tmp/plain.f"
for i in $(seq 1 "$RUNS"); do
	# the runtime's own invariant checks (docs/det-pthreads.md): the cheap
	# one (epoch at arrival) in every run, kept private copies vs the files
	# at every resume in runs 3, 4, 7, 8, ... (DT_CHECK=N: level N in all)
	if [ $((i % 4)) -ge 3 ] || [ $((i % 4)) -eq 0 ]; then
		export DSM_DET_CHECK=${DT_CHECK:-2}
	else
		export DSM_DET_CHECK=${DT_CHECK:-1}
	fi
	if [ $((i % 2)) -eq 0 ]; then
		DSM_DET_DELAY_US=${DT_DELAY_US:-300} DT_TEST_DELAY=1 timeout 60 "$DSMDET" "$PROG" >"$tmp/out" 2>"$tmp/err"
	else
		timeout 60 "$DSMDET" "$PROG" >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
	[ $rc -eq 0 ] || { echo "FAIL: run $i exited $rc"; cat "$tmp/err"; exit 1; }
	if grep -q '^dsmdet:' "$tmp/err"; then
		echo "FAIL: run $i: the runtime complained:"; grep '^dsmdet:' "$tmp/err" | head -5; exit 1
	fi
	if [ "$i" -eq 1 ]; then
		cp "$tmp/out" "$tmp/first"
		grep -v '^sched:' "$tmp/out" >"$tmp/det.f"
		[ "$MODE" = --sorted ] && sort "$tmp/det.f" -o "$tmp/det.f"
		if ! cmp -s "$tmp/plain.f" "$tmp/det.f"; then
			echo "FAIL: dsmdet output differs from the plain pthreads run:"
			diff "$tmp/plain.f" "$tmp/det.f" | head -20
			exit 1
		fi
	elif ! cmp -s "$tmp/first" "$tmp/out"; then
		echo "FAIL: run $i differs from run 1:"
		diff "$tmp/first" "$tmp/out" | head -20
		exit 1
	fi
done
echo "ok: $RUNS runs of $(basename "$PROG") identical ($(wc -l <"$tmp/first") lines), equal to the plain run${MODE:+ ($MODE)}"
