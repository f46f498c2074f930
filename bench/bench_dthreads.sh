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
# run CMD...: "wall cpu" (min wall seconds, min user+sys seconds of the
# process and its children) over REPS runs; "fail fail" if any run fails
run() {
	local bw="" bc="" out
	for _ in $(seq 1 "$REPS"); do
		out=$(APP_THREADS=$T timeout 300 /usr/bin/time -f "TIME %e %U %S" "$@" 2>&1) || { echo fail fail; return; }
		echo "$out" | grep -q 'ok=1' || { echo fail fail; return; }
		read -r w c < <(echo "$out" | awk '/^TIME /{print $2, $3 + $4}')
		bw=$(awk -v a="$w" -v b="${bw:-1e9}" 'BEGIN{print (a<b?a:b)}')
		bc=$(awk -v a="$c" -v b="${bc:-1e9}" 'BEGIN{print (a<b?a:b)}')
	done
	echo "$bw $bc"
}
printf "%-6s %10s %10s %7s %10s %10s %7s\n" app pthr_wall det_wall ratio pthr_cpu det_cpu ratio
logsum=0; clogsum=0; n=0
for app in $APPS; do
	prog=$BUILD/bench/apps/${app}_pthreads
	[ -x "$prog" ] || { echo "$app: no $prog"; continue; }
	read -r p pc < <(run "$prog"); read -r d dc < <(run "$DSMDET" "$prog")
	if [ "$p" = fail ] || [ "$d" = fail ]; then
		printf "%-6s %10s %10s %7s\n" "$app" "$p" "$d" "-"
		continue
	fi
	r=$(awk -v a="$d" -v b="$p" 'BEGIN{printf "%.2f", a/b}')
	rc=$(awk -v a="$dc" -v b="$pc" 'BEGIN{printf "%.2f", (b>0?a/b:1)}')
	printf "%-6s %10.3f %10.3f %7s %10.2f %10.2f %7s\n" "$app" "$p" "$d" "$r" "$pc" "$dc" "$rc"
	logsum=$(awk -v s="$logsum" -v r="$r" 'BEGIN{print s+log(r)}')
	clogsum=$(awk -v s="$clogsum" -v r="$rc" 'BEGIN{print s+log(r)}'); n=$((n + 1))
done
[ $n -gt 0 ] && awk -v s="$logsum" -v c="$clogsum" -v n="$n" 'BEGIN{printf "geometric mean ratio (dsmdet / pthreads, %d apps, %d threads): wall %.2f, cpu %.2f\n", n, '"$T"', exp(s/n), exp(c/n)}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: timings are noisy)"
