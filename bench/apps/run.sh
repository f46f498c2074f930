#!/usr/bin/env bash
# bench/apps/run.sh — run the application benchmarks and tabulate them.
#
#   bench/apps/run.sh BUILD_DIR [--quick|--full] [--apps "sor mm ..."]
#                     [--nodes "1 2 4 8"] [--reps R]
#
# Every application (bench/apps/<app>_<version>) runs at 1, 2, 4 and 8
# nodes: sequential once, pthreads with that many threads, MPI with that
# many ranks (mpirun), and libdsm through BUILD_DIR/dsmrun under every
# protocol `dsmrun --help` lists (and, in --full mode, under mpirun with
# DSM_TRANSPORT=mpi when that transport is listed). Each run checks its
# result against the sequential computation; a wrong result fails the run.
#
# Output, in BUILD_DIR/bench-apps/: results.csv and results.json (one
# record per run: time, speedup over sequential, ratio to pthreads,
# messages, bytes, faults, diffs, per node too), results.md (the table
# printed at the end), speedup.png, bytes.png, msgs_per_node.png (gnuplot,
# if installed), logs/ and stats/ (dsmrun --stats JSON per libdsm run).
# Runs with more nodes than cores are marked oversubscribed: their times
# are not meaningful, their message and byte counts are. Times are the
# minimum over --reps repetitions (full: 3 up to the core count, else 1;
# a run over 2 s is not repeated).
#
# Exit status 1 if a run computed a wrong result, crashed or a binary is
# missing; a run that exceeds the per-run timeout is reported, not failed.
# Quick mode: under 2 minutes on 2 cores; full: under 20 minutes.
set -u

usage() {
	echo "usage: $0 BUILD_DIR [--quick|--full] [--apps LIST] [--nodes LIST] [--reps R]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
MODE=full
APPS="sor mm km nb lu is hg wc"
NODES="1 2 4 8"
REPS=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--apps) [ $# -ge 2 ] || usage; APPS=$2; shift ;;
	--nodes) [ $# -ge 2 ] || usage; NODES=$2; shift ;;
	--reps) [ $# -ge 2 ] || usage; REPS=$2; shift ;;
	*) usage ;;
	esac
	shift
done

BIN="$BUILD/bench/apps"
DSMRUN="$BUILD/dsmrun"
OUT="$BUILD/bench-apps"
CSV="$OUT/results.csv"
CORES=$(nproc 2>/dev/null || echo 2)
FAILED=()
mkdir -p "$OUT/logs" "$OUT/stats"

# Problem sizes per mode (the programs' positional arguments).
declare -A SIZE
if [ "$MODE" = quick ]; then
	TMO=20
	: "${REPS:=1}"
	SIZE=([sor]="1024 30" [mm]="384" [km]="100000 16 10" [nb]="2048 3"
	      [lu]="512 32" [is]="1000000" [hg]="16000000 4096" [wc]="1000000 20000")
else
	TMO=120
	: "${REPS:=3}"
	SIZE=([sor]="2048 50" [mm]="1024" [km]="1000000 16 20" [nb]="4096 10"
	      [lu]="1536 32" [is]="16000000" [hg]="64000000 4096" [wc]="8000000 20000")
fi

# The values after "one of:" on the help line of a DSM_* variable.
dsm_choices() {
	"$DSMRUN" --help 2>/dev/null | awk -v v="$1" '
		$1 == v { grab = 1; next }
		grab && /one of:/ { sub(/.*one of: */, ""); gsub(/,/, " "); print; exit }
		grab && /^  DSM_/ { exit }'
}

PROTOCOLS=$(dsm_choices DSM_PROTOCOL)
[ -n "$PROTOCOLS" ] || PROTOCOLS=sc
MPIRUN=$(command -v mpirun || true)
MPI_FLAGS=()
if [ -n "$MPIRUN" ]; then
	"$MPIRUN" --version 2>&1 | grep -q "Open MPI" &&
		MPI_FLAGS=(--allow-run-as-root --oversubscribe --bind-to none)
