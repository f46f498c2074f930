#!/usr/bin/env bash
# bench/apps/run.sh — run the application benchmarks and tabulate them.
#
#   bench/apps/run.sh BUILD_DIR [--quick|--full|--large|--counts]
#                     [--apps "sor mm ..."] [--nodes "1 2 4 8"] [--reps R]
#                     [--protocols "sc lrc ..."] [--timeout-factor F]
#                     [--timeout-cap S]
#
# Modes (problem sizes in the SIZE table below):
#   --quick   small inputs, < 2 minutes on 2 cores.
#   --full    the default: medium inputs, < 20 minutes.
#   --large   real sizes: each app's sequential time 2-5 s on a 2-core
#             development machine (SOR/Jacobi 4096^2 x 100, ...); every
#             version, every protocol, nodes "1 2 4 8"; results.md ends
#             with the "Targets" block of issue 10 (at 2 nodes, default
#             protocol). The per-run timeout is F x the sequential run's
#             wall time (F = 10, at least 60 s, at most S = 180 s): a run
#             that exceeds it is reported as "timeout", and the same
#             protocol is not run for that app at larger node counts
#             ("skipped"). About 45 minutes for the whole suite on a quiet
#             2-core machine (2 apps x 4 node counts x 3 protocols, reps 1:
#             8.7 minutes at load average ~10).
#   --counts  counts only: message and byte counts per barrier (sor) and
#             per lock acquire (nb) of every libdsm protocol at 2, 4, 8,
#             16 and 32 nodes (oversubscribed: times are not meaningful)
#             on small inputs, and whether they grow at most linearly with
#             the node count. Writes counts.{csv,md}, not results.*.
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
	echo "usage: $0 BUILD_DIR [--quick|--full|--large|--counts] [--apps LIST]" \
		"[--nodes LIST] [--reps R] [--protocols LIST] [--timeout-factor F]" \
		"[--timeout-cap S]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
MODE=full
APPS=""
NODES=""
REPS=""
ONLY_PROTOCOLS=""
TMO_FACTOR=10
TMO_CAP=180
TMO_MIN=60
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--full) MODE=full ;;
	--large) MODE=large ;;
	--counts) MODE=counts ;;
	--apps) [ $# -ge 2 ] || usage; APPS=$2; shift ;;
	--nodes) [ $# -ge 2 ] || usage; NODES=$2; shift ;;
	--reps) [ $# -ge 2 ] || usage; REPS=$2; shift ;;
	--protocols) [ $# -ge 2 ] || usage; ONLY_PROTOCOLS=$2; shift ;;
	--timeout-factor) [ $# -ge 2 ] || usage; TMO_FACTOR=$2; shift ;;
	--timeout-cap) [ $# -ge 2 ] || usage; TMO_CAP=$2; shift ;;
	*) usage ;;
	esac
	shift
done
if [ "$MODE" = counts ]; then
	: "${APPS:=sor nb}"
	: "${NODES:=2 4 8 16 32}"
else
	: "${APPS:=sor mm km nb lu is hg wc tsp qs fft wa}"
	: "${NODES:=1 2 4 8}"
fi

BIN="$BUILD/bench/apps"
DSMRUN="$BUILD/dsmrun"
OUT="$BUILD/bench-apps"
CSV="$OUT/results.csv"
[ "$MODE" = counts ] && CSV="$OUT/counts.csv"
CORES=$(nproc 2>/dev/null || echo 2)
FAILED=()
LOGS="$OUT/logs"
STATS="$OUT/stats"
[ "$MODE" = counts ] && { LOGS="$OUT/counts-logs"; STATS="$OUT/counts-stats"; }
mkdir -p "$LOGS" "$STATS"

