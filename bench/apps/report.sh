#!/usr/bin/env bash
# bench/apps/report.sh — tables and plots from the application benchmarks'
# results.csv (written by bench/apps/run.sh, which calls this).
#
#   OUT=DIR CORES=N [DEFAULT_PROTO=P] bench/apps/report.sh results.csv
#   OUT=DIR bench/apps/report.sh --counts counts.csv
#
# Prints two markdown tables (times and speedups; bytes, messages, faults
# and diffs), a summary of every protocol at 2 nodes and the "Targets"
# block of issue 10 (2 nodes, protocol DEFAULT_PROTO over TCP: speedup
# over sequential, ratio to pthreads, bytes relative to MPI, messages per
# node at 2/4/8 nodes, growth of the messages per barrier and per lock
# acquire; every ratio from the numbers in results.csv, i.e. measured in
# the same run) and writes them to DIR/results.md; draws DIR/speedup.png,
# DIR/bytes.png and DIR/msgs_per_node.png with gnuplot when it is
# installed. Rows with more nodes than CORES are marked "(o)": their times
# are not meaningful, their counts are.
#
# --counts: the table of messages and bytes per barrier and per lock
# acquire by protocol, app and node count, and whether each grows at most
# linearly with the node count, to stdout and DIR/counts.md.
set -u
COUNTS=0
[ "${1:-}" = --counts ] && { COUNTS=1; shift; }
CSV=${1:?usage: OUT=DIR report.sh [--counts] results.csv}
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
		printf("\nTraffic in the measured region, all nodes together: bytes sent (MPI: payload bytes its calls send; libdsm: wire bytes, headers included, and the pages a node copied from the memory of a peer on the same machine, DSM_PEER_MEM) / messages per node / faults / diffs (libdsm).\n\n")
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

# Growth test shared by the targets and --counts: "at most linear" is at
# most proportional to the number of peers, v(N) <= 1.1 x v(N0) x (N - 1)
# / (N0 - 1) for every node count N, N0 the smallest one measured (a
# central barrier sends 2 (N - 1) messages: exactly linear; anything
# quadratic fails from 4 nodes on).
GROWTH_AWK='
function linear(vals, ns, cnt,    i, ok) {
	ok = 1
	for (i = 2; i <= cnt; i++)
		if (vals[i] > 1.1 * vals[1] * (ns[i] - 1) / (ns[1] - 1) + 1e-9) ok = 0
	return ok
}'

