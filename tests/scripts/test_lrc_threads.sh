#!/usr/bin/env bash
# test_lrc_threads.sh — several application threads per node under lrc
# (issue 9 points 1 and 2): mn_threads_mixed with 4 threads per node
# (barriers on one, locks on two, dsm_malloc/dsm_free on one), at 2 and 4
# nodes, with slices large enough that DSM_GC_THRESHOLD=1M collects
# garbage during the run (the run must report collections, so the test
# checks that it exercises GC), and once without collection.
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u
PROG="$BIN_DIR/mn_threads_mixed"
[ -x "$PROG" ] || { echo "FAIL: $PROG not built"; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
run() { # nodes threads slice threshold want_gc
	DSM_LOG=info DSM_TIMEOUT=10 MN_THREADS=$2 MN_SLICE=$3 DSM_GC_THRESHOLD=$4 \
		timeout 300 "$DSMRUN" -n "$1" --protocol lrc "$PROG" >"$TMP/out" 2>&1
	local rc=$? gcs
	gcs=$(grep -c 'lrc: garbage collected' "$TMP/out")
	if [ $rc -ne 0 ]; then
		grep -v ' info: ' "$TMP/out" | head -20
		echo "FAIL: $1 nodes x $2 threads, slice $3, DSM_GC_THRESHOLD=$4: exit $rc"
		exit 1
	fi
	if [ "$5" = yes ] && [ "$gcs" -eq 0 ]; then
		echo "FAIL: $1 nodes, DSM_GC_THRESHOLD=$4: no garbage collection ran"
		exit 1
	fi
	echo "ok: $1 nodes x $2 threads, slice $3, DSM_GC_THRESHOLD=$4 ($gcs collection reports)"
}
run 2 4 300 16T no
run 2 4 40000 1M yes
run 2 2 40000 1M yes
run 4 4 20000 1M yes
echo "ok: lrc with several threads per node, with and without GC"
