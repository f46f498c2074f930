#!/usr/bin/env bash
# bench/tw_compare.sh — the application suite with and without Tapeworm
# (issue 12): remote misses, messages and time per app, protocol and node
# count, DSM_TAPEWORM=off against auto (every lock and barrier learns its
# tapes, no source change); a table against the issue's targets and one
# plot per app.
#
#   bench/tw_compare.sh BUILD_DIR [--apps "sor nb ..."] [--nodes "2 4"]
#                       [--protocols "hlrc lrc"] [--size quick|full]
#                       [--out DIR] [--reps R]
#
# Counts (remote misses = the nodes' remote_fetches in the measured
# region, messages, bytes) are exact and do not depend on the machine's
# load. Compulsory misses are the remote misses on pages the node had
# never read before in the run (the APP line's first_misses, counted by
# the tape layer: no history of a node's reads predicts them); the rest
# are the predictable misses, and the averages are given over them too;
# times are the minimum over R repetitions (default 1) and mean something
# only on a quiet machine with at least as many cores as nodes. Every run
# checks its result against the sequential computation (ok=1); a wrong
# result fails the script (exit 1).
#
# Output in DIR (default BUILD_DIR/tw-compare): results.csv (one row per
# run), results.md (the per-app table, the averages and the targets:
# remote misses -85%, messages -60%, time -25% on average, no app slower)
# and tw-<app>.png (gnuplot, if installed): misses and messages, off and
# auto, for every protocol and node count.
set -u

usage() {
	echo "usage: $0 BUILD_DIR [--apps LIST] [--nodes LIST]" \
		"[--protocols LIST] [--size quick|full] [--out DIR] [--reps R]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
APPS="sor lu nb km is hg wc mm tsp qs"
NODES="2 4"
PROTOS="hlrc lrc"
SIZEMODE=quick
OUT=""
REPS=1
while [ $# -gt 0 ]; do
	case "$1" in
	--apps) [ $# -ge 2 ] || usage; APPS=$2; shift ;;
	--nodes) [ $# -ge 2 ] || usage; NODES=$2; shift ;;
	--protocols) [ $# -ge 2 ] || usage; PROTOS=$2; shift ;;
	--size) [ $# -ge 2 ] || usage; SIZEMODE=$2; shift ;;
	--out) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
	--reps) [ $# -ge 2 ] || usage; REPS=$2; shift ;;
	*) usage ;;
	esac
	shift
done
OUT=${OUT:-$BUILD/tw-compare}
mkdir -p "$OUT/logs" || exit 1
APPDIR=$BUILD/bench/apps
DSMRUN=$BUILD/dsmrun
[ -x "$DSMRUN" ] || { echo "$0: no $DSMRUN (build first)" >&2; exit 1; }

declare -A SIZE
case "$SIZEMODE" in
quick)
	SIZE=([sor]="1024 30" [mm]="384" [km]="100000 16 10" [nb]="2048 3"
	      [lu]="512 32" [is]="1000000" [hg]="16000000 4096" [wc]="1000000 20000"
	      [tsp]="15" [qs]="1000000 4096") ;;
full)
	SIZE=([sor]="2048 50" [mm]="1024" [km]="1000000 16 20" [nb]="4096 10"
	      [lu]="1536 32" [is]="16000000" [hg]="64000000 4096" [wc]="8000000 20000"
	      [tsp]="17" [qs]="8000000 16384") ;;
*) usage ;;
esac

field() { # field NAME LINE
	local v
	v=$(printf '%s\n' "$2" | grep -o " $1=[^ ]*" | head -1 | cut -d= -f2)
	echo "${v:-}"
}

CSV=$OUT/results.csv
echo "app,protocol,nodes,tapeworm,time_s,fetches,msgs,bytes,ok,compulsory" > "$CSV"
fail=0
for app in $APPS; do
	bin=$APPDIR/${app}_dsm
	[ -x "$bin" ] || { echo "$0: missing $bin" >&2; fail=1; continue; }
	[ -n "${SIZE[$app]:-}" ] || { echo "$0: no size for $app" >&2; fail=1; continue; }
	for proto in $PROTOS; do
		for n in $NODES; do
			for tw in off auto; do
				best="" line=""
				for ((r = 0; r < REPS; r++)); do
					log=$OUT/logs/$app.$proto.$n.$tw.$r.log
					# shellcheck disable=SC2086
					DSM_PROTOCOL=$proto DSM_TAPEWORM=$tw timeout 300 \
						"$DSMRUN" -n "$n" "$bin" ${SIZE[$app]} > "$log" 2>&1
					l=$(grep '^APP ' "$log" | head -1)
					if [ -z "$l" ] || [ "$(field ok "$l")" != 1 ]; then
						echo "$0: $app $proto $n $tw: failed (see $log)" >&2
						fail=1
						continue
					fi
					t=$(field time_s "$l")
					if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then
						best=$t line=$l
					fi
				done
				[ -n "$line" ] || continue
				echo "$app,$proto,$n,$tw,$best,$(field fetches "$line"),$(field msgs "$line"),$(field bytes "$line"),1,$(field first_misses "$line")" >> "$CSV"
				printf '%-4s %-5s %d %-4s time %8.3f s  misses %7s (compulsory %7s)  msgs %8s  bytes %10s\n' \
					"$app" "$proto" "$n" "$tw" "$best" "$(field fetches "$line")" \
					"$(field first_misses "$line")" "$(field msgs "$line")" "$(field bytes "$line")"
			done
		done
	done
