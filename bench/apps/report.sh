#!/usr/bin/env bash
# bench/apps/report.sh — tables and plots from the application benchmarks'
# results.csv (written by bench/apps/run.sh, which calls this).
#
#   OUT=DIR CORES=N bench/apps/report.sh results.csv
#
# Prints two markdown tables (times and speedups; bytes, messages, faults
# and diffs) and writes them to DIR/results.md; draws DIR/speedup.png,
# DIR/bytes.png and DIR/msgs_per_node.png with gnuplot when it is
# installed. Rows with more nodes than CORES are marked "(o)": their times
# are not meaningful, their counts are.
set -u
CSV=${1:?usage: OUT=DIR report.sh results.csv}
OUT=${OUT:-$(dirname "$CSV")}
CORES=${CORES:-$(nproc)}
DAT="$OUT/plot"
mkdir -p "$DAT"

# A series is what one line of a plot shows: pthreads, mpi, or
# dsm-<protocol> (dsm-<protocol>[mpi] over the MPI transport).
SERIES_AWK='
function series(ver, tr, proto) {
	if (ver == "dsm") return "dsm-" proto (tr == "mpi" ? "[mpi]" : "")
	return ver
}
function add_series(s) { if (!(s in seen)) { seen[s] = 1; order[++ns] = s } }
function cell(v) { return v == "" ? "?" : v }'

# Markdown tables to stdout.
tables() {
	awk -F, -v cores="$CORES" "$SERIES_AWK"'
	NR == 1 { next }
	{
		s = series($2, $3, $4); key = $1 SUBSEP $5 SUBSEP s
		if (!($1 in appseen)) { appseen[$1] = 1; apps[++na] = $1 }
		if (!($5 in nseen) && $2 != "seq") { nseen[$5] = 1; nodes[++nn] = $5 }
		if ($2 == "seq") { seq[$1] = $7 == "ok" ? $8 : $7; next }
		add_series(s)
		st[key] = $7; t[key] = $8; sp[key] = $9; vp[key] = $10
		by[key] = $12; mpn[key] = $15; fa[key] = $13; di[key] = $14
	}
	function timecell(k) {
		if (!(k in st)) return "–"
		if (st[k] != "ok") return st[k]
		return sprintf("%.3f (%.2fx%s)", t[k], sp[k], vp[k] != "" && index(k, "dsm") ? sprintf(", %.2f pth", vp[k]) : "")
	}
	function num(v) {
		if (v == "") return "–"
		if (v >= 1e9) return sprintf("%.2f G", v / 1e9)
		if (v >= 1e6) return sprintf("%.2f M", v / 1e6)
		if (v >= 1e3) return sprintf("%.1f k", v / 1e3)
		return v
	}
	END {
		printf("Times in seconds (speedup over sequential; for libdsm also the ratio to pthreads at the same node count). (o) = more nodes than the %d cores: time not meaningful.\n\n", cores)
		printf("| app | nodes | seq |"); for (i = 1; i <= ns; i++) printf(" %s |", order[i]); print ""
		printf("|---|---:|---:|"); for (i = 1; i <= ns; i++) printf("---:|"); print ""
		for (a = 1; a <= na; a++) for (j = 1; j <= nn; j++) {
			n = nodes[j]
			sq = j > 1 ? "" : seq[apps[a]] ~ /^[0-9.]+$/ ? sprintf("%.3f", seq[apps[a]]) : seq[apps[a]]
			printf("| %s | %s%s | %s |", apps[a], n, n > cores ? " (o)" : "", sq)
			for (i = 1; i <= ns; i++) printf(" %s |", timecell(apps[a] SUBSEP n SUBSEP order[i]))
			print ""
		}
		printf("\nTraffic in the measured region, all nodes together: bytes sent (MPI: payload bytes its calls send; libdsm: wire bytes, headers included) / messages per node / faults / diffs (libdsm).\n\n")
		printf("| app | nodes |"); for (i = 1; i <= ns; i++) if (order[i] != "pthreads") printf(" %s |", order[i]); print ""
		printf("|---|---:|"); for (i = 1; i <= ns; i++) if (order[i] != "pthreads") printf("---:|"); print ""
		for (a = 1; a <= na; a++) for (j = 1; j <= nn; j++) {
			n = nodes[j]
			printf("| %s | %s |", apps[a], n)
			for (i = 1; i <= ns; i++) {
				s = order[i]; k = apps[a] SUBSEP n SUBSEP s
				if (s == "pthreads") continue
				if (st[k] != "ok") { printf(" %s |", k in st ? st[k] : "–"); continue }
				if (s == "mpi") printf(" %sB / %s |", num(by[k]), mpn[k])
				else printf(" %sB / %s / %s / %s |", num(by[k]), mpn[k], num(fa[k]), num(di[k]))
			}
			print ""
		}
	}' "$CSV"
}

