#!/usr/bin/env bash
# test_dt_bh.sh: bench/apps' Barnes-Hut-like tree code (bh_pthreads,
# compiled with -pthread only) under dsmdet at 2 threads gives the
# sequential result (the program compares its final positions bit for bit
# with its own sequential run and prints ok=1), in 3 runs, the second and
# third with random delays, identical (digest of the positions) and equal
# to the plain pthreads run.
set -u
DSMDET=${DSMDET:?}; BUILD=${BIN_DIR:?}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
P=$BUILD/bench/apps/bh_pthreads
[ -x "$P" ] || { echo "FAIL: $P not built"; exit 1; }
ARGS="2048 3"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }
line() { grep '^APP name=bh ' "$1" | sed -E 's/time_s=[0-9.e+-]+ //'; }
# shellcheck disable=SC2086
APP_THREADS=2 APP_DIGEST=1 timeout 60 "$P" $ARGS >"$tmp/out" 2>"$tmp/err" || fail "plain run: status $?"
line "$tmp/out" >"$tmp/plain"
grep -q ' ok=1 .*digest=' "$tmp/plain" || fail "plain run: no ok=1 line with a digest"
for i in 1 2 3; do
	delay=0
	[ "$i" -ge 2 ] && delay=300
	# shellcheck disable=SC2086
	APP_THREADS=2 APP_DIGEST=1 DSM_DET_CHECK=1 DSM_DET_DELAY_US=$delay \
		timeout 60 "$DSMDET" "$P" $ARGS >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "dsmdet run $i: status $rc"
	grep -q '^dsmdet:' "$tmp/err" && fail "dsmdet run $i: the runtime complained"
	line "$tmp/out" >"$tmp/det"
	grep -q ' ok=1 ' "$tmp/det" || fail "dsmdet run $i: result differs from the sequential one"
	cmp -s "$tmp/plain" "$tmp/det" || fail "dsmdet run $i: $(cat "$tmp/det") is not the plain run's $(cat "$tmp/plain")"
done
echo "ok: bh_pthreads $ARGS at 2 threads under dsmdet: 3 runs equal to the sequential result and to the plain run"
