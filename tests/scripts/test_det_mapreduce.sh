#!/usr/bin/env bash
# test_det_mapreduce.sh — determinism of the MapReduce examples on
# deterministic spaces (issue 4): each application 20 times with 1, 2 and
# 4 workers must print the same digest as the sequential version; then a
# few runs with every space delayed a random time (children finish in any
# order) must too. The Phoenix-compatibility program is
# test_det_phoenix.sh, so its skip under a sanitizer is reported as one.
set -u
EX="${BIN_DIR:-build/tests}/../examples/mapreduce"
[ -x "$EX/mr_histogram" ] || { echo "SKIP: examples not built in $EX"; exit 77; }
RUNS=${DET_RUNS:-20}
export MR_CHUNK=16384 # many small map tasks from small inputs
fail=0

# app size: small inputs, so 7 apps x 3 worker counts x 20 runs stay quick
APPS="histogram:60000 linear_regression:200000 word_count:150000
string_match:300000 matrix_multiply:64 kmeans:6000 pca:40"

for spec in $APPS; do
	app=${spec%%:*} n=${spec##*:} bin="$EX/mr_$app"
	ref=$("$bin" -m seq -n "$n" | sed -n 's/.*digest=\([0-9a-f]*\).*/\1/p')
	[ -n "$ref" ] || { echo "FAIL $app: no sequential digest"; fail=1; continue; }
	for t in 1 2 4; do
		out=$("$bin" -m mr -t "$t" -n "$n" -r "$RUNS") || {
			echo "FAIL $app t=$t: exit status $?"; fail=1; continue; }
		bad=$(echo "$out" | grep '^RESULT' | grep -vc "digest=$ref")
		runs=$(echo "$out" | grep -c '^RESULT')
		if [ "$bad" -ne 0 ] || [ "$runs" -ne "$RUNS" ]; then
			echo "FAIL $app t=$t: $bad of $runs runs differ from $ref"
			fail=1
		fi
	done
	out=$(DSM_DET_DELAY_US=3000 "$bin" -m mr -t 4 -n "$n" -r 3) || {
		echo "FAIL $app delayed: exit status $?"; fail=1; continue; }
	if echo "$out" | grep '^RESULT' | grep -vq "digest=$ref"; then
		echo "FAIL $app: delayed children changed the result"
		fail=1
	fi
	echo "ok   $app: $((3 * RUNS + 3)) MapReduce runs equal the sequential digest $ref"
done

exit $fail
