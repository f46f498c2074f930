#!/usr/bin/env bash
# bench/run.sh — run every libdsm microbenchmark and tabulate the results.
#
#   bench/run.sh BUILD_DIR [--quick] [--protocol P]
#
# Runs bench_fault directly (a 1-node job) and the multi-node benchmarks
# through BUILD_DIR/dsmrun (bench_mpi through mpirun, when built); collects
# every "RESULT name=..." line into BUILD_DIR/bench-results.txt and prints
# a markdown table. Benchmarks never fail on time: the exit status is 1
# only if a benchmark broke (a dsm_ call failed, wrong data, timeout,
# crash) or a binary is missing.
# --protocol P runs every benchmark under protocol P (default: the
# library's, and the remote fault and lock hand-off under both hlrc, the
# default, and sc). Full run: under ~3 minutes; --quick: under ~1 minute.
set -u

usage() { echo "usage: $0 BUILD_DIR [--quick] [--protocol P]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
QUICK=""
PROTO=()
PROTO_NAME=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=--quick ;;
	--protocol)
		[ $# -ge 2 ] || usage
		PROTO=(--protocol "$2")
		PROTO_NAME=$2
		shift
		;;
	*) usage ;;
	esac
	shift
done

OUT="$BUILD/bench-results.txt"
LOGDIR="$BUILD/bench-logs"
DSMRUN="$BUILD/dsmrun"
TMO=90
[ -n "$QUICK" ] && TMO=30
FAILED=()
mkdir -p "$LOGDIR"
: >"$OUT"

# Path of a benchmark binary in the build tree (bench/ or top level).
find_bin() {
	local b
	for b in "$BUILD/bench/$1" "$BUILD/$1"; do
		[ -x "$b" ] && { echo "$b"; return 0; }
	done
	return 1
}

# run LABEL NODES BINARY: run one benchmark (NODES=0: directly, without
# dsmrun), show its output, append its RESULT lines to $OUT.
run() {
	local label=$1 nodes=$2 bin log rc
	log="$LOGDIR/$label.log"
	if ! bin=$(find_bin "$3"); then
		echo "== $label: SKIPPED, $3 not built" | tee "$log"
		FAILED+=("$label (not built)")
		return
	fi
	echo "== $label"
	if [ "$nodes" -eq 0 ]; then
		# a 1-node job: the protocol comes from the environment
		env ${PROTO_NAME:+DSM_PROTOCOL="$PROTO_NAME"} \
			timeout "$TMO" "$bin" $QUICK >"$log" 2>&1
	else
		timeout "$TMO" "$DSMRUN" -n "$nodes" "${PROTO[@]}" "$bin" $QUICK \
			>"$log" 2>&1
	fi
	rc=$?
	sed 's/^/   /' "$log"
	grep -o 'RESULT name=.*' "$log" >>"$OUT"
	if [ $rc -ne 0 ]; then
		echo "   !! $label exited with status $rc"
		FAILED+=("$label (exit $rc)")
	fi
}

