#!/usr/bin/env bash
# stress.sh — run tests/mn/mn_threads_mixed (several application threads
# per node: barriers, locks and dsm_malloc/dsm_free at once) many times
# under every protocol and node count, with the default garbage-collection
# threshold and with DSM_GC_THRESHOLD=1M (slices large enough that lrc
# collects garbage during the run; the script checks that it did).
# `make stress` runs it after the mn_random seeds.
#
#   tests/scripts/stress.sh [build-dir]
#
# Environment:
#   STRESS_COUNT      runs per configuration (200)
#   STRESS_PROTOCOLS  protocols ("sc lrc hlrc")
#   STRESS_NODES      node counts ("2 4 8")
#   STRESS_GC         GC settings: "default" and/or "1M" ("default 1M")
#   STRESS_TIMEOUT    seconds per run before it counts as hung (120)
#
# Run i uses 2 + i % 3 threads per node (2, 3, 4: the lock-only, the
# allocating and the two-locker mixes). A failing run's output is kept
# under $TMPDIR/dsm-stress.*/ and named in the summary. Exit status 0 only
# if every run of every configuration passed.
set -u

BUILD=${1:-build}
COUNT=${STRESS_COUNT:-200}
PROTOCOLS=${STRESS_PROTOCOLS:-sc lrc hlrc}
NODES=${STRESS_NODES:-2 4 8}
GCS=${STRESS_GC:-default 1M}
TMO=${STRESS_TIMEOUT:-120}
DSMRUN="$BUILD/dsmrun"
PROG="$BUILD/tests/mn_threads_mixed"

for f in "$DSMRUN" "$PROG"; do
	[ -x "$f" ] || { echo "stress.sh: $f is not built (make build)"; exit 2; }
done
case "$COUNT" in '' | *[!0-9]*) echo "stress.sh: STRESS_COUNT must be a number"; exit 2 ;; esac
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/dsm-stress.XXXXXX")
total=0 failed=0

# One configuration: COUNT runs; prints one summary line.
config() { # protocol nodes gc
	local p=$1 n=$2 gc=$3 ok=0 bad=0 gcs=0 t0 i thr out rc
	local env=(DSM_TIMEOUT=10)
	[ "$gc" = 1M ] && env+=(DSM_GC_THRESHOLD=1M MN_SLICE=20000 DSM_LOG=info)
	t0=$(date +%s)
	for ((i = 0; i < COUNT; i++)); do
		thr=$((2 + i % 3))
		out="$LOGS/$p.$n.$gc.$i.log"
		env "${env[@]}" MN_THREADS=$thr timeout -k 5 "$TMO" \
			"$DSMRUN" -n "$n" --protocol "$p" "$PROG" >"$out" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			ok=$((ok + 1))
			[ "$gc" = 1M ] && gcs=$((gcs + $(grep -c 'lrc: garbage collected' "$out")))
			rm -f "$out"
		else
			bad=$((bad + 1))
			echo "  FAIL: $p, $n nodes, GC $gc, run $i ($thr threads): exit $rc, log $out"
		fi
	done
	total=$((total + COUNT))
	failed=$((failed + bad))
	local extra=""
	if [ "$gc" = 1M ] && [ "$p" = lrc ]; then
		extra=", $gcs collection reports"
		if [ "$ok" -gt 0 ] && [ "$gcs" -eq 0 ]; then
			echo "  FAIL: lrc with DSM_GC_THRESHOLD=1M never collected garbage"
			failed=$((failed + 1))
		fi
	fi
	printf 'stress: mn_threads_mixed %-4s %d nodes GC %-7s %d/%d passed in %d s%s\n' \
		"$p" "$n" "$gc" "$ok" "$COUNT" $(($(date +%s) - t0)) "$extra"
}

for gc in $GCS; do
	for p in $PROTOCOLS; do
		for n in $NODES; do
			config "$p" "$n" "$gc"
		done
	done
done
if [ "$failed" -eq 0 ]; then
	rm -rf "$LOGS"
	echo "stress: all $total runs of mn_threads_mixed passed"
	exit 0
fi
echo "stress: $failed of $total runs failed; logs in $LOGS"
exit 1