# Problem sizes per mode (the programs' positional arguments).
# Large: calibrated so that each <app>_seq alone takes 2-5 s on the 2-vCPU
# development machine (times measured there in the comments; hg and wc
# count their input PASSES times over, so seconds of work need no GBs of
# input). TMO: the fixed per-run timeout (large: set per app from the
# sequential run, see TMO_FACTOR).
declare -A SIZE
NO_MPI=" tsp qs fft wa " # apps without an MPI version
EXTRA_ENV=()
case "$MODE" in
quick)
	TMO=20
	: "${REPS:=1}"
	SIZE=([sor]="1024 30" [mm]="384" [km]="100000 16 10" [nb]="2048 3"
	      [lu]="512 32" [is]="1000000" [hg]="16000000 4096" [wc]="1000000 20000"
	      [tsp]="15"
	      [qs]="1000000 4096" [fft]="32 4" [wa]="512 3") ;;
full)
	TMO=120
	: "${REPS:=3}"
	SIZE=([sor]="2048 50" [mm]="1024" [km]="1000000 16 20" [nb]="4096 10"
	      [lu]="1536 32" [is]="16000000" [hg]="64000000 4096" [wc]="8000000 20000"
	      [tsp]="17"
	      [qs]="8000000 16384" [fft]="64 8" [wa]="2048 3") ;;
large)
	TMO=$TMO_CAP
	: "${REPS:=3}"
	SIZE=([sor]="4096 100"          # 2.1 s; 2 x 128 MiB grids
	      [mm]="1664"               # 2.8 s (1536: 2.1 s, 1792: 4.6 s)
	      [km]="2000000 16 70"      # 3.3 s
	      [nb]="8192 24"            # 3.6 s
	      [lu]="2816 32"            # 3.1 s (2048: 1.1 s)
	      [is]="200000000"          # 2.5 s (2^25: 0.6 s, 2^27: 2.1 s); 3 x 800 MB shared
	      [hg]="32000000 65536 120" # 3.2 s (27 ms a pass)
	      [wc]="8000000 200000 4"   # 3.3 s (0.83 s a pass)
	      [tsp]="19"                # 4.9 s (18: 1.7 s, 20: 5.6 s)
	      [qs]="32000000 65536"     # about 4 s (1 M keys: 0.12 s)
	      [fft]="128 8"             # 2.2 s
	      [wa]="20480 3")           # 2.8 s of CPU (8192: 0.45 s, 16384: 1.8 s; O(n^2))
	# is needs 2.4 GB of shared region (keys, staging, output)
	EXTRA_ENV=(DSM_HEAP_SIZE="${DSM_HEAP_SIZE:-4G}") ;;
counts)
	TMO=120
	REPS=1
	SIZE=([sor]="1024 20" [mm]="256" [km]="100000 16 5" [nb]="2048 2"
	      [lu]="512 32" [is]="1000000" [hg]="1000000 4096" [wc]="200000 20000"
	      [tsp]="13"
	      [qs]="1000000 4096" [fft]="32 2" [wa]="512 2") ;;
esac

# The values after "one of:" on the help line of a DSM_* variable.
dsm_choices() {
	"$DSMRUN" --help 2>/dev/null | awk -v v="$1" '
		$1 == v { grab = 1; next }
		grab && /one of:/ { sub(/.*one of: */, ""); gsub(/,/, " "); print; exit }
		grab && /^  DSM_/ { exit }'
}

PROTOCOLS=$(dsm_choices DSM_PROTOCOL)
[ -n "$PROTOCOLS" ] || PROTOCOLS=sc
# --protocols: a subset of them (default: every protocol dsmrun lists)
if [ -n "$ONLY_PROTOCOLS" ]; then
	for p in $ONLY_PROTOCOLS; do
		[[ " $PROTOCOLS " == *" $p "* ]] ||
			{ echo "$0: protocol '$p' is not one of: $PROTOCOLS" >&2; exit 2; }
	done
	PROTOCOLS=$ONLY_PROTOCOLS
fi
# The protocol a user gets without setting DSM_PROTOCOL ("default: X").
DEFAULT_PROTO=$("$DSMRUN" --help 2>/dev/null |
	awk '$1 == "DSM_PROTOCOL" { for (i = 2; i < NF; i++) if ($i == "default:") { print $(i + 1); exit } }')
