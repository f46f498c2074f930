#!/usr/bin/env bash
# test_replay_mn.sh — every multi-node test program (tests/mn/mn_*.c, each
# checked against a sequential computation or every word) records and
# replays under sc at RP_NODES (default 2) nodes: both runs pass their own
# checks (exit 0; their printed message counts may differ, the memory may
# not). The programs with several application threads per node
# (mn_threads*, mn_fetch_once) run them under the run token
# (docs/replay.md, "Several threads per node"). mn_tape_policy passes a
# token between nodes with dsm_tape_send/recv and no barrier: a receive
# is a boundary and its sender an input of the run.
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u

DSMRUN=${DSMRUN:-build/dsmrun}
BIN_DIR=${BIN_DIR:-build/tests}
NODES=${RP_NODES:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
run() { timeout 100 "$DSMRUN" --timeout 10s "$@"; }

n_progs=0
for prog in "$BIN_DIR"/mn_*; do
	[ -x "$prog" ] || continue
	name=$(basename "$prog")
	args=()
	[ "$name" = mn_random ] && args=(0 20)
	rm -rf "$WORK/log"
	n_progs=$((n_progs + 1))
	if ! run -n "$NODES" --record "$WORK/log" "$prog" "${args[@]}" >"$WORK/rec" 2>&1; then
		fail "$name: record failed"; grep -m3 '^dsm: ' "$WORK/rec"; tail -5 "$WORK/rec"; continue
	fi
	if ! run -n "$NODES" --replay "$WORK/log" "$prog" "${args[@]}" >"$WORK/rep" 2>&1; then
		fail "$name: replay failed"; grep -m3 '^dsm: ' "$WORK/rep"; tail -5 "$WORK/rep"; continue
	fi
	echo "ok: $name: recorded and replayed at $NODES nodes"
done
[ "$n_progs" -ge 10 ] || fail "only $n_progs programs found in $BIN_DIR"
[ "$FAILS" -eq 0 ] && echo "PASS" || echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