fi
DSM_MPI=0
if [ "$MODE" = full ] && [ -n "$MPIRUN" ] &&
	dsm_choices DSM_TRANSPORT | grep -qw mpi; then
	DSM_MPI=1
fi

echo "app,version,transport,protocol,nodes,oversubscribed,status,time_s,speedup,vs_pthreads,msgs,bytes,faults,diffs,msgs_per_node,bytes_per_node,job_msgs,job_bytes" >"$CSV"

# Value of key=... on the APP line of a log ("" if absent).
field() {
	grep -m1 '^APP ' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# "messages_sent bytes_sent" of the job's whole run from a --stats JSON.
job_totals() {
	[ -s "$1" ] || { echo ", "; return; }
	grep -m1 '"node": -1' "$1" |
		sed -n 's/.*"messages_sent": \([0-9]*\).*"bytes_sent": \([0-9]*\).*/\1,\2/p'
}

# launch VERSION TRANSPORT PROTO NODES APP LOG STATS: one run, its output
# in LOG; returns the exit status (124 on timeout).
launch() {
	local ver=$1 tr=$2 proto=$3 n=$4 app=$5 log=$6 stats=$7 exe mflags=()
	exe="$BIN/${app}_$ver"
	# shellcheck disable=SC2086
	set -- ${SIZE[$app]}
	[ "$n" -gt "$CORES" ] && mflags=(--mca mpi_yield_when_idle 1)
	case "$ver/$tr" in
	seq/*) timeout -k 5 "$TMO" "$exe" "$@" ;;
	pthreads/*) APP_THREADS=$n timeout -k 5 "$TMO" "$exe" "$@" ;;
	mpi/*) timeout -k 5 "$TMO" "$MPIRUN" -n "$n" "${MPI_FLAGS[@]}" "${mflags[@]}" \
		"$exe" "$@" ;;
	dsm/tcp) timeout -k 5 "$TMO" "$DSMRUN" -n "$n" --protocol "$proto" \
		--stats "$stats" "$exe" "$@" ;;
	dsm/mpi) DSM_TRANSPORT=mpi DSM_PROTOCOL=$proto DSM_STATS=$stats \
		timeout -k 5 "$TMO" "$MPIRUN" -n "$n" "${MPI_FLAGS[@]}" "${mflags[@]}" \
		"$exe" "$@" ;;
	esac >"$log" 2>&1
}

# run APP VERSION TRANSPORT PROTO NODES: REPS repetitions (1 when
# oversubscribed or sequential at N > 1), the fastest kept; appends a raw
# CSV row (speedup and ratio are filled in by finish_csv).
run() {
	local app=$1 ver=$2 tr=$3 proto=$4 n=$5 tag log stats rc r reps=$REPS
	local status=ok best="" t over=0 line
	tag="$app.$ver.$tr.$proto.$n"
	log="$OUT/logs/$tag.log"
	stats="$OUT/stats/$tag.json"
	[ "$n" -gt "$CORES" ] && { over=1; reps=1; }
	if [ ! -x "$BIN/${app}_$ver" ]; then
		echo "   $tag: SKIPPED, ${app}_$ver not built"
		FAILED+=("$tag (not built)")
		return
	fi
	for ((r = 0; r < reps; r++)); do
		launch "$ver" "$tr" "$proto" "$n" "$app" "$log.$r" "$stats"
		rc=$?
		mv "$log.$r" "$log"
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			status=timeout
			break
		fi
		if [ $rc -ne 0 ] || [ "$(field ok "$log")" != 1 ]; then
			status=FAILED
			FAILED+=("$tag (exit $rc)")
			sed 's/^/      /' "$log" | tail -15
			break
		fi
		t=$(field time_s "$log")
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$t
			line=$(grep -m1 '^APP ' "$log")
		fi
		# a run over 2 s is long enough that noise matters less: no repeat
		awk -v a="$t" 'BEGIN { exit !(a > 2) }' && break
	done
	[ "$status" = ok ] && [ -n "${line:-}" ] && echo "$line" >"$log.best"
	printf '   %-34s %8s s  %s\n' "$tag" "${best:--}" "$status"
	local msgs="" bytes="" faults="" diffs=""
	if [ "$status" = ok ]; then
		msgs=$(field msgs "$log.best")
		bytes=$(field bytes "$log.best")
		faults=$(field faults "$log.best")
		diffs=$(field diffs "$log.best")
	fi
	local job=", "
	[ "$ver" = dsm ] && job=$(job_totals "$stats")
	[ -n "$job" ] || job=", "
	echo "$app,$ver,$tr,$proto,$n,$over,$status,$best,,,$msgs,$bytes,$faults,$diffs,,,$job" >>"$CSV"
}

# Fill in speedup (seq time / time), vs_pthreads (time / pthreads time at
# the same node count) and the per-node counts.
finish_csv() {
	awk -F, -v OFS=, '
		NR == FNR { if ($7 == "ok" && $2 == "seq") seq[$1] = $8
			    if ($7 == "ok" && $2 == "pthreads") pth[$1 "," $5] = $8
			    next }
		FNR == 1 { print; next }
		{
			if ($7 == "ok" && $8 > 0 && seq[$1] > 0) $9 = sprintf("%.3f", seq[$1] / $8)
			if ($7 == "ok" && pth[$1 "," $5] > 0) $10 = sprintf("%.3f", $8 / pth[$1 "," $5])
			if ($11 != "") $15 = sprintf("%.1f", $11 / $5)
			if ($12 != "") $16 = sprintf("%.0f", $12 / $5)
			print
		}' "$CSV" "$CSV" >"$CSV.tmp" && mv "$CSV.tmp" "$CSV"
}

# results.json: the CSV as an array of objects (numbers unquoted).
write_json() {
	awk -F, '
		NR == 1 { for (i = 1; i <= NF; i++) k[i] = $i; n = NF; print "["; next }
		{
			printf("%s  {", NR > 2 ? ",\n" : "")
			for (i = 1; i <= n; i++) {
				v = $i
				if (v == "") v = "null"
				else if (v !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) v = "\"" v "\""
				printf("%s\"%s\": %s", i > 1 ? ", " : "", k[i], v)
			}
			printf("}")
		}
		END { print "\n]" }' "$CSV" >"$OUT/results.json"
}

START=$(date +%s)
echo "application benchmarks ($MODE): apps '$APPS', nodes '$NODES', protocols '$PROTOCOLS'," \
	"MPI $([ -n "$MPIRUN" ] && echo yes || echo no), libdsm over MPI $([ $DSM_MPI = 1 ] && echo yes || echo no)," \
	"$CORES cores, $REPS reps, timeout ${TMO}s"
for app in $APPS; do
	echo "== $app (${SIZE[$app]})"
	run "$app" seq - - 1
	for n in $NODES; do
		run "$app" pthreads - - "$n"
		[ -n "$MPIRUN" ] && run "$app" mpi - - "$n"
		for p in $PROTOCOLS; do
			run "$app" dsm tcp "$p" "$n"
			[ $DSM_MPI = 1 ] && run "$app" dsm mpi "$p" "$n"
		done
	done
done
finish_csv
write_json
OUT="$OUT" CORES="$CORES" SIZES="$(for a in $APPS; do echo "$a: ${SIZE[$a]}"; done)" \
	"$(dirname "$0")/report.sh" "$CSV"
echo
echo "results: $CSV, $OUT/results.json, $OUT/results.md; logs in $OUT/logs;" \
	"$(($(date +%s) - START)) s"
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "broken: ${FAILED[*]}"
	exit 1
fi
exit 0
