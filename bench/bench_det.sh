#!/usr/bin/env bash
# bench/bench_det.sh — deterministic MapReduce vs pthreads (issue 4).
#
#   bench/bench_det.sh BUILD_DIR [--quick] [--runs R] [--apps "a b ..."]
#
# For each application of examples/mapreduce (built as
# BUILD_DIR/examples/mapreduce/mr_<app>) and 1, 2 and 4 workers, runs the
# pthreads version and the MapReduce-on-spaces version on the same
# generated input (each app's default size), alternating ALT processes of
# each (default 3, --quick 2) so both see the same background load; each
# process times R runs (default 4, --quick 3) and its first run (warm-up)
# is dropped. Takes the median (and the minimum) of each version. Prints
#   RESULT name=det_<app>_w<N> ours_us=<mr> raw_us=<pthreads> ratio=<mr/pt>
#          target=1.15 pages_twinned=<P> bytes_merged=<B>
# (P and B are per MapReduce run, from dsm_det_stats), one
#   RESULT name=det_geomean_w<N> ours_us=- raw_us=- ratio=<G> target=1.15
# per worker count (the target applies to 2 workers), and a markdown
# table. Exit status 1 if a binary is missing or a version's digest
# differs from the other's (wrong result); never on time.
set -u

usage() { echo "usage: $0 BUILD_DIR [--quick] [--runs R] [--apps LIST]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
RUNS=4
ALT=3
APPS="histogram linear_regression word_count kmeans pca string_match matrix_multiply"
WORKERS="1 2 4"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) RUNS=3 ALT=2 ;;
	--runs) [ $# -ge 2 ] || usage; RUNS=$2; shift ;;
	--apps) [ $# -ge 2 ] || usage; APPS=$2; shift ;;
	*) usage ;;
	esac
	shift
done
EX="$BUILD/examples/mapreduce"
TARGET=1.15
TMO=300
broken=0
ROWS=$(mktemp)
SAMP=$(mktemp)
trap 'rm -f "$ROWS" "$SAMP" "$SAMP".*' EXIT

# median of the numbers on stdin (one per line)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# sample BIN MODE W: run one process of R runs; append its times (the
# first dropped as warm-up when R > 1) to $SAMP.MODE, its digests to
# $SAMP.MODE.d and its MapReduce stats lines to $SAMP.MODE.s.
sample() {
	local out
	out=$(timeout "$TMO" "$1" -m "$2" -t "$3" -r "$RUNS" 2>/dev/null) || return 1
	echo "$out" | grep '^RESULT' | tail -n +$((RUNS > 1 ? 2 : 1)) |
		sed -n 's/.*time_us=\([0-9]*\).*/\1/p' >>"$SAMP.$2"
	echo "$out" | sed -n 's/^RESULT.*digest=\([0-9a-f]*\).*/\1/p' >>"$SAMP.$2.d"
	echo "$out" | grep '^DETSTATS' >>"$SAMP.$2.s"
	return 0
}

# measure BIN W: alternate pthreads and MapReduce processes $ALT times (so
# both see the same background load); prints "pt_median pt_min pt_digests
# mr_median mr_min mr_digests pages_twinned bytes_merged" (stats: median
# per MapReduce run).
measure() {
	rm -f "$SAMP".*
	for _ in $(seq "$ALT"); do
		sample "$1" pthreads "$2" && sample "$1" mr "$2" || return 1
	done
	for m in pthreads mr; do
		printf '%s %s %s ' "$(median <"$SAMP.$m")" "$(sort -n "$SAMP.$m" | head -1)" \
			"$(sort -u "$SAMP.$m.d" | tr '\n' ',')"
	done
	printf '%s %s\n' \
		"$(sed -n 's/.*pages_twinned=\([0-9]*\).*/\1/p' "$SAMP.mr.s" | median)" \
		"$(sed -n 's/.*bytes_merged=\([0-9]*\).*/\1/p' "$SAMP.mr.s" | median)"
}

for app in $APPS; do
	bin="$EX/mr_$app"
	if [ ! -x "$bin" ]; then
		echo "== det $app: SKIPPED, $bin not built"
		broken=1
		continue
	fi
	for w in $WORKERS; do
		if ! m=$(measure "$bin" "$w"); then
			echo "!! det $app w=$w: a run failed"
			broken=1
			continue
		fi
		set -- $m
		raw=$1 rawmin=$2 rawd=$3 ours=$4 oursmin=$5 ourd=$6 pages=${7:-0} bytes=${8:-0}
		if [ "$rawd" != "$ourd" ]; then
			echo "!! det $app w=$w: digests differ (pthreads $rawd mr $ourd)"
			broken=1
		fi
		ratio=$(awk -v a="$ours" -v b="$raw" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
		rmin=$(awk -v a="$oursmin" -v b="$rawmin" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
		echo "$app $w $ours $raw $ratio $pages $bytes $rmin" >>"$ROWS"
		echo "RESULT name=det_${app}_w$w ours_us=$ours raw_us=$raw ratio=$ratio" \
			"target=$TARGET pages_twinned=$pages bytes_merged=$bytes ratio_min=$rmin"
	done
done

for w in $WORKERS; do
	awk -v w="$w" -v tg="$TARGET" '$2 == w && $5 > 0 { s += log($5); n++ }
		END { if (n) printf "RESULT name=det_geomean_w%d ours_us=- raw_us=- " \
			"ratio=%.3f target=%s apps=%d\n", w, exp(s / n), tg, n }' "$ROWS"
done

echo
echo "| app | workers | MapReduce (us) | pthreads (us) | ratio | ratio of minima | pages twinned | bytes merged |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
awk '{ printf "| %s | %d | %d | %d | %.2f | %.2f | %d | %d |\n",
	$1, $2, $3, $4, $5, $8, $6, $7 }' "$ROWS"
for w in $WORKERS; do
	awk -v w="$w" '$2 == w && $5 > 0 && $8 > 0 { s += log($5); m += log($8); n++ }
		END { if (n) printf "| **geometric mean** | %d | | | **%.2f** | %.2f | | |\n", w,
			exp(s / n), exp(m / n) }' "$ROWS"
done
exit $broken
