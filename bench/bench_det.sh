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
#
#   bench/bench_det.sh BUILD_DIR --phoenix PHOENIX_2_0_DIR [--small] [--runs R]
#
# Phoenix mode (issue 11): Phoenix 2.0's own seven programs, compiled
# unchanged against BUILD_DIR's map_reduce.h and libdsm_mapreduce, against
# the same programs on Phoenix's pthreads runtime (PHOENIX_2_0_DIR: the
# phoenix-2.0 folder of a Phoenix checkout, built with its Makefile if its
# binaries are missing; nothing of it is in this tree). Inputs are
# generated (BUILD_DIR/phoenix-data). For each program: its output (minus
# the line that prints elapsed seconds) compared with Phoenix's at 2
# workers over R runs (default 5), at 1 and 4 workers and with
# DSM_DET_DELAY_US=3000; time at 2 workers alternating both (minimum and
# median of R); peak memory (sum of Pss over the process and its
# children, sampled every 10 ms; needs python3, else max RSS of one
# process). Prints RESULT lines, a markdown table and the geometric mean
# of the time ratios over programs whose pthreads run takes >= 0.5 s.
# --small: small inputs (a quick check of outputs). Exit status 1 if an
# output differs.
set -u

usage() {
	echo "usage: $0 BUILD_DIR [--quick] [--runs R] [--apps LIST]" >&2
	echo "       $0 BUILD_DIR --phoenix PHOENIX_2_0_DIR [--small] [--runs R]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift

# ---- Phoenix mode ---------------------------------------------------------

# gen_inputs DIR SMALL: the programs' input files (deterministic).
gen_inputs() {
	local d=$1 small=$2 mb rows
	mkdir -p "$d"
	if [ "$small" = 1 ]; then mb=10 rows=1000; else mb=50 rows=150000; fi
	# word_count, string_match: lines of 12 words from a 20000-word vocabulary
	[ -s "$d/words.txt" ] && [ "$(cat "$d/words.mb" 2>/dev/null)" = "$mb" ] ||
		{ awk -v mb="$mb" 'BEGIN { srand(7)
			for (i = 0; i < 20000; i++) { w = ""; n = 2 + int(rand() * 9)
				for (c = 0; c < n; c++) w = w sprintf("%c", 97 + int(rand() * 26))
				v[i] = w }
			v[20000] = "Helloworld"; v[20001] = "howareyou"
			while (t < mb * 1048576) { l = v[int(rand() * 20002)]
				for (k = 1; k < 12; k++) l = l " " v[int(rand() * 20002)]
				print l; t += length(l) + 1 } }' >"$d/words.txt" && echo "$mb" >"$d/words.mb"; }
	# histogram: a 24-bit BMP, 1000 pixels wide; linear_regression: bytes
	if [ ! -s "$d/image.bmp" ] || [ "$(cat "$d/image.rows" 2>/dev/null)" != "$rows" ]; then
		{ printf 'BM'; le32 $((54 + 3000 * rows)); le32 0; le32 54; le32 40
		  le32 1000; le32 "$rows"; printf '\001\000\030\000'; le32 0
		  le32 $((3000 * rows)); le32 2835; le32 2835; le32 0; le32 0
		  head -c $((3000 * rows)) /dev/urandom; } >"$d/image.bmp"
		echo "$rows" >"$d/image.rows"
	fi
	[ -s "$d/points.bin" ] && [ "$(cat "$d/points.mb" 2>/dev/null)" = "$mb" ] ||
		{ head -c $((mb * 8 * 1048576)) /dev/urandom >"$d/points.bin" && echo "$mb" >"$d/points.mb"; }
}

# le32 N: N as 4 little-endian bytes
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 24 & 255)))"; }