done

# The table: one row per app, protocol and node count; averages over the
# rows (the issue's "on average") and the apps slower with Tapeworm.
awk -F, -v sizes="$SIZEMODE" '
NR == 1 { next }
{ k = $1 "," $2 "," $3; if (!(k in key)) order[++nk] = k
  key[k] = 1; t[k, $4] = $5; f[k, $4] = $6; m[k, $4] = $7; by[k, $4] = $8; c[k, $4] = $10 + 0 }
function pct(a, b) { return a > 0 ? 100 * (b - a) / a : 0 }
END {
	print "| app | protocol | nodes | remote misses off → auto | change | compulsory (off) | predictable misses off → auto | change | messages off → auto | change | KB off → auto | time off → auto (s) | change |"
	print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	n = 0
	for (i = 1; i <= nk; i++) {
		k = order[i]
		if (!((k, "off") in t) || !((k, "auto") in t))
			continue
		split(k, a, ",")
		dm = pct(f[k, "off"], f[k, "auto"]); dg = pct(m[k, "off"], m[k, "auto"])
		dt = pct(t[k, "off"], t[k, "auto"])
		po = f[k, "off"] - c[k, "off"]; pa = f[k, "auto"] - c[k, "auto"]
		if (pa < 0) pa = 0
		dp = pct(po, pa)
		printf "| %s | %s | %s | %d → %d | %+.0f%% | %d | %d → %d | %s | %d → %d | %+.0f%% | %d → %d | %.3f → %.3f | %+.0f%% |\n",
			a[1], a[2], a[3], f[k, "off"], f[k, "auto"], dm, c[k, "off"], po, pa,
			(po > 0 ? sprintf("%+.0f%%", dp) : "—"), m[k, "off"], m[k, "auto"], dg,
			by[k, "off"] / 1024, by[k, "auto"] / 1024, t[k, "off"], t[k, "auto"], dt
		if (f[k, "off"] > 0) { sm += dm; nm++ }
		if (po > 0) { sp += dp; np++; spg += dg; spt += dt }
		tf += f[k, "off"]; tc += c[k, "off"]
		sg += dg; st += dt; n++
		if (dt > 0) slower = slower " " a[1] "/" a[2] "/" a[3]
	}
	if (n == 0)
		exit
	printf "\nAverages over %d rows (%s sizes): remote misses %+.0f%% (target -85%%; rows with misses), messages %+.0f%% (target -60%%), time %+.0f%% (target -25%%; meaningful only on a quiet machine).\n",
		n, sizes, nm ? sm / nm : 0, sg / n, st / n
	printf "Compulsory misses (pages a node had never read; no history predicts them): %d of %d remote misses under off (%.0f%%).\n",
		tc, tf, (tf ? 100 * tc / tf : 0)
	printf "Over the %d rows with predictable misses: predictable misses %+.0f%%, messages %+.0f%%, time %+.0f%%.\n",
		np, (np ? sp / np : 0), (np ? spg / np : 0), (np ? spt / np : 0)
	printf "Rows slower with Tapeworm (time; noise at these sizes on a loaded machine):%s\n", slower == "" ? " none" : slower
}' "$CSV" > "$OUT/results.md"
cat "$OUT/results.md"

# One plot per app: misses and messages, off and auto.
if command -v gnuplot > /dev/null; then
	for app in $APPS; do
		dat=$OUT/tw-$app.dat
		awk -F, -v app="$app" 'NR > 1 && $1 == app {
			k = $2 "-" $3; order[k] = 1; f[k, $4] = $6; m[k, $4] = $7 }
			END { for (k in order) print k, f[k, "off"] + 0, f[k, "auto"] + 0, m[k, "off"] + 0, m[k, "auto"] + 0 }' \
			"$CSV" | sort > "$dat"
		[ -s "$dat" ] || continue
		gnuplot <<-EOF
			set terminal pngcairo size 900,360 font ",10"
			set output "$OUT/tw-$app.png"
			set multiplot layout 1,2 title "$app: Tapeworm off vs auto (protocol-nodes)"
			set style data histograms
			set style histogram clustered gap 1
			set style fill solid 0.8 border -1
			set yrange [0:*]
			set key top left
			set title "remote misses"
			plot "$dat" using 2:xtic(1) title "off", "" using 3 title "auto"
			set title "messages"
			plot "$dat" using 4:xtic(1) title "off", "" using 5 title "auto"
			unset multiplot
		EOF
	done
fi
exit $fail
