#!/usr/bin/env bash
# test_dt_nprocs.sh: DSM_DET_NPROCS=N makes a program under dsmdet see N
# processors (sysconf _SC_NPROCESSORS_ONLN/_CONF, get_nprocs,
# get_nprocs_conf, sched_getaffinity, pthread_getaffinity_np; in main and
# in a thread) and start N threads, for N = 1, 3 and 5 (more than this
# machine may have), 4 runs each, identical; unset: what the plain run
# sees (dthreads.dt_nprocs checks that over 20 runs); a bad value stops
# the program with a message.
set -u
DSMDET=${DSMDET:?}; DIR=${DT_PROG_DIR:?}
BUILD=${BIN_DIR:-$(dirname "$DSMDET")}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
P=$DIR/dt_nprocs
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }
page=$(getconf PAGESIZE)
for n in 1 3 5; do
	want="sysconf_onln $n sysconf_conf $n get_nprocs $n get_nprocs_conf $n sched_getaffinity $n pthread_getaffinity_np $n"
	for i in 1 2 3 4; do
		if [ $((i % 2)) -eq 0 ]; then
			DSM_DET_NPROCS=$n DSM_DET_DELAY_US=300 DT_TEST_DELAY=1 timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err"
		else
			DSM_DET_NPROCS=$n timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err"
		fi
		rc=$?
		[ "$rc" -eq 0 ] || fail "DSM_DET_NPROCS=$n run $i: status $rc"
		grep -qx "main: $want" "$tmp/out" || fail "DSM_DET_NPROCS=$n: main does not see $n processors"
		grep -qx "thread: $want" "$tmp/out" || fail "DSM_DET_NPROCS=$n: the thread does not see $n processors"
		grep -qx "threads $n total $((n * (n + 1) / 2))" "$tmp/out" || fail "DSM_DET_NPROCS=$n: not $n threads"
		grep -qx "page $page" "$tmp/out" || fail "DSM_DET_NPROCS=$n: sysconf(_SC_PAGESIZE) changed"
		grep -q '^dsmdet:' "$tmp/err" && fail "DSM_DET_NPROCS=$n: the runtime complained"
		[ "$i" -eq 1 ] && cp "$tmp/out" "$tmp/first"
		cmp -s "$tmp/first" "$tmp/out" || fail "DSM_DET_NPROCS=$n: run $i differs"
	done
	echo "ok: DSM_DET_NPROCS=$n"
done
# unset (or empty): the machine's answers, as in the plain run
"$P" >"$tmp/plain" 2>/dev/null || { echo "FAIL: plain run"; exit 1; }
DSM_DET_NPROCS= timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err" || fail "DSM_DET_NPROCS empty: status $?"
cmp -s "$tmp/plain" "$tmp/out" || fail "DSM_DET_NPROCS empty: differs from the plain run"
(unset DSM_DET_NPROCS; timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err") || fail "DSM_DET_NPROCS unset: status $?"
cmp -s "$tmp/plain" "$tmp/out" || fail "DSM_DET_NPROCS unset: differs from the plain run"
echo "ok: unset, as the plain run"
for bad in 0 x 2x -1 100000; do
	DSM_DET_NPROCS=$bad timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -ne 0 ] || fail "DSM_DET_NPROCS=$bad: status 0"
	grep -q "DSM_DET_NPROCS=$bad: expected" "$tmp/err" || fail "DSM_DET_NPROCS=$bad: no message"
done
echo "ok: bad values refused"
