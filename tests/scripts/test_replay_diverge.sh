#!/usr/bin/env bash
# test_replay_diverge.sh — a replay that cannot follow its log is reported,
# never hung (docs/replay.md, "Divergence"):
#  1. the program changed between record and replay (RP_PERTURB=1: node 1
#     writes one more word): a divergence naming node, page and boundary,
#     within a few DSM_TIMEOUTs;
#  2. a log from another program (hist replayed as counter): the same;
#  3. a truncated log (cut inside a block): rejected at dsm_init with the
#     byte offset; cut at a block boundary (no END): rejected too; a
#     recording killed mid-run keeps every block flushed so far (every
#     100 ms), which dsmreplay reads as intact but cut short;
#  4. a corrupted log (one byte flipped): rejected with the byte offset;
#     dsmreplay reports the same offset and passes the intact logs;
#  5. two application threads on a node: recorded and replayed; a thread
#     created before dsm_init (unknown to the run token): refused;
#  6. DSM_RECORD with DSM_REPLAY, or under another protocol: refused.
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u

DSMRUN=${DSMRUN:-build/dsmrun}
BIN_DIR=${BIN_DIR:-build/tests}
PROG=$BIN_DIR/rp_racy
DSMREPLAY=$(dirname "$DSMRUN")/dsmreplay
[ -x "$PROG" ] && [ -x "$DSMREPLAY" ] || { echo "FAIL: rp_racy or dsmreplay not built"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILS=0

# shellcheck source=expect_fail.sh
. "$(dirname "$0")/expect_fail.sh"

R="$DSMRUN --timeout 2s"
$R -n 2 --record "$WORK/c" "$PROG" counter 500 >"$WORK/rec" 2>&1 || { fail "record counter"; cat "$WORK/rec"; }
$R -n 2 --record "$WORK/h" "$PROG" hist 500 >/dev/null 2>&1 || fail "record hist"

# 1. changed program
expect_fail "changed program" "replay divergence on node" 30 \
	env RP_PERTURB=1 $R -n 2 --replay "$WORK/c" "$PROG" counter 500
# 2. another program's log
expect_fail "another program's log" "replay divergence on node" 30 \
	$R -n 2 --replay "$WORK/h" "$PROG" counter 500
# 3. truncated logs
cp -r "$WORK/c" "$WORK/t"
size=$(stat -c %s "$WORK/t/node-1.rlog")
truncate -s $((size - 3)) "$WORK/t/node-1.rlog"
expect_fail "log cut inside a block" "truncated block.* at byte" 30 \
	$R -n 2 --replay "$WORK/t" "$PROG" counter 500
# A log cut at a block boundary: keep only the header and the first block.
python3 - "$WORK/c/node-0.rlog" "$WORK/t/node-0.rlog" <<'PY'
import sys, struct
b = open(sys.argv[1], 'rb').read()
p = 8
for _ in range(3):              # node, count, page size varints
    while b[p] & 0x80: p += 1
    p += 1
blen = struct.unpack_from('<I', b, p + 1)[0]
open(sys.argv[2], 'wb').write(b[:p + 9 + blen])
PY
cp "$WORK/c/node-1.rlog" "$WORK/t/node-1.rlog"
if [ "$(stat -c %s "$WORK/t/node-0.rlog")" -lt "$(stat -c %s "$WORK/c/node-0.rlog")" ]; then
	expect_fail "log cut at a block boundary" "ends without END" 30 \
		$R -n 2 --replay "$WORK/t" "$PROG" counter 500
else
	echo "ok: log cut at a block boundary: node 0's log is one block (nothing to cut)"
fi
# A recording killed mid-run: the blocks flushed every 100 ms are intact,
# the log just lacks END; dsmreplay says so, a replay refuses it.
rm -rf "$WORK/k"
( timeout -s KILL 2 $R -n 2 --record "$WORK/k" "$PROG" locked 100000000 >/dev/null 2>&1 ) 2>/dev/null
if "$DSMREPLAY" "$WORK/k" >"$WORK/out" 2>&1; then
	fail "killed recording: dsmreplay finds the logs complete"; cat "$WORK/out"
elif [ "$(grep -c 'ends without END' "$WORK/out")" -eq 2 ] &&
     [ "$(grep -c 'boundaries' "$WORK/out")" -eq 2 ] &&
     ! grep -q 'checksum\|truncated\|marker' "$WORK/out"; then
	echo "ok: killed recording: $(grep -m1 boundaries "$WORK/out" | sed 's/.*pages, //') kept, cut short"
else
	fail "killed recording: unexpected dsmreplay report"; cat "$WORK/out"
fi
expect_fail "replay of a killed recording" "ends without END" 30 \
	$R -n 2 --replay "$WORK/k" "$PROG" locked 100000000
# 4. corrupted log
cp -r "$WORK/c" "$WORK/x"
size=$(stat -c %s "$WORK/x/node-0.rlog")
off=$((size / 2))
printf '\xff' | dd of="$WORK/x/node-0.rlog" bs=1 seek="$off" conv=notrunc 2>/dev/null
expect_fail "corrupted log" "checksum mismatch.* at byte" 30 \
	$R -n 2 --replay "$WORK/x" "$PROG" counter 500
expect_fail "dsmreplay on the corrupted log" "at byte" 5 "$DSMREPLAY" "$WORK/x"
if "$DSMREPLAY" "$WORK/c" >"$WORK/out" 2>&1 && grep -q "node-1.rlog: intact" "$WORK/out"; then
	echo "ok: dsmreplay passes the intact logs"
else
	fail "dsmreplay rejects the intact logs"; cat "$WORK/out"
fi
# 5. two application threads on a node: recorded and replayed (the run
# token, docs/replay.md); a thread created before dsm_init, unknown to the
# token, is refused when it enters the runtime while recording.
if $R -n 2 --protocol sc "$BIN_DIR/rp_threads" >"$WORK/out" 2>&1; then
	echo "ok: rp_threads runs without recording"
else
	fail "rp_threads fails without recording"; cat "$WORK/out"
fi
if $R -n 2 --record "$WORK/th" "$BIN_DIR/rp_threads" >"$WORK/rec" 2>&1 &&
   $R -n 2 --replay "$WORK/th" "$BIN_DIR/rp_threads" >"$WORK/rep" 2>&1 &&
   grep -q '^checksum' "$WORK/rec" && cmp -s "$WORK/rec" "$WORK/rep"; then
	echo "ok: two threads per node recorded and replayed: $(cat "$WORK/rec")"
else
	fail "two threads per node: record or replay failed or differ"; cat "$WORK/rec" "$WORK/rep"
fi
if $R -n 2 --protocol sc "$BIN_DIR/rp_threads" early >"$WORK/out" 2>&1; then
	echo "ok: rp_threads early runs without recording"
else
	fail "rp_threads early fails without recording"; cat "$WORK/out"
fi
expect_fail "a thread created before dsm_init, while recording" \
	"not created with pthread_create after dsm_init" 60 \
	$R -n 2 --record "$WORK/th2" "$BIN_DIR/rp_threads" early
# 6. configuration
expect_fail "record and replay together" "DSM_RECORD and DSM_REPLAY" 10 \
	env DSM_REPLAY="$WORK/c" $R -n 2 --record "$WORK/y" "$PROG" counter 10
expect_fail "record under hlrc" "need DSM_PROTOCOL=sc" 30 \
	$R -n 2 --protocol hlrc --record "$WORK/y" "$PROG" counter 10
[ "$FAILS" -eq 0 ] && echo "PASS" || echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