: "${DEFAULT_PROTO:=${PROTOCOLS%% *}}"
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

echo "app,version,transport,protocol,nodes,oversubscribed,status,time_s,speedup,vs_pthreads,msgs,bytes,faults,diffs,msgs_per_node,bytes_per_node,job_msgs,job_bytes,barriers,locks,bar_msgs,bar_bytes,lock_msgs,lock_bytes,wall_s" >"$CSV"

# Value of key=... on the APP line of a log ("" if absent).
field() {
	grep -m1 '^APP ' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# "messages_sent bytes_sent" of the job's whole run from a --stats JSON.
job_totals() {
	[ -s "$1" ] || { echo ","; return; }
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
	dsm/tcp) env "${EXTRA_ENV[@]}" timeout -k 5 "$TMO" "$DSMRUN" -n "$n" \
		--protocol "$proto" --stats "$stats" "$exe" "$@" ;;
	dsm/mpi) env "${EXTRA_ENV[@]}" DSM_TRANSPORT=mpi DSM_PROTOCOL="$proto" \
		DSM_STATS="$stats" timeout -k 5 "$TMO" "$MPIRUN" -n "$n" \
		"${MPI_FLAGS[@]}" "${mflags[@]}" "$exe" "$@" ;;
	esac >"$log" 2>&1
}

# run APP VERSION TRANSPORT PROTO NODES: REPS repetitions (1 when
# oversubscribed or sequential at N > 1), the fastest kept; appends a raw
# CSV row (speedup and ratio are filled in by finish_csv). Sets LAST_STATUS
# (ok, timeout, skipped, FAILED) and LAST_WALL (wall seconds of the last
# repetition). A libdsm protocol that timed out for an app is not run
# again for that app at a larger node count: "skipped".
declare -A TIMED_OUT
run() {
	local app=$1 ver=$2 tr=$3 proto=$4 n=$5 tag log stats rc r reps=$REPS
	local status=ok best="" t over=0 line t0 wall="" skey
	tag="$app.$ver.$tr.$proto.$n"
	log="$LOGS/$tag.log"
	stats="$STATS/$tag.json"
	skey="$app.$ver.$tr.$proto"
	LAST_STATUS=ok
	LAST_WALL=""
	[ "$n" -gt "$CORES" ] && { over=1; reps=1; }
	if [ ! -x "$BIN/${app}_$ver" ]; then
		echo "   $tag: SKIPPED, ${app}_$ver not built"
		FAILED+=("$tag (not built)")
		LAST_STATUS=FAILED
		return
	fi
	if [ -n "${TIMED_OUT[$skey]:-}" ]; then
		status=skipped
		printf '   %-34s %8s    %s\n' "$tag" - "skipped (timed out at ${TIMED_OUT[$skey]} nodes)"
		echo "$app,$ver,$tr,$proto,$n,$over,$status,,,,,,,,,,,,,,,,,," >>"$CSV"
		LAST_STATUS=$status
		return
	fi
	rm -f "$log.best"
	for ((r = 0; r < reps; r++)); do
		t0=$(date +%s.%N)
		launch "$ver" "$tr" "$proto" "$n" "$app" "$log.$r" "$stats"
		rc=$?
		wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf("%.2f", b - a) }')
		mv "$log.$r" "$log"
		if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			status=timeout
			TIMED_OUT[$skey]=$n
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
	LAST_STATUS=$status
	LAST_WALL=$wall
	if [ "$status" = timeout ]; then
		printf '   %-34s %8s    %s\n' "$tag" - "timeout (${TMO} s)"
	else
		printf '   %-34s %8s s  %s (%s s wall)\n' "$tag" "${best:--}" "$status" "$wall"
	fi
	local msgs="" bytes="" faults="" diffs="" sync=",,,,,"
	if [ "$status" = ok ]; then
		msgs=$(field msgs "$log.best")
		bytes=$(field bytes "$log.best")
		faults=$(field faults "$log.best")
		diffs=$(field diffs "$log.best")
		[ "$ver" = dsm ] && sync="$(field barriers "$log.best"),$(field locks "$log.best"),$(field bar_msgs "$log.best"),$(field bar_bytes "$log.best"),$(field lock_msgs "$log.best"),$(field lock_bytes "$log.best")"
	fi
	local job=","
	[ "$ver" = dsm ] && [ "$status" = ok ] && job=$(job_totals "$stats")
	[ -n "$job" ] || job=","
	echo "$app,$ver,$tr,$proto,$n,$over,$status,$best,,,$msgs,$bytes,$faults,$diffs,,,$job,$sync,$wall" >>"$CSV"
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

