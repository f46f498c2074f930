#!/usr/bin/env bash
# replay_mt_overhead.sh — recording overhead of multi-threaded programs
# (several application threads per node, docs/replay.md) against plain sc
# at 2 nodes: each kernel of tests/replay/rp_mt.c, REPS alternating runs
# without and with --record; medians of the kernel's time (node 0's
# time_s, from the first barrier to the last), their ratio, the whole
# run's log size (both nodes), that size per second of the kernel, and
# the token hand-offs (SCHED records), and the median CPU time (user +
# system, all processes of the job) plain / recording: on a loaded
# machine the wall times vary 10x, the CPU time much less.
#   bench/replay_mt_overhead.sh BUILD_DIR [REPS]
# RUNS="kernel threads iters [grid]|..." to choose the runs.
set -u
B=${1:-build}
REPS=${2:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RUNS=${RUNS:-"jacobi 2 200 512|jacobi 3 200 512|sync 2 5000|sync 3 5000|counter 2 20000|hist 2 20000|queue 2 20000"}
IFS='|' read -r -a RUNS_A <<<"$RUNS"
for run in "${RUNS_A[@]}"; do
	# shellcheck disable=SC2086
	set -- $run
	k=$1 t=$2 it=$3 gn=${4:-128}
	: >"$WORK/runs"
	for i in $(seq "$REPS"); do
		for mode in plain rec; do
			rm -rf "$WORK/log"
			if [ "$mode" = rec ]; then o=(--record "$WORK/log"); else o=(--protocol sc); fi
			# the kernel's time (node 0) and the CPU time of the whole job
			# (every node's user + system, start and end included)
			cpu=$( { TIMEFORMAT='%U %S'; time RP_TIME=1 RP_N=$gn "$B/dsmrun" -n 2 "${o[@]}" \
				"$B/tests/rp_mt" "$k" "$t" "$it" >"$WORK/out" 2>&1; } 2>&1 |
			       awk '{ print $1 + $2 }')
			tm=$(grep -o 'time_s=[0-9.]*' "$WORK/out" | cut -d= -f2)
			sz=$(cat "$WORK"/log/*.rlog 2>/dev/null | wc -c)
			sched=0
			[ "$mode" = rec ] && sched=$("$B/dsmreplay" "$WORK/log" | awk '$1 == "SCHED" { s += $2 } END { print s + 0 }')
			echo "$mode ${tm:-nan} $sz $sched $cpu" >>"$WORK/runs"
		done
	done
	python3 - "$k ${t}thr $it" "$WORK/runs" <<'PY'
import statistics, sys
p, r, s, h, pc, rc = [], [], [], [], [], []
for line in open(sys.argv[2]):
    mode, t, size, sched, cpu = line.split()
    if t == 'nan':
        continue
    (p if mode == 'plain' else r).append(float(t))
    (pc if mode == 'plain' else rc).append(float(cpu))
    if mode == 'rec':
        s.append(int(size)); h.append(int(sched))
if p and r:
    mp, mr = statistics.median(p), statistics.median(r)
    ms = statistics.median(s)
    print(f"{sys.argv[1]:22s} plain {mp:7.3f} s ({min(p):.3f}-{max(p):.3f})"
          f"  record {mr:7.3f} s ({min(r):.3f}-{max(r):.3f})  x{mr / mp:5.2f}"
          f"  log {ms:8.0f} B  {ms / mr / 1e3:7.0f} kB/s  SCHED {statistics.median(h):.0f}"
          f"  cpu {statistics.median(pc):.2f} / {statistics.median(rc):.2f} s"
          f" x{statistics.median(rc) / statistics.median(pc):5.2f}")
else:
    print(f"{sys.argv[1]:22s} failed")
PY
done