# bench_mpi under mpirun (2 ranks), when it was built (MPI found) and
# mpirun exists; otherwise say why it is skipped (not a failure).
run_mpi() {
	local bin log rc mpirun flags=(--oversubscribe)
	log="$LOGDIR/mpi.log"
	if ! bin=$(find_bin bench_mpi); then
		echo "== mpi: SKIPPED, bench_mpi not built (no MPI)" | tee "$log"
		return
	fi
	if ! mpirun=$(command -v mpirun); then
		echo "== mpi: SKIPPED, no mpirun" | tee "$log"
		return
	fi
	[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
	[ -n "$PROTO_NAME" ] && flags+=(-x "DSM_PROTOCOL=$PROTO_NAME")
	echo "== mpi"
	timeout "$TMO" "$mpirun" "${flags[@]}" -n 2 "$bin" $QUICK </dev/null >"$log" 2>&1
	rc=$?
	sed 's/^/   /' "$log"
	grep -o 'RESULT name=.*' "$log" >>"$OUT"
	if [ $rc -ne 0 ]; then
		echo "   !! mpi exited with status $rc"
		FAILED+=("mpi (exit $rc)")
	fi
}

# Print the markdown table from the RESULT lines: name, ours, raw, ratio,
# target, whether the ratio meets the target, and any extra fields. Where
# a line has ratio_spin (against the busy-polling raw round trip, the
# floor for a runtime that busy-polls), the target applies to it. A
# figure marked valid=0 (it did not measure what it names, e.g. no fault
# was taken) never "meets" its target.
table() {
	echo
	echo "| benchmark | ours (us) | raw (us) | ratio | target | meets target | notes |"
	echo "|---|---:|---:|---:|---:|---|---|"
	awk '{
		delete f; notes = "";
		for (i = 2; i <= NF; i++) {
			k = substr($i, 1, index($i, "=") - 1);
			v = substr($i, index($i, "=") + 1);
			f[k] = v;
			if (k !~ /^(name|ours_us|raw_us|ratio|target)$/)
				notes = notes (notes == "" ? "" : ", ") k "=" v;
		}
		meets = "n/a";
		if (f["valid"] == "0")
			meets = "n/a (not measured: see notes)";
		else if (f["target"] != "-" && f["target"] != "")
			meets = ((f["ratio_spin"] != "" ? f["ratio_spin"] : f["ratio"]) + 0 <= \
				 f["target"] + 0) ? "yes" : "no";
		printf("| %s | %.2f | %.2f | %.2f | %s | %s | %s |\n", f["name"],
		       f["ours_us"], f["raw_us"], f["ratio"], f["target"], meets, notes);
	}' "$OUT"
}

[ -x "$DSMRUN" ] || echo "warning: $DSMRUN not found; multi-node benchmarks will fail" >&2
START=$(date +%s)
run fault 0 bench_fault
if [ -n "$PROTO_NAME" ]; then
	run remote 2 bench_remote
	run lock 2 bench_lock
else
	SAVED_PROTO=("${PROTO[@]}")
	for p in hlrc sc; do
		PROTO=(--protocol "$p")
		run "remote_$p" 2 bench_remote
		run "lock_$p" 2 bench_lock
	done
	PROTO=("${SAVED_PROTO[@]}")
fi
run_mpi
for n in 2 4 8; do
	run "barrier_n$n" "$n" bench_barrier
done
run diff 0 bench_diff
run hetero 0 bench_hetero # byte-order conversion vs memcpy (docs/hetero.md)
# false sharing under both protocols (the messages tell the story)
SAVED_PROTO=("${PROTO[@]}")
for p in sc lrc; do
	for n in 2 4; do
		PROTO=(--protocol "$p")
		run "false_sharing_${p}_n$n" "$n" bench_false_sharing
	done
done
PROTO=("${SAVED_PROTO[@]}")

# ---- deterministic spaces + MapReduce vs pthreads (issue 4) ----
# bench/bench_det.sh runs the examples/mapreduce binaries; skipped (not a
# failure) when they are not built.
if [ -x "$BUILD/examples/mapreduce/mr_histogram" ]; then
	echo "== det_mapreduce"
	bash "$(dirname "$0")/bench_det.sh" "$BUILD" $QUICK >"$LOGDIR/det_mapreduce.log" 2>&1
	rc=$?
	sed 's/^/   /' "$LOGDIR/det_mapreduce.log"
	grep -o 'RESULT name=.*' "$LOGDIR/det_mapreduce.log" >>"$OUT"
	[ $rc -eq 0 ] || FAILED+=("det_mapreduce (exit $rc)")
else
	echo "== det_mapreduce: SKIPPED, examples/mapreduce not built in $BUILD"
fi

table
echo
echo "results: $OUT (logs in $LOGDIR), $(($(date +%s) - START)) s"
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "broken: ${FAILED[*]}"
	exit 1
fi
exit 0
