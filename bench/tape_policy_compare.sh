#!/usr/bin/env bash
# bench/tape_policy_compare.sh — update protocols emulated with tapes over
# lrc (DSM_TAPE_POLICY, src/tape/policy.c; issue 12 item 4) against the
# native protocols: remote misses, messages, bytes and time per app and
# node count under
#   hlrc        native hlrc (first-touch homes, the default)
#   hlrc-block  native hlrc with DSM_HOME=block DSM_HOME_MIGRATE=off (the
#               emulation's homes, which never move)
#   lrc         native lrc
#   lrc+hlrc    lrc with DSM_TAPE_POLICY=hlrc
#   lrc+scope   lrc with DSM_TAPE_POLICY=scope
# all with DSM_TAPEWORM=off (no other tape activity), plus the two sharing
# patterns of tests/mn/mn_tape_policy.c (a lock hand-off, a barrier
# stencil; counts summed over the nodes, measured rounds only).
#
#   bench/tape_policy_compare.sh BUILD_DIR [--apps "sor mm km nb wc"]
#       [--nodes "2 4"] [--reps R] [--out DIR]
#
# Counts are exact (dsm_stats deltas of the measured region summed over
# the nodes: the APP line's fetches, msgs, bytes). Times are the median
# of R runs taken round-robin over the configurations (so load drifts hit
# them alike) and are printed as ratios to native lrc: on a loaded
# machine only the ratios mean anything. Every run checks its result
# against the sequential computation; a wrong one fails the script.
set -u

usage() {
	echo "usage: $0 BUILD_DIR [--apps LIST] [--nodes LIST] [--reps R] [--out DIR]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
APPS="sor mm km nb wc"
NODES="2 4"
REPS=3
OUT=""
while [ $# -gt 0 ]; do
	case "$1" in
	--apps) [ $# -ge 2 ] || usage; APPS=$2; shift ;;
	--nodes) [ $# -ge 2 ] || usage; NODES=$2; shift ;;
	--reps) [ $# -ge 2 ] || usage; REPS=$2; shift ;;
	--out) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
	*) usage ;;
	esac
	shift
done
OUT=${OUT:-$BUILD/tape-policy}
mkdir -p "$OUT/logs" || exit 1
DSMRUN=$BUILD/dsmrun
[ -x "$DSMRUN" ] || { echo "$0: no $DSMRUN (build first)" >&2; exit 1; }

declare -A SIZE=([sor]="512 40" [mm]="384" [km]="100000 16 10" [nb]="1024 4"
		 [wc]="500000 20000")
CONFIGS="hlrc hlrc-block lrc lrc+hlrc lrc+scope"

# env_of CONFIG: the environment of a configuration
env_of() {
	case "$1" in
	hlrc) echo "DSM_PROTOCOL=hlrc" ;;
	hlrc-block) echo "DSM_PROTOCOL=hlrc DSM_HOME=block DSM_HOME_MIGRATE=off" ;;
	lrc) echo "DSM_PROTOCOL=lrc" ;;
	lrc+hlrc) echo "DSM_PROTOCOL=lrc DSM_TAPE_POLICY=hlrc" ;;
	lrc+scope) echo "DSM_PROTOCOL=lrc DSM_TAPE_POLICY=scope" ;;
	esac
}

field() { # field NAME LINE
	printf '%s\n' "$2" | grep -o " $1=[^ ]*" | head -1 | cut -d= -f2
}

CSV=$OUT/results.csv
echo "app,nodes,config,rep,time_s,fetches,msgs,bytes" > "$CSV"
fail=0