# Per app: DAT/<app>.dat with, per node count, columns per series of
# speedup, bytes and messages per node ("?" = missing); DAT/series lists
# the series in column order.
datafiles() {
	awk -F, -v dat="$DAT" "$SERIES_AWK"'
	NR == 1 { next }
	$2 == "seq" { next }
	{
		s = series($2, $3, $4); add_series(s)
		if (!($1 in appseen)) { appseen[$1] = 1; apps[++na] = $1 }
		if (!($5 in nseen)) { nseen[$5] = 1; nodes[++nn] = $5 }
		if ($7 == "ok") { k = $1 SUBSEP $5 SUBSEP s; sp[k] = $9; by[k] = $12; mp[k] = $15 }
	}
	END {
		for (i = 1; i <= ns; i++) print order[i] > (dat "/series")
		for (a = 1; a <= na; a++) {
			f = dat "/" apps[a] ".dat"
			for (j = 1; j <= nn; j++) {
				line = nodes[j]
				for (i = 1; i <= ns; i++) {
					k = apps[a] SUBSEP nodes[j] SUBSEP order[i]
					line = line " " cell(sp[k]) " " cell(by[k] > 0 ? by[k] : "") " " cell(mp[k] > 0 ? mp[k] : "")
				}
				print line > f
			}
			close(f)
		}
	}' "$CSV"
}

# One PNG: a grid of one panel per app; column offset 0 = speedup,
# 1 = bytes, 2 = messages per node.
plot() {
	local png=$1 off=$2 title=$3 ylabel=$4 logy=$5 skip=$6 apps ns plots="" i s col
	apps=$(cut -d, -f1 "$CSV" | sed 1d | awk '!seen[$0]++')
	mapfile -t series <"$DAT/series"
	{
		echo "set terminal pngcairo size 1400,700 font ',9'"
		echo "set output '$png'"
		echo "set datafile missing '?'"
		echo "set key top left font ',8'"
		echo "set xlabel 'nodes'; set ylabel '$ylabel'"
		echo "set logscale x 2; set xtics (1,2,4,8); set xrange [0.9:9]"
		echo "set samples 200"
		[ "$logy" = 1 ] && echo "set logscale y"
		echo "set multiplot layout 2,4 title '$title'"
		for app in $apps; do
			plots=""
			for i in "${!series[@]}"; do
				s=${series[$i]}
				[[ " $skip " == *" $s "* ]] && continue
				col=$((2 + 3 * i + off))
				plots+="${plots:+, }'$DAT/$app.dat' using 1:$col with linespoints title '$s'"
			done
			[ "$off" = 0 ] && plots+=", (x < $CORES ? x : $CORES) with lines dashtype 2 lc rgb 'gray' title 'cores'"
			echo "set title '$app'"
			echo "plot $plots"
		done
		echo "unset multiplot"
	} >"$DAT/$(basename "$png" .png).gp"
	gnuplot "$DAT/$(basename "$png" .png).gp" 2>"$DAT/gnuplot.err" ||
		{ echo "gnuplot failed for $png:"; cat "$DAT/gnuplot.err"; }
}

tables | tee "$OUT/results.md"
{
	echo
	echo "Problem sizes (program arguments):"
	echo
	echo "${SIZES:-}" | sed '/^$/d; s/^/    /'
} >>"$OUT/results.md"
datafiles
if command -v gnuplot >/dev/null 2>&1; then
	plot "$OUT/speedup.png" 0 "Speedup over sequential (above the core count: not meaningful)" "speedup" 0 ""
	plot "$OUT/bytes.png" 1 "Bytes moved in the measured region: libdsm vs MPI" "bytes" 1 "pthreads"
	plot "$OUT/msgs_per_node.png" 2 "Messages sent per node vs node count" "messages / node" 1 "pthreads"
	echo
	echo "plots: $OUT/speedup.png $OUT/bytes.png $OUT/msgs_per_node.png"
else
	echo "gnuplot not installed: no plots (tools/install-deps.sh bench)"
fi