# Per (protocol, app, N) of the libdsm TCP runs: the synchronization cost.
# barrier episodes = dsm_barrier calls / N (in the measured region: the
# loop's barriers and the closing one); per barrier: all messages and
# bytes of the region divided by the episodes, and the BAR_* messages
# alone; per lock acquire: LOCK_* messages and bytes, and every message
# that is not a BAR_* one.
counts_table() {
	awk -F, -v cores="$CORES" "$GROWTH_AWK"'
	NR == 1 { next }
	$2 != "dsm" || $3 != "tcp" { next }
	{
		k = $4 SUBSEP $1
		if (!(k in kseen)) { kseen[k] = 1; keys[++nk] = k }
		row[k, ++cnt[k]] = $0
	}
	function f(v, d) { return v == "" ? "–" : sprintf("%." d "f", v) }
	END {
		print "Synchronization cost of the libdsm runs (TCP), measured region. Per barrier: all messages and bytes of the region / barrier episodes (dsm_barrier calls / nodes), and the BAR_* messages alone. Per lock acquire: LOCK_* messages and bytes / acquires, and all messages but BAR_* / acquires. (o) = oversubscribed, times not meaningful. Linear (at most proportional to the number of peers): every value at N nodes <= 1.1 x (value at the smallest N, N0) x (N - 1) / (N0 - 1).\n"
		print "| protocol | app | nodes | status | barriers | msgs / barrier | BAR msgs / barrier | bytes / barrier | acquires | LOCK msgs / acquire | LOCK bytes / acquire | non-BAR msgs / acquire | msgs / node |"
		print "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= nk; i++) {
			k = keys[i]; split(k, pa, SUBSEP); m = 0
			delete vb; delete vbb; delete vl; delete vo; delete ns
			for (j = 1; j <= cnt[k]; j++) {
				split(row[k, j], c, ",")
				n = c[5]; st = c[7]
				if (st != "ok") {
					printf("| %s | %s | %s%s | %s | | | | | | | | | |\n", pa[1], pa[2], n, n > cores ? " (o)" : "", st)
					bad[k] = bad[k] " " n "(" st ")"
					continue
				}
				ep = c[19] / n; acq = c[20]
				mpb = ep > 0 ? c[11] / ep : ""; bmpb = ep > 0 ? c[21] / ep : ""
				bpb = ep > 0 ? c[12] / ep : ""
				lpa = acq > 0 ? c[23] / acq : ""; lbpa = acq > 0 ? c[24] / acq : ""
				opa = acq > 0 ? (c[11] - c[21]) / acq : ""
				printf("| %s | %s | %s%s | ok | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				       pa[1], pa[2], n, n > cores ? " (o)" : "", ep, f(mpb, 1), f(bmpb, 1),
				       f(bpb, 0), acq == "" ? "–" : acq, f(lpa, 2), f(lbpa, 0), f(opa, 1), f(c[15], 1))
				if (n < 2) continue # no peers: not part of the growth test
				ns[++m] = n
				if (acq > 0) { vl[m] = lpa; vo[m] = opa; lockapp[k] = 1 }
				vb[m] = mpb; vbb[m] = bpb
			}
			nm[k] = m
			if (m < 2) { verdict[k] = "not enough node counts"; continue }
			if (lockapp[k]) {
				ok = linear(vl, ns, m) && linear(vo, ns, m)
				what = sprintf("LOCK msgs / acquire %.2f -> %.2f, non-BAR msgs / acquire %.1f -> %.1f", vl[1], vl[m], vo[1], vo[m])
				extra = ""
			} else {
				ok = linear(vb, ns, m)
				what = sprintf("msgs / barrier %.1f -> %.1f", vb[1], vb[m])
				extra = sprintf("; bytes / barrier %.0f -> %.0f (x%.1f): %s", vbb[1], vbb[m], vbb[m] / vbb[1],
						linear(vbb, ns, m) ? "at most linear" : "faster than linear")
			}
			verdict[k] = sprintf("%s from %d to %d nodes (peers x%g): %s%s", what, ns[1], ns[m], (ns[m] - 1) / (ns[1] - 1),
					     ok ? "messages at most linear ✔" : "messages faster than linear ✘", extra)
		}
		print "\nGrowth with the node count:\n"
		for (i = 1; i <= nk; i++) {
			k = keys[i]; split(k, pa, SUBSEP)
			printf("- %s %s: %s%s\n", pa[2], pa[1], verdict[k], bad[k] != "" ? " (not measured at:" bad[k] ")" : "")
		}
	}' "$CSV"
}

if [ "$COUNTS" = 1 ]; then
	{
		counts_table
		echo
		echo "Problem sizes (program arguments):"
		echo
		echo "${SIZES:-}" | sed '/^$/d; s/^/    /'
	} | tee "$OUT/counts.md"
	exit 0
fi

