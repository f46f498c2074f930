#!/usr/bin/env bash
# replay_overhead.sh — recording overhead against plain sc at 2 nodes
# (docs/replay.md, "Figures"): each application of bench/apps, REPS
# alternating runs without and with --record; the medians of the measured
# region's time (the APP line's time_s), their ratio, the whole run's log
# size and that size per second of the measured region.
#   bench/replay_overhead.sh BUILD_DIR [REPS]
set -u
B=${1:-build}
REPS=${2:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for app in "mm_dsm 1024" "km_dsm 1000000 16 20" "sor_dsm 2048 50" "hg_dsm 16000000 4096" \
	   "wc_dsm 1000000 20000" "nb_dsm 2048 3" "lu_dsm 512 32" "is_dsm 1000000"; do
	: >"$WORK/runs"
	for i in $(seq "$REPS"); do
		for mode in plain rec; do
			rm -rf "$WORK/log"
			if [ "$mode" = rec ]; then o=(--record "$WORK/log"); else o=(--protocol sc); fi
			# shellcheck disable=SC2086
			t=$("$B/dsmrun" -n 2 "${o[@]}" "$B/bench/apps/${app%% *}" ${app#* } 2>&1 |
			    grep -o 'time_s=[0-9.]*' | cut -d= -f2)
			sz=$(cat "$WORK"/log/*.rlog 2>/dev/null | wc -c)
			echo "$mode ${t:-nan} $sz" >>"$WORK/runs"
		done
	done
	python3 - "$app" "$WORK/runs" <<'PY'
import statistics, sys
p, r, s = [], [], []
for line in open(sys.argv[2]):
    mode, t, size = line.split()
    if t == 'nan':
        continue
    (p if mode == 'plain' else r).append(float(t))
    if mode == 'rec':
        s.append(int(size))
if p and r:
    mp, mr = statistics.median(p), statistics.median(r)
    ms = statistics.median(s)
    print(f"{sys.argv[1]:24s} plain {mp:7.3f} s  record {mr:7.3f} s  x{mr / mp:4.2f}"
          f"  log {ms:8d} B  {ms / mr / 1e3:7.0f} kB/s")
else:
    print(f"{sys.argv[1]:24s} failed")
PY
done
