#!/usr/bin/env bash
# bench/bench_dthreads.sh — unmodified pthreads programs (bench/apps
# <app>_pthreads: histogram, k-means, matrix multiply, word count, SOR,
# LU, n-body, integer sort) at 2 threads under plain pthreads and under
# dsmdet (libdsm_dthreads, docs/det-pthreads.md); prints min wall time of
# each over --reps runs, the ratio, and the geometric mean of the ratios.
# Every run must print ok=1 (its own check against the sequential result).
#
#   bench/bench_dthreads.sh BUILD_DIR [--reps R] [--apps "hg km ..."] [--threads T]
#
# Also prints the programs' own timing of their parallel part (time_s=).
# On a shared machine the figures are noisy: run several reps.
set -u
BUILD=${1:?usage: $0 BUILD_DIR [--reps R] [--apps LIST] [--threads T]}; shift
REPS=3; APPS="hg km mm wc sor lu nb is"; T=2
while [ $# -gt 0 ]; do
	case $1 in
	--reps) REPS=$2; shift ;;
	--apps) APPS=$2; shift ;;
	--threads) T=$2; shift ;;
	*) echo "unknown option $1"; exit 2 ;;
	esac
	shift
done
DSMDET=$BUILD/dsmdet
[ -x "$DSMDET" ] || { echo "no $DSMDET"; exit 1; }
now() { date +%s.%N; }
# run LABEL CMD...: min wall seconds over REPS runs on stdout, "fail" if any run fails
run() {
	local best="" t0 t1 out
	for _ in $(seq 1 "$REPS"); do
		t0=$(now)
		out=$(APP_THREADS=$T timeout 300 "$@" 2>&1) || { echo fail; return; }
		t1=$(now)
		echo "$out" | grep -q 'ok=1' || { echo fail; return; }
		best=$(echo "$t0 $t1 ${best:-1e9}" | awk '{d=$2-$1; print (d<$3?d:$3)}')
	done
	echo "$best"
}
printf "%-6s %12s %12s %8s\n" app pthreads_s dsmdet_s ratio
logsum=0; n=0
for app in $APPS; do
	prog=$BUILD/bench/apps/${app}_pthreads
	[ -x "$prog" ] || { echo "$app: no $prog"; continue; }
	p=$(run "$prog"); d=$(run "$DSMDET" "$prog")
	if [ "$p" = fail ] || [ "$d" = fail ]; then
		printf "%-6s %12s %12s %8s\n" "$app" "$p" "$d" "-"
		continue
	fi
	r=$(awk -v a="$d" -v b="$p" 'BEGIN{printf "%.2f", a/b}')
	printf "%-6s %12.3f %12.3f %8s\n" "$app" "$p" "$d" "$r"
	logsum=$(awk -v s="$logsum" -v r="$r" 'BEGIN{print s+log(r)}'); n=$((n + 1))
done
[ $n -gt 0 ] && awk -v s="$logsum" -v n="$n" 'BEGIN{printf "geometric mean ratio (dsmdet / pthreads, %d apps, %d threads): %.2f\n", n, '"$T"', exp(s/n)}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: timings are noisy)"