# Every protocol at 2 nodes (TCP): speedup over sequential, time / pthreads
# time, bytes / MPI bytes; then the targets for DEFAULT_PROTO.
targets() {
	awk -F, -v dp="${DEFAULT_PROTO:-}" -v cores="$CORES" "$GROWTH_AWK"'
	NR == 1 { next }
	{
		if (!($1 in appseen)) { appseen[$1] = 1; apps[++na] = $1 }
		if ($2 == "dsm" && $3 == "tcp" && !($4 in pseen)) { pseen[$4] = 1; protos[++np] = $4 }
		k = $1 SUBSEP $2 SUBSEP ($2 == "dsm" ? $3 "/" $4 : "-") SUBSEP $5
		st[k] = $7; t[k] = $8; by[k] = $12; mpn[k] = $15; msgs[k] = $11
		bars[k] = $19; locks[k] = $20; lmsgs[k] = $23
		if ($2 == "seq") { seqst[$1] = $7; seqt[$1] = $8 }
		if ($5 == 2) have2 = 1
	}
	function mark(ok) { return ok ? "✔" : "✘" }
	function fx(v) { return sprintf("%.2fx", v) }
	function fx3(v) { return sprintf("%.3fx", v) } # the targets: no 1.30 marked ✘
	function dk(a, p, n) { return a SUBSEP "dsm" SUBSEP "tcp/" p SUBSEP n }
	function pk(a, v, n) { return a SUBSEP v SUBSEP "-" SUBSEP n }
	function bytes(v) {
		if (v >= 1e9) return sprintf("%.2f GB", v / 1e9)
		if (v >= 1e6) return sprintf("%.2f MB", v / 1e6)
		if (v >= 1e3) return sprintf("%.1f kB", v / 1e3)
		return v " B"
	}
	# "speedup / vs pthreads / bytes vs MPI" of one libdsm run at 2 nodes
	function summary(a, p,    k, s, pth, mp) {
		k = dk(a, p, 2)
		if (!(k in st)) return "–"
		if (st[k] != "ok") return st[k]
		s = seqst[a] == "ok" && t[k] > 0 ? fx(seqt[a] / t[k]) : "?"
		pth = pk(a, "pthreads", 2); mp = pk(a, "mpi", 2)
		s = s " / " (st[pth] == "ok" && t[pth] > 0 ? sprintf("%.2f", t[k] / t[pth]) : "?")
		s = s " / " (st[mp] == "ok" && by[mp] > 0 ? sprintf("%.2f", by[k] / by[mp]) : "–")
		return s
	}
	END {
		if (!have2) { print "\nNo 2-node runs: no summary and no targets (run with --nodes including 2)."; exit }
		printf("\n### Every protocol at 2 nodes (TCP)\n\nSpeedup over sequential / time relative to pthreads (2 threads) / bytes relative to MPI (2 ranks; MPI counts payload bytes, libdsm wire bytes with headers and pages copied from the memory of a peer).\n\n")
		printf("| app |"); for (i = 1; i <= np; i++) printf(" %s%s |", protos[i], protos[i] == dp ? " (default)" : ""); print ""
		printf("|---|"); for (i = 1; i <= np; i++) printf("---:|"); print ""
		for (a = 1; a <= na; a++) {
			printf("| %s |", apps[a])
			for (i = 1; i <= np; i++) printf(" %s |", summary(apps[a], protos[i]))
			print ""
		}

		if (dp == "" || !(dp in pseen)) { printf("\nNo libdsm runs under the default protocol (%s): no targets.\n", dp); exit }
		nbyt = split("sor lu mm is", bapps, " "); for (i = 1; i <= nbyt; i++) isbyt[bapps[i]] = 1
		lockapps = "nb km hg wc tsp qs wa"
		npth = 0; nopth = 0; npslow = 0; nbok = 0; nbn = 0; listpth = ""; listslow = ""; listb = ""
		sorline = "not run ✘"
		rows = ""
		for (a = 1; a <= na; a++) {
			A = apps[a]; k = dk(A, dp, 2); pth = pk(A, "pthreads", 2); mp = pk(A, "mpi", 2)
			ok = (k in st) && st[k] == "ok"
			sp = ok && seqst[A] == "ok" && t[k] > 0 ? seqt[A] / t[k] : ""
			vp = ok && st[pth] == "ok" && t[pth] > 0 ? t[k] / t[pth] : ""
			bm = ok && st[mp] == "ok" && by[mp] > 0 ? by[k] / by[mp] : ""
			stc = (k in st) ? st[k] : "not run"
			# within 1.3x of pthreads
			npth++; if (vp != "" && vp <= 1.3) nopth++; else listpth = listpth " " A
			# not slower than sequential
			if (sp == "" || sp < 1) { npslow++; listslow = listslow " " A }
			if (isbyt[A]) { nbn++; if (bm != "" && bm <= 1.3) nbok++; else listb = listb " " A }
			if (A == "sor")
				sorline = sp != "" ? sprintf("%s %s", fx3(sp), mark(sp >= 1.5)) : stc " ✘"
			mpn2 = ""
			for (j = 2; j <= 8; j *= 2) {
				kk = dk(A, dp, j)
				mpn2 = mpn2 (j > 2 ? " / " : "") ((kk in st) && st[kk] == "ok" ? mpn[kk] : (kk in st) ? st[kk] : "–")
			}
			rows = rows sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", A,
				seqst[A] == "ok" ? sprintf("%.3f", seqt[A]) : seqst[A],
				st[pth] == "ok" ? sprintf("%.3f", t[pth]) : (pth in st) ? st[pth] : "–",
				ok ? sprintf("%.3f", t[k]) : stc,
				sp != "" ? fx3(sp) " " mark(sp >= (A == "sor" ? 1.5 : 1)) : "✘",
				vp != "" ? sprintf("%.3f %s", vp, mark(vp <= 1.3)) : "✘",
				ok ? bytes(by[k]) : "–",
				st[mp] == "ok" ? bytes(by[mp]) : (mp in st) ? st[mp] : "–",
				isbyt[A] ? (bm != "" ? sprintf("%.3f %s", bm, mark(bm <= 1.3)) : "✘") : (bm != "" ? sprintf("%.3f (no target)", bm) : ""),
				mpn2)
		}
		# growth of the synchronization cost, default protocol, 2 to 8 nodes
		growth = ""
		for (a = 1; a <= na; a++) {
			A = apps[a]; m = 0; delete v; delete ns
			islock = index(" " lockapps " ", " " A " ") > 0
			if (A != "sor" && !islock) continue
			vals = ""
			for (j = 2; j <= 8; j *= 2) {
				kk = dk(A, dp, j)
				if (!((kk in st) && st[kk] == "ok")) continue
				if (islock) { if (locks[kk] > 0) { v[++m] = lmsgs[kk] / locks[kk]; ns[m] = j } }
				else if (bars[kk] > 0) { v[++m] = msgs[kk] / (bars[kk] / j); ns[m] = j }
				if (m && ns[m] == j) vals = vals (vals != "" ? " / " : "") sprintf("%.1f", v[m]) " (" j ")"
			}
			if (m < 2) continue
			growth = growth sprintf("    - %s, %s: %s %s\n", A, islock ? "LOCK messages per acquire" : "messages per barrier",
						vals, linear(v, ns, m) ? "✔" : "✘")
		}
		printf("\n### Targets (issue 10): 2 nodes, default protocol `%s`, TCP\n\n", dp)
		printf("Every ratio is computed from times and counts measured in this run (results.csv).\n\n")
		printf("- Jacobi/SOR speedup over sequential >= 1.5x: %s\n", sorline)
		printf("- every app within 1.3x of its pthreads time: %d of %d %s%s\n", nopth, npth, mark(nopth == npth), listpth != "" ? " (not:" listpth ")" : "")
		printf("- none slower than sequential: %s%s\n", mark(npslow == 0), listslow != "" ? " (slower or not measured:" listslow ")" : "")
		printf("- bytes moved within 1.3x of the MPI version (sor, lu, mm, is): %d of %d %s%s\n", nbok, nbn, mark(nbn > 0 && nbok == nbn), listb != "" ? " (not:" listb ")" : "")
		printf("- synchronization messages grow at most linearly from 2 to 8 nodes (run.sh --counts for 16 and 32):\n%s", growth != "" ? growth : "    - not measured (needs runs at 2 and 4 or 8 nodes)\n")
		printf("\n| app | seq s | pthreads s | libdsm s | speedup (sor >= 1.5, others >= 1) | / pthreads (<= 1.3) | bytes libdsm | bytes MPI | / MPI (<= 1.3) | msgs per node at 2 / 4 / 8 nodes |\n")
		printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n%s", rows)
	}' "$CSV"
}

