#!/usr/bin/env bash
# bench/det_repeat.sh — does dsmdet give byte-identical output over many
# runs, with and without random delays, at 1, 2 and 4 threads? (issue 16's
# target; docs/performance.md has the figures, docs/det-pthreads.md the
# design.) The 20 unmodified pthreads programs of bench/dthreads_compare.sh:
# Phoenix 2.0's 8 and bench/apps' 13, on small inputs (a run ~0.05-0.5 s).
#
#   bench/det_repeat.sh --dthreads DIR --phoenix DIR [--build BUILD]
#       [--work DIR] [--runs R] [--threads "1 2 4"] [--progs LIST]
#       [--apps LIST] [--delay US] [--ptruns P] [--check N] [--report]
#
# --dthreads, --phoenix: the checkouts bench/dthreads_compare.sh takes
#   (github.com/plasma-umass/dthreads for its copies of histogram and
#   reverse_index, github.com/kozyraki/phoenix for the rest; kept outside
#   this tree). --build: our build directory (dsmdet; default build-dev).
# --work: binaries, inputs, outputs (default /tmp/det_repeat).
# --runs R: dsmdet runs per program and thread count (default 100); the
#   even-numbered ones with DSM_DET_DELAY_US=US (--delay, default 300: every
#   thread sleeps a random time below US before each synchronisation point,
#   a different schedule every run).
# --ptruns P: plain pthreads runs per program and thread count (default 5):
#   the reference output, and whether the program itself is deterministic.
# --check N: DSM_DET_CHECK=N in every dsmdet run (default unset: the runs
#   measure the runtime as it is used; 1 or 2 to hunt invariant breaks).
# --report: no runs; the table again from WORK/out.
#
# Thread counts: Phoenix's programs start one thread per
# sysconf(_SC_NPROCESSORS_ONLN): under dsmdet DSM_DET_NPROCS=T makes them
# see T processors; their plain runs get the same from a small LD_PRELOAD
# shim built here (WORK/nprocs.so). bench/apps' programs take APP_THREADS=T.
#
# What is compared: stdout, without the programs' timing lines (Phoenix's
# "Completed N" / "time = N", bench/apps' time_s= value). bench/apps'
# programs run with APP_DIGEST=1, so their line carries a hash of the bytes
# of the result (ok=1 alone says only that it is within the check's
# tolerance). Phoenix's histogram and reverse_index (dthreads' copies,
# whose debug printf is compiled out) are built with it printing from the
# main thread (WORK/inc/dprintf_main.h): the histogram, and every link
# with the files it is found in. string_match's input has its four keys
# planted every 1000 lines, so its threads print FOUND lines.
#
# Per program and thread count the table gives:
#   identical k/R   the largest number of dsmdet runs with one same output
#                   (k = R: all identical); runs that fail (exit status,
#                   timeout, a "dsmdet:" message on stderr) count as
#                   differing and are listed
#   pthreads        whether the plain runs agreed among themselves (P/P)
#   = pthreads      "yes": the dsmdet output equals the plain one; "sorted":
#                   equal as sorted lines (the program's threads print, in
#                   schedule order under pthreads); "no" is a failure
#                   unless the plain runs themselves differ ("varies")
# Exit status 1 when any dsmdet run differed or failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
DTHREADS=""; PHOENIX=""; BUILD=$SRC/build-dev; WORK=/tmp/det_repeat
R=100; TLIST="1 2 4"; DELAY=300; PT=5; CHECK=""; REPORT=0; TMO=${TMO:-60}
PROGS="histogram linear_regression string_match word_count matrix_multiply kmeans pca reverse_index"
APPS="hg km mm wc sor lu nb is fft wa qs tsp bh"
while [ $# -gt 0 ]; do
	case $1 in
	--dthreads) DTHREADS=$2; shift ;;
	--phoenix) PHOENIX=$2; shift ;;
	--build) BUILD=$2; shift ;;
	--work) WORK=$2; shift ;;
	--runs) R=$2; shift ;;
	--threads) TLIST=$2; shift ;;
	--progs) PROGS=$2; shift ;;
	--apps) APPS=$2; shift ;;
	--delay) DELAY=$2; shift ;;
	--ptruns) PT=$2; shift ;;
	--check) CHECK=$2; shift ;;
	--report) REPORT=1 ;;
	*) echo "unknown option $1"; exit 2 ;;
	esac
	shift