# run APP N CONFIG REP: one run, a CSV row
run() {
	local app=$1 n=$2 cfg=$3 r=$4 log l
	log=$OUT/logs/$app.$n.$cfg.$r.log
	if [ "$app" = patterns ]; then
		# shellcheck disable=SC2046
		env $(env_of "$cfg") DSM_TAPEWORM=off timeout 300 \
			"$DSMRUN" -n "$n" "$BUILD/tests/mn_tape_policy" > "$log" 2>&1 || {
			echo "$0: patterns $n $cfg: failed (see $log)" >&2; fail=1; return; }
		# per node: "locks: F remote fetches (...), phase: M msgs, B bytes sent;
		# stencil: F remote fetches (...), M msgs, B bytes sent; ..."
		awk -v n="$n" -v cfg="$cfg" -v r="$r" '
		/^mn_tape_policy: node .*locks:/ {
			s = $0; sub(/.*locks: /, "", s); split(s, a, /[ ,(;]+/)
			lf += a[1]; lm += a[7]; lb += a[9]
			s = $0; sub(/.*stencil: /, "", s); split(s, a, /[ ,(;]+/)
			sf += a[1]; sm += a[6]; sb += a[8]; k++ }
		END { if (k != n) exit 1
		      printf "lock-pattern,%s,%s,%s,,%d,%d,%d\n", n, cfg, r, lf, lm, lb
		      printf "barrier-pattern,%s,%s,%s,,%d,%d,%d\n", n, cfg, r, sf, sm, sb }' \
			"$log" >> "$CSV" || { echo "$0: patterns $n $cfg: no counts" >&2; fail=1; }
		return
	fi
	# shellcheck disable=SC2046,SC2086
	env $(env_of "$cfg") DSM_TAPEWORM=off timeout 300 \
		"$DSMRUN" -n "$n" "$BUILD/bench/apps/${app}_dsm" ${SIZE[$app]} > "$log" 2>&1
	l=$(grep '^APP ' "$log" | head -1)
	if [ -z "$l" ] || [ "$(field ok "$l")" != 1 ]; then
		echo "$0: $app $n $cfg: failed (see $log)" >&2
		fail=1
		return
	fi
	echo "$app,$n,$cfg,$r,$(field time_s "$l"),$(field fetches "$l"),$(field msgs "$l"),$(field bytes "$l")" >> "$CSV"
}

for n in $NODES; do
	for cfg in $CONFIGS; do
		run patterns "$n" "$cfg" 0
	done
	for app in $APPS; do
		[ -n "${SIZE[$app]:-}" ] || { echo "$0: no size for $app" >&2; fail=1; continue; }
		for ((r = 0; r < REPS; r++)); do
			for cfg in $CONFIGS; do # alternately: load drifts hit every config
				run "$app" "$n" "$cfg" "$r"
			done
		done
	done
done

# The table: per app and node count, each configuration's counts (from
# its first run: they do not vary with load) and its median time as a
# ratio to native lrc's.
awk -F, -v configs="$CONFIGS" '
NR == 1 { next }
{ k = $1 "," $2; if (!(k in seen)) order[++nk] = k; seen[k] = 1
  c = $3; if (!((k, c) in f)) { f[k, c] = $6; m[k, c] = $7; b[k, c] = $8 }
  if ($5 != "") { nt[k, c]++; t[k, c, nt[k, c]] = $5 } }
function median(k, c,    i, j, x, v, cnt) {
	cnt = nt[k, c]; if (!cnt) return -1
	for (i = 1; i <= cnt; i++) v[i] = t[k, c, i]
	for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++)
		if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
	return v[int((cnt + 1) / 2)]
}
END {
	nc = split(configs, cf, " ")
	print "| app | nodes | config | remote misses | messages | bytes | time / lrc |"
	print "|---|---:|---|---:|---:|---:|---:|"
	for (i = 1; i <= nk; i++) {
		k = order[i]; split(k, a, ",")
		base = median(k, "lrc")
		for (j = 1; j <= nc; j++) {
			c = cf[j]
			if (!((k, c) in f)) continue
			tm = median(k, c)
			r = (tm >= 0 && base > 0) ? sprintf("%.2f", tm / base) : "-"
			printf "| %s | %s | %s | %d | %d | %d | %s |\n", a[1], a[2], c,
				f[k, c], m[k, c], b[k, c], r
		}
	}
}' "$CSV" | tee "$OUT/results.md"
echo "($CSV; logs in $OUT/logs)"
exit $fail