# DAT/at2.dat: per app (rows) and libdsm TCP protocol (3 columns each):
# speedup over sequential, time / pthreads time, bytes / MPI bytes, at 2
# nodes ("?" = missing); DAT/at2.protos lists the protocols in order.
at2_data() {
	awk -F, -v dat="$DAT" '
	NR == 1 { next }
	$5 != 2 && $2 != "seq" { next }
	{
		if (!($1 in appseen)) { appseen[$1] = 1; apps[++na] = $1 }
		if ($7 != "ok") next
		if ($2 == "seq") seq[$1] = $8
		else if ($2 == "pthreads") pth[$1] = $8
		else if ($2 == "mpi") mpib[$1] = $12
		else if ($3 == "tcp") {
			if (!($4 in pseen)) { pseen[$4] = 1; protos[++np] = $4 }
			t[$1, $4] = $8; b[$1, $4] = $12
		}
	}
	function r(x, y) { return (x != "" && y != "" && y > 0) ? x / y : "?" }
	END {
		for (i = 1; i <= np; i++) print protos[i] > (dat "/at2.protos")
		for (a = 1; a <= na; a++) {
			A = apps[a]; line = A
			for (i = 1; i <= np; i++) {
				k = A SUBSEP protos[i]
				tt = (k in t) ? t[k] : ""
				line = line " " r(seq[A], tt) " " r(tt, pth[A]) " " r((k in b) ? b[k] : "", mpib[A])
			}
			print line > (dat "/at2.dat")
		}
	}' "$CSV"
}