done
[ -n "$DTHREADS" ] && [ -n "$PHOENIX" ] || [ -z "$PROGS" ] || {
	echo "usage: $0 --dthreads DIR --phoenix DIR [--build BUILD] [--work DIR] [--runs R] [--threads LIST] [--progs LIST] [--apps LIST] [--delay US] [--ptruns P] [--check N] [--report]"
	exit 2
}
DSMDET=$BUILD/dsmdet
[ -x "$DSMDET" ] || { echo "no $DSMDET (build first)"; exit 1; }
mkdir -p "$WORK/bin" "$WORK/data" "$WORK/out" "$WORK/inc" || exit 1
BIN=$WORK/bin; DATA=$WORK/data; OUT=$WORK/out

# ------------------------------------------------------------------ builds
# The processor count of the plain runs (dsmdet's own is DSM_DET_NPROCS).
cat >"$WORK/nprocs.c" <<'EOF'
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>
extern long __sysconf(int);
long sysconf(int name)
{
	const char *e = getenv("DSM_DET_NPROCS");
	if (e && (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF))
		return atol(e);
	return __sysconf(name);
}
EOF
# Debug output of dthreads' copies, from the main thread only (their
# threads' debug lines interleave, and print heap addresses).
cat >"$WORK/inc/dprintf_main.h" <<'EOF'
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "stddefines.h"
#undef dprintf
static pthread_t dprintf_main;
__attribute__((constructor)) static void dprintf_init(void) { dprintf_main = pthread_self(); }
/* dprintf(fmt, ...) or dprintf(stream, fmt, ...) (reverse_index has both) */
static void dprintf_(const void *a, ...)
{
	va_list ap;
	FILE *f = stdout;
	const char *fmt = a;
	if (!pthread_equal(pthread_self(), dprintf_main))
		return;
	va_start(ap, a);
	if (a == (const void *)stdout || a == (const void *)stderr) {
		f = (FILE *)a;
		fmt = va_arg(ap, const char *);
	}
	vfprintf(f, fmt, ap);
	va_end(ap);
}
#define dprintf(...) dprintf_(__VA_ARGS__)
EOF
if [ "$REPORT" = 0 ]; then
	rm -f "$WORK/build.log"
	gcc -O2 -shared -fPIC -o "$WORK/nprocs.so" "$WORK/nprocs.c" || exit 1
	PH=$PHOENIX/phoenix-2.0
	CFL="-O3 -D_LINUX_ -D__x86_64__"
	build() { # name sources... (compiler errors into WORK/build.log)
		local name=$1; shift
		[ -x "$BIN/$name" ] && return 0
		gcc "$@" -o "$BIN/$name" -pthread -lm >>"$WORK/build.log" 2>&1 ||
			echo "build of $name failed: $WORK/build.log"
	}
	for p in $PROGS; do
		case $p in
		histogram) build histogram $CFL -fgnu89-inline -I"$DTHREADS/eval/include" \
			-include "$WORK/inc/dprintf_main.h" "$DTHREADS/eval/tests/histogram/histogram-pthread.c" ;;
		reverse_index) build reverse_index $CFL -fgnu89-inline -I"$DTHREADS/eval/tests/reverse_index" \
			-include "$WORK/inc/dprintf_main.h" "$DTHREADS/eval/tests/reverse_index/reverseindex-pthread.c" ;;
		word_count) build word_count $CFL -I"$PH/include" "$PH/tests/word_count/word_count-pthread.c" \
			"$PH/tests/word_count/sort-pthread.c" ;;
		*) build "$p" $CFL -I"$PH/include" "$PH/tests/$p/$p-pthread.c" ;;
		esac
	done
	CORE=$(ls "$SRC"/bench/apps/*.c | grep -vE '_(seq|pthreads|mpi|dsm)\.c$|/(dsmapp|mpiapp)\.c$')
	for a in $APPS; do
		# shellcheck disable=SC2086
		build "${a}_pthreads" -O2 -g -I"$SRC/bench/apps" "$SRC/bench/apps/${a}_pthreads.c" $CORE
	done

	# -------------------------------------------------------------- inputs
	gcc -O2 -o "$WORK/gen" "$HERE/dthreads_gen.c" || exit 1
	gen() { [ -e "$DATA/$2" ] || "$WORK/gen" "$1" "$DATA/$2" "$3" || exit 1; }
	for p in $PROGS; do
		case $p in
		histogram) gen bmp hist128.bmp 128 ;;
		linear_regression) gen lr lr128.txt 128 ;;
		string_match) # string_match's four keys every 1000 lines
			if [ ! -e "$DATA/sm8.txt" ]; then
				gen words sm0.txt 8
				awk 'NR % 1000 == 0 { k = (NR / 1000) % 4;
					print (k == 0 ? "Helloworld" : k == 1 ? "howareyou" : k == 2 ? "ferrari" : "whotheman") }
					{ print }' "$DATA/sm0.txt" >"$DATA/sm8.txt" && rm "$DATA/sm0.txt"
			fi ;;
		word_count) gen words wc4.txt 4 ;;
		reverse_index) gen html ri100 100 ;;
		matrix_multiply) # its input files (A and B, 400 x 400), made once (it
			# seeds rand() with the time); it reads them from the directory it runs in
			[ -e "$DATA/mm400/matrix_file_B.txt" ] ||
				(mkdir -p "$DATA/mm400" && cd "$DATA/mm400" && "$BIN/matrix_multiply" 400 1 >/dev/null 2>&1) ;;
		esac
	done
fi
declare -A ARGS=(
	[histogram]="$DATA/hist128.bmp" [linear_regression]="$DATA/lr128.txt"
	[string_match]="$DATA/sm8.txt" [word_count]="$DATA/wc4.txt"
	[matrix_multiply]="400" [kmeans]="-d 3 -c 10 -p 10000 -s 1000"
	[pca]="-r 300 -c 300 -s 100" [reverse_index]="$DATA/ri100"
	[hg_pthreads]="4000000 4096 2" [km_pthreads]="200000 16 10"
	[mm_pthreads]="256" [wc_pthreads]="1000000 20000" [sor_pthreads]="512 50"
	[lu_pthreads]="512 32" [nb_pthreads]="1024 8" [is_pthreads]="2000000"
	[fft_pthreads]="32 8" [wa_pthreads]="256 2" [qs_pthreads]="600000 16384"
	[tsp_pthreads]="13" [bh_pthreads]="4096 4")
# Programs whose threads print: compared with the plain run as sorted lines.
declare -A SORTED=([string_match]=1 [reverse_index]=1)

# --------------------------------------------------------------------- runs
# timing lines of the programs: Phoenix's "Completed N" / "time = N",
# bench/apps' time_s= value (as bench/dthreads_compare.sh)
filter() {
	sed -E 's/time_s=[0-9.e+-]+//' "$1" |
		grep -vE '^[^A].*(Completed|[Tt]ime)|^(Completed|[Tt]ime)'
}
# run SYS PROG T I: one run in DATA; RC, and OUT/PROG.T.SYS.I.{raw,err}
run() {
	local sys=$1 prog=$2 t=$3 i=$4 pre=() env=()
	env=(APP_THREADS="$t" APP_DIGEST=1 DSM_DET_NPROCS="$t")
	local o=$OUT/$prog.$t.$sys.$i
	if [ "$sys" = det ]; then
		pre=("$DSMDET")
		[ -n "$CHECK" ] && env+=(DSM_DET_CHECK="$CHECK")
		[ $((i % 2)) -eq 0 ] && env+=(DSM_DET_DELAY_US="$DELAY")
	else
		env+=(LD_PRELOAD="$WORK/nprocs.so")
	fi
	# shellcheck disable=SC2086
	local dir=$DATA
	[ "$prog" = matrix_multiply ] && dir=$DATA/mm400
	(cd "$dir" && env "${env[@]}" timeout "$TMO" "${pre[@]}" "$BIN/$prog" ${ARGS[$prog]} \
		>"$o.raw" 2>"$o.err")
	RC=$?
	if [ "$RC" -eq 0 ] && [ "$sys" = det ] && grep -q '^dsmdet:' "$o.err"; then
		RC=255
	fi
}
# Keep the filtered output under its hash (OUT/PROG.T.SYS.HASH), drop the
# run's files unless it failed; H gets the hash.
keep() {
	local prog=$1 t=$2 sys=$3 i=$4 o=$OUT/$1.$2.$3.$4
	filter "$o.raw" >"$o.f"
	H=$(md5sum <"$o.f" | cut -c1-12)
	[ -e "$OUT/$prog.$t.$sys.$H" ] || cp "$o.f" "$OUT/$prog.$t.$sys.$H"
	if [ "$RC" -eq 0 ]; then rm -f "$o.raw" "$o.err" "$o.f"; fi
}

ALL=""
for p in $PROGS; do ALL="$ALL $p"; done
for a in $APPS; do ALL="$ALL ${a}_pthreads"; done
START=$EPOCHREALTIME
if [ "$REPORT" = 0 ]; then
	for prog in $ALL; do
		[ -x "$BIN/$prog" ] || continue
		for t in $TLIST; do
			: >"$OUT/$prog.$t.pt.log"
			for i in $(seq 1 "$PT"); do
				run pt "$prog" "$t" "$i"; keep "$prog" "$t" pt "$i"
				echo "$i $RC $H" >>"$OUT/$prog.$t.pt.log"
			done
			: >"$OUT/$prog.$t.det.log"
			s=$EPOCHREALTIME
			for i in $(seq 1 "$R"); do
				run det "$prog" "$t" "$i"; keep "$prog" "$t" det "$i"
				echo "$i $RC $H" >>"$OUT/$prog.$t.det.log"
			done
			e=$EPOCHREALTIME
			awk -v a="$s" -v b="$e" -v r="$R" 'BEGIN{printf "%.3f\n", (b - a) / r}' \
				>"$OUT/$prog.$t.det.time"
			echo "$prog $t threads: $(awk '{print $3}' "$OUT/$prog.$t.det.log" | sort | uniq -c | sort -rn | head -1 | awk '{print $1}')/$R identical, $(cat "$OUT/$prog.$t.det.time") s per run" >&2
		done
	done
fi

# -------------------------------------------------------------------- table
bad=0
echo "# dsmdet: $R runs per line (even runs with DSM_DET_DELAY_US=$DELAY${CHECK:+, DSM_DET_CHECK=$CHECK}), $PT plain pthreads runs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-18s %7s | %-13s | %-9s | %-10s | %7s | %s\n" program threads "identical k/R" pthreads "= pthreads" "s/run" "failed runs"
for prog in $ALL; do
	for t in $TLIST; do
		dl=$OUT/$prog.$t.det.log; pl=$OUT/$prog.$t.pt.log
		[ -s "$dl" ] && [ -s "$pl" ] || { printf "%-18s %7s | not run\n" "$prog" "$t"; continue; }
		n=$(wc -l <"$dl")
		# the most frequent output among the successful runs
		read -r k hm < <(awk '$2 == 0 {print $3}' "$dl" | sort | uniq -c | sort -rn | head -1)
		k=${k:-0}
		fails=$(awk '$2 != 0 {printf "%s%d(rc %d)", s, $1, $2; s=" "}' "$dl")
		np=$(wc -l <"$pl")
		read -r kp hp < <(awk '$2 == 0 {print $3}' "$pl" | sort | uniq -c | sort -rn | head -1)
		kp=${kp:-0}
		ptst="$kp/$np"
		[ "$kp" -eq "$np" ] || ptst="varies $kp/$np"
		eq=no
		if [ "$k" -gt 0 ] && [ "$kp" -gt 0 ]; then
			if cmp -s "$OUT/$prog.$t.det.$hm" "$OUT/$prog.$t.pt.$hp"; then
				eq=yes
			elif [ -n "${SORTED[$prog]:-}" ] &&
				cmp -s <(sort "$OUT/$prog.$t.det.$hm") <(sort "$OUT/$prog.$t.pt.$hp"); then
				eq=sorted
			fi
			# a plain run that varies: is the dsmdet output one of its outputs?
			if [ "$eq" = no ] && [ "$kp" -ne "$np" ]; then
				eq="no (varies)"
				for h in $(awk '$2 == 0 {print $3}' "$pl" | sort -u); do
					cmp -s "$OUT/$prog.$t.det.$hm" "$OUT/$prog.$t.pt.$h" && eq="one of them"
				done
			fi
		fi
		[ "$k" -eq "$n" ] || bad=1
		[ "$eq" = no ] && bad=1
		printf "%-18s %7s | %-13s | %-9s | %-10s | %7s | %s\n" "$prog" "$t" "$k/$n" "$ptst" "$eq" \
			"$(cat "$OUT/$prog.$t.det.time" 2>/dev/null)" "${fails:--}"
	done
done
[ "$REPORT" = 0 ] && awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN{printf "total %.0f s\n", b - a}'
echo "outputs in $OUT (PROG.T.SYS.HASH: each distinct filtered output; PROG.T.SYS.log: run, status, hash; failed runs' .raw/.err kept)"
exit $bad