# Large: the per-run timeout of an app's parallel runs, from its
# sequential run's wall time (generation, computation and check).
set_timeout() {
	[ "$MODE" = large ] || return 0
	if [ -z "$LAST_WALL" ] || [ "$LAST_STATUS" != ok ]; then
		TMO=$TMO_CAP
		return 0
	fi
	TMO=$(awk -v w="$LAST_WALL" -v f="$TMO_FACTOR" -v lo="$TMO_MIN" -v hi="$TMO_CAP" '
		BEGIN { t = int(w * f + 0.999); if (t < lo) t = lo; if (t > hi) t = hi; print t }')
}

START=$(date +%s)
echo "application benchmarks ($MODE): apps '$APPS', nodes '$NODES', protocols '$PROTOCOLS'" \
	"(default $DEFAULT_PROTO), MPI $([ -n "$MPIRUN" ] && echo yes || echo no)," \
	"libdsm over MPI $([ $DSM_MPI = 1 ] && echo yes || echo no)," \
	"$CORES cores, $REPS reps, timeout $([ "$MODE" = large ] &&
		echo "${TMO_FACTOR}x sequential wall, ${TMO_MIN}-${TMO_CAP} s" || echo "${TMO} s")"
for app in $APPS; do
	echo "== $app (${SIZE[$app]})"
	if [ "$MODE" != counts ]; then
		TMO=$TMO_CAP
		[ "$MODE" = large ] || TMO=$([ "$MODE" = quick ] && echo 20 || echo 120)
		run "$app" seq - - 1
		set_timeout
		[ "$MODE" = large ] && echo "   (per-run timeout ${TMO} s)"
	fi
	for n in $NODES; do
		if [ "$MODE" != counts ]; then
			run "$app" pthreads - - "$n"
			[ -n "$MPIRUN" ] && [[ "$NO_MPI" != *" $app "* ]] && run "$app" mpi - - "$n"
		fi
		for p in $PROTOCOLS; do
			run "$app" dsm tcp "$p" "$n"
			[ $DSM_MPI = 1 ] && run "$app" dsm mpi "$p" "$n"
		done
	done
done
finish_csv
SIZES="$(for a in $APPS; do echo "$a: ${SIZE[$a]}"; done)"
if [ "$MODE" = counts ]; then
	OUT="$OUT" CORES="$CORES" SIZES="$SIZES" DEFAULT_PROTO="$DEFAULT_PROTO" \
		"$(dirname "$0")/report.sh" --counts "$CSV"
	echo
	echo "results: $CSV, $OUT/counts.md; logs in $LOGS; $(($(date +%s) - START)) s"
else
	write_json
	OUT="$OUT" CORES="$CORES" SIZES="$SIZES" DEFAULT_PROTO="$DEFAULT_PROTO" \
		MODE="$MODE" "$(dirname "$0")/report.sh" "$CSV"
	echo
	echo "results: $CSV, $OUT/results.json, $OUT/results.md; logs in $LOGS;" \
		"$(($(date +%s) - START)) s"
fi
if [ ${#FAILED[@]} -gt 0 ]; then
	echo "broken: ${FAILED[*]}"
	exit 1
fi
exit 0
