#!/usr/bin/env bash
# bench/ec_compare.sh — the entry consistency comparison of issue 13 (the
# HPCA'96 table of Adve, Cox, Dwarkadas, Rajamony and Zwaenepoel, repeated
# on our applications): quicksort (qs), 3-D FFT (fft), water-like n-body
# (wa), SOR and IS under ec, lrc and hlrc at 2 and 4 nodes; messages,
# bytes and time of the measured region, every run checked against the
# sequential result by the program itself.
#
#   bench/ec_compare.sh BUILD_DIR [--quick] [--reps R] [--nodes "2 4"]
#                       [--apps "qs fft wa sor is"]
#
# Prints a markdown table (also in BUILD_DIR/ec-compare/table.md, the raw
# APP lines in BUILD_DIR/ec-compare/runs.txt) and the issue's goals, each
# marked ✔ or ✘: ec moves fewer bytes than lrc on every lock-based app
# (qs, wa), and ec is the fastest of the three on qs and fft. Messages and
# bytes are deterministic up to the lock order (qs's task queue, wa's
# merge order; qs's vary by 2x from run to run because tasks go to whoever
# asks first): the table gives their median over R repetitions (default
# 3) and qs's range; times are the fastest of the R, the protocols
# interleaved within each repetition so background load hits them alike. Exit status 1 if a run failed or did not match the
# sequential result (the goals never fail the script). Full: ~3 minutes
# on 2 cores; --quick (smaller inputs, 1 repetition): ~40 s.
set -u

usage() {
	echo "usage: $0 BUILD_DIR [--quick] [--reps R] [--nodes LIST] [--apps LIST]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
QUICK=0
REPS=3
NODES="2 4"
APPS="qs fft wa sor is"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1; REPS=1 ;;
	--reps) [ $# -ge 2 ] || usage; REPS=$2; shift ;;
	--nodes) [ $# -ge 2 ] || usage; NODES=$2; shift ;;
	--apps) [ $# -ge 2 ] || usage; APPS=$2; shift ;;
	*) usage ;;
	esac
	shift
done
PROTOS="ec lrc hlrc"
DSMRUN="$BUILD/dsmrun"
BIN="$BUILD/bench/apps"
OUT="$BUILD/ec-compare"
TMO=120
mkdir -p "$OUT"
: >"$OUT/runs.txt"

declare -A SIZE
if [ $QUICK = 1 ]; then
	SIZE=([qs]="1000000 4096" [fft]="32 4" [wa]="512 3" [sor]="512 30" [is]="1000000")
else
	SIZE=([qs]="4000000 16384" [fft]="64 6" [wa]="1024 3" [sor]="1024 50" [is]="4000000")
fi

FAILED=0
declare -A T M B OK MS BS

# median VALUES...: the middle value (the lower of the two middle ones).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# range VALUES...: min-max in KiB.
range() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f-%.0f", v[1] / 1024, v[NR] / 1024 }'; }

# field NAME LINE: the value of NAME=... in an APP line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# run KEY COMMAND...: one run; keeps the fastest time under KEY and
# every run's messages and bytes (MS, BS).
run() {
	local key=$1 line rc t
	shift
	line=$(timeout -k 5 $TMO "$@" 2>"$OUT/stderr" | grep '^APP ')
	rc=${PIPESTATUS[0]}
	echo "$key rc=$rc $line" >>"$OUT/runs.txt"
	if [ "$rc" != 0 ] || [[ "$line" != *" ok=1"* ]]; then
		echo "FAIL $key (exit $rc)" >&2
		tail -5 "$OUT/stderr" >&2
		OK[$key]=fail
		FAILED=1
		return
	fi
	t=$(field time_s "$line")
	if [ -z "${T[$key]:-}" ] || awk -v a="$t" -v b="${T[$key]}" 'BEGIN { exit !(a < b) }'; then
		T[$key]=$t
	fi
	MS[$key]="${MS[$key]:-} $(field msgs "$line")"
	BS[$key]="${BS[$key]:-} $(field bytes "$line")"
	M[$key]=$(median ${MS[$key]})
	B[$key]=$(median ${BS[$key]})
	[ "${OK[$key]:-}" = fail ] || OK[$key]=ok
}

for app in $APPS; do
	# shellcheck disable=SC2086
	set -- ${SIZE[$app]}
	for ((r = 0; r < REPS; r++)); do
		run "$app.seq" "$BIN/${app}_seq" "$@"
		for n in $NODES; do
			for p in $PROTOS; do
				run "$app.$p.$n" "$DSMRUN" -n "$n" --protocol "$p" \
					"$BIN/${app}_dsm" "$@"
			done
		done
	done
done

fmt_bytes() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1024 }'; }

{
	echo "| app (args) | nodes | protocol | messages | KiB | KiB range | time s | seq s | checked |"
	echo "|---|---:|---|---:|---:|---:|---:|---:|---|"
	for app in $APPS; do
		for n in $NODES; do
			for p in $PROTOS; do
				k="$app.$p.$n"
				if [ "${OK[$k]:-fail}" != ok ]; then
					echo "| $app (${SIZE[$app]}) | $n | $p | — | — | — | — | ${T[$app.seq]:-?} | FAIL |"
					continue
				fi
				# shellcheck disable=SC2086
				echo "| $app (${SIZE[$app]}) | $n | $p | ${M[$k]} | $(fmt_bytes "${B[$k]}") | $(range ${BS[$k]}) | ${T[$k]} | ${T[$app.seq]:-?} | ok |"
			done
		done
	done
	echo
	echo "Goals (issue 13):"
	echo
	for app in $APPS; do
		case " qs wa " in *" $app "*) ;; *) continue ;; esac
		for n in $NODES; do
			e=${B[$app.ec.$n]:-}
			l=${B[$app.lrc.$n]:-}
			[ -n "$e" ] && [ -n "$l" ] || continue
			mark=✘
			[ "$e" -lt "$l" ] && mark=✔
			echo "- $mark $app at $n nodes: ec moves fewer bytes than lrc (medians $(fmt_bytes "$e") vs $(fmt_bytes "$l") KiB)"
		done
	done
	for app in $APPS; do
		case " qs fft " in *" $app "*) ;; *) continue ;; esac
		for n in $NODES; do
			e=${T[$app.ec.$n]:-}
			l=${T[$app.lrc.$n]:-}
			h=${T[$app.hlrc.$n]:-}
			[ -n "$e" ] && [ -n "$l" ] && [ -n "$h" ] || continue
			mark=✘
			awk -v e="$e" -v l="$l" -v h="$h" 'BEGIN { exit !(e <= l && e <= h) }' && mark=✔
			echo "- $mark $app at $n nodes: ec the fastest (ec $e s, lrc $l s, hlrc $h s)"
		done
	done
} | tee "$OUT/table.md"
[ $FAILED = 0 ] || echo "ec_compare.sh: some runs failed (see above and $OUT/runs.txt)" >&2
exit $FAILED