# targets.png: the 2-node ratios of every protocol, one panel per target,
# the target as a dashed line.
plot_targets() {
	local png=$1 protos i col plots t what off title l1 l2
	[ -s "$DAT/at2.dat" ] && [ -s "$DAT/at2.protos" ] || return 0
	mapfile -t protos <"$DAT/at2.protos"
	{
		echo "set terminal pngcairo size 1400,450 font ',9'"
		echo "set output '$png'"
		echo "set datafile missing '?'"
		echo "set style data histograms; set style histogram clustered gap 1"
		echo "set style fill solid 0.8 border -1; set boxwidth 0.9"
		echo "set key top left font ',8'; set grid y; set xtics rotate by 0"
		echo "set logscale y"
		echo "set multiplot layout 1,3 title 'At 2 nodes over TCP, every protocol (log scale; dashed: the target)'"
		for what in "0|speedup over sequential (target: sor >= 1.5, others >= 1)|1.5|1" \
			"1|time / pthreads time (target <= 1.3)|1.3|" \
			"2|bytes / MPI bytes (target <= 1.3 for sor, lu, mm, is)|1.3|"; do
			IFS='|' read -r off title l1 l2 <<<"$what"
			plots=""
			for i in "${!protos[@]}"; do
				col=$((2 + 3 * i + off))
				t=${protos[$i]}
				[ "$t" = "${DEFAULT_PROTO:-}" ] && t="$t (default)"
				plots+="${plots:+, }'$DAT/at2.dat' using $col:xtic(1) title '$t'"
			done
			plots+=", $l1 with lines dashtype 2 lc rgb 'red' notitle"
			[ -n "$l2" ] && plots+=", $l2 with lines dashtype 3 lc rgb 'gray' notitle"
			echo "set title '$title'"
			echo "plot $plots"
		done
		echo "unset multiplot"
	} >"$DAT/targets.gp"
	gnuplot "$DAT/targets.gp" 2>"$DAT/gnuplot.err" ||
		{ echo "gnuplot failed for $png:"; cat "$DAT/gnuplot.err"; }
}

{
	tables
	targets
} | tee "$OUT/results.md"
{
	echo
	echo "Problem sizes (program arguments):"
	echo
	echo "${SIZES:-}" | sed '/^$/d; s/^/    /'
} >>"$OUT/results.md"
datafiles
at2_data
if command -v gnuplot >/dev/null 2>&1; then
	plot "$OUT/speedup.png" 0 "Speedup over sequential (above the core count: not meaningful)" "speedup" 0 ""
	plot "$OUT/bytes.png" 1 "Bytes moved in the measured region: libdsm vs MPI" "bytes" 1 "pthreads"
	plot "$OUT/msgs_per_node.png" 2 "Messages sent per node vs node count" "messages / node" 1 "pthreads"
	plot_targets "$OUT/targets.png"
	echo
	echo "plots: $OUT/speedup.png $OUT/bytes.png $OUT/msgs_per_node.png" \
		"$([ -s "$OUT/targets.png" ] && echo "$OUT/targets.png")"
else
	echo "gnuplot not installed: no plots (tools/install-deps.sh bench)"
fi