# peak_run OUT CMD...: run CMD (stdout to OUT); prints "seconds peak_kb"
# (peak: sum of Pss over the process tree when python3 is there, else the
# maximum RSS of one process).
peak_run() {
	local out=$1; shift
	if command -v python3 >/dev/null; then
		python3 - "$out" "$@" <<'PY'
import os, subprocess, sys, time
def kids(pid):
    out = []
    try:
        for t in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{t}/children') as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out
def pss(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for l in f:
                if l.startswith('Pss:'):
                    return int(l.split()[1])
    except OSError:
        pass
    return 0
t0 = time.time()
with open(sys.argv[1], 'w') as o:
    p = subprocess.Popen(sys.argv[2:], stdout=o, stderr=subprocess.DEVNULL)
    peak = 0
    while p.poll() is None:
        tot, todo = 0, [p.pid]
        while todo:
            q = todo.pop()
            tot += pss(q)
            todo += kids(q)
        peak = max(peak, tot)
        time.sleep(0.01)
print(f"{time.time() - t0:.3f} {peak}")
PY
	else
		/usr/bin/time -f "%e %M" "$@" 2>&1 >"$out" | tail -1
	fi
}

# timed OUT CMD...: run CMD (stdout to OUT); prints its wall seconds and
# its CPU seconds (user + system, its children included): on a loaded
# machine the second moves far less than the first.
timed() {
	local out=$1 tf; shift
	tf=$(mktemp)
	/usr/bin/time -f "%e %U %S" -o "$tf" "$@" >"$out" 2>/dev/null
	awk '{ printf "%.3f,%.3f\n", $1, $2 + $3 }' "$tf"
	rm -f "$tf"
}

phoenix_main() {
	local phx="" small=0 runs=5 data tmp app args p o bad=0 rows
	while [ $# -gt 0 ]; do
		case "$1" in
		--phoenix) [ $# -ge 2 ] || usage; phx=$(cd "$2" && pwd) || usage; shift ;;
		--small) small=1 ;;
		--runs) [ $# -ge 2 ] || usage; runs=$2; shift ;;
		*) usage ;;
		esac
		shift
	done
	[ -d "$phx/tests/histogram" ] || { echo "no Phoenix 2.0 tests in $phx" >&2; exit 2; }
	if [ ! -x "$phx/tests/word_count/word_count" ]; then
		make -C "$phx" >/dev/null 2>&1 || { echo "cannot build Phoenix in $phx" >&2; exit 2; }
	fi
	data="$BUILD/phoenix-data"
	gen_inputs "$data" "$small"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/ours" "$tmp/run-p" "$tmp/run-o"
	for app in histogram kmeans linear_regression matrix_multiply pca string_match word_count; do
		extra=""
		[ "$app" = word_count ] && extra="$phx/tests/word_count/sort.c"
		# shellcheck disable=SC2086
		${CC:-cc} -O3 -D_LINUX_ -w -I"$SRC_INCLUDE" -I"$phx/include" -o "$tmp/ours/$app" \
			"$phx/tests/$app/$app.c" $extra -L"$BUILD" -Wl,-rpath,"$BUILD" \
			-ldsm_mapreduce -lm -pthread || { echo "cannot build $app against libdsm_mapreduce" >&2; exit 2; }
	done
	if [ "$small" = 1 ]; then mm=300 kp=20000 pr=300; else mm=800 kp=20000 pr=1000; fi
	(cd "$tmp/run-p" && "$phx/tests/matrix_multiply/matrix_multiply" "$mm" 10 create >/dev/null 2>&1)
	cp "$tmp/run-p"/matrix_file_* "$tmp/run-o/"
	rows=$(mktemp)
	for spec in "histogram $data/image.bmp" "kmeans -d 3 -c 100 -p $kp -s 1000" \
		"linear_regression $data/points.bin" "matrix_multiply $mm 10" \
		"pca -r $pr -c $pr -s 100" "string_match $data/words.txt" \
		"word_count $data/words.txt 10"; do
		app=${spec%% *} args=${spec#* }
		p="$phx/tests/$app/$app" o="$tmp/ours/$app"
		# shellcheck disable=SC2086
		(cd "$tmp/run-p" && MR_NUMTHREADS=2 "$p" $args 2>/dev/null | grep -v 'Completed [0-9]') >"$tmp/ref" ||
			{ echo "!! $app: Phoenix's run failed"; bad=1; continue; }
		same=0 total=0 pts="" ots=""
		for w in 2 1 4 d; do
			n=1
			[ "$w" = 2 ] && n=$runs
			for i in $(seq "$n"); do
				# shellcheck disable=SC2086
				if [ "$w" = d ]; then
					r=$(cd "$tmp/run-o" && DSM_DET_DELAY_US=3000 MR_NUMTHREADS=4 timed "$tmp/out" "$o" $args)
				else
					r=$(cd "$tmp/run-o" && MR_NUMTHREADS=$w timed "$tmp/out" "$o" $args)
				fi
				grep -v 'Completed [0-9]' "$tmp/out" >"$tmp/outf"
				total=$((total + 1))
				cmp -s "$tmp/ref" "$tmp/outf" && same=$((same + 1))
				[ "$w" = 2 ] || continue
				ots="$ots $r"
				# shellcheck disable=SC2086
				pts="$pts $(cd "$tmp/run-p" && MR_NUMTHREADS=2 timed /dev/null "$p" $args)"
			done
		done
		# memory apart: sampling slows the process it samples
		# shellcheck disable=SC2086
		pm=$(cd "$tmp/run-p" && MR_NUMTHREADS=2 peak_run /dev/null "$p" $args)
		# shellcheck disable=SC2086
		om=$(cd "$tmp/run-o" && MR_NUMTHREADS=2 peak_run /dev/null "$o" $args)
		pm=${pm#* } om=${om#* }
		[ "$same" = "$total" ] || bad=1
		pmin=$(echo $pts | tr ' ' '\n' | cut -d, -f1 | sort -n | head -1)
		omin=$(echo $ots | tr ' ' '\n' | cut -d, -f1 | sort -n | head -1)
		pmed=$(echo $pts | tr ' ' '\n' | cut -d, -f1 | median)
		omed=$(echo $ots | tr ' ' '\n' | cut -d, -f1 | median)
		pcpu=$(echo $pts | tr ' ' '\n' | cut -d, -f2 | sort -n | head -1)
		ocpu=$(echo $ots | tr ' ' '\n' | cut -d, -f2 | sort -n | head -1)
		echo "$app $same $total $pmin $omin $pmed $omed $pm $om $pcpu $ocpu" >>"$rows"
		awk -v a="$app" -v s="$same" -v t="$total" -v pt="$pmin" -v ot="$omin" -v pm="$pm" -v om="$om" \
			-v pc="$pcpu" -v oc="$ocpu" \
			'BEGIN { printf "RESULT name=phoenix_%s same_output=%d/%d pthreads_s=%s ours_s=%s " \
				"time_ratio=%.2f pthreads_cpu_s=%s ours_cpu_s=%s cpu_ratio=%.2f " \
				"pthreads_kb=%d ours_kb=%d mem_ratio=%.2f\n", a, s, t, pt, ot,
				(pt > 0 ? ot / pt : 0), pc, oc, (pc > 0 ? oc / pc : 0), pm, om,
				(pm > 0 ? om / pm : 0) }'
	done
	echo
	echo "| program | same output as Phoenix | Phoenix pthreads (s, min / median) | ours (s, min / median) | time ratio (min) | CPU s Phoenix / ours (ratio) | Phoenix peak (MB) | ours peak (MB) | memory ratio |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk '{ printf "| %s | %d/%d | %.2f / %.2f | %.2f / %.2f | %.2f | %.2f / %.2f (%.2f) | %.0f | %.0f | %.2f |\n",
		$1, $2, $3, $4, $6, $5, $7, ($4 > 0 ? $5 / $4 : 0), $10, $11, ($10 > 0 ? $11 / $10 : 0),
		$8 / 1024, $9 / 1024, ($8 > 0 ? $9 / $8 : 0) }' "$rows"
	awk '$4 >= 0.5 { s += log($5 / $4); m += log($9 / $8); c += log($11 / $10); n++ }
		END { if (n) printf "RESULT name=phoenix_geomean programs=%d time_ratio=%.2f " \
			"cpu_ratio=%.2f mem_ratio=%.2f target_time=1.15 target_mem=2 " \
			"(pthreads runs >= 0.5 s)\n", n, exp(s / n), exp(c / n), exp(m / n) }' "$rows"
	rm -f "$rows"
	exit $bad
}

if [ "${1:-}" = "--phoenix" ]; then
	SRC_INCLUDE=$(cd "$(dirname "$0")/../include" && pwd)
	median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
	phoenix_main "$@"
fi
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
