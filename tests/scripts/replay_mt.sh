#!/usr/bin/env bash
# replay_mt.sh KERNEL — record and replay with several application threads
# per node (docs/replay.md, "Several threads per node"); ctest runs it as
# script.test_replay_mt.<kernel> (tests/CMakeLists.txt).
#
# KERNEL counter|hist|queue|sync|jacobi|prims (tests/replay/rp_mt.c) at 2 nodes x 2
# threads and 2 nodes x 3 threads: record, then replay RP_REPEAT times
# (default 20); every replay's output (results and a checksum of all the
# shared data) must be byte-identical to the recording's. sync is
# race-free (pthread mutex/cond/barrier between a node's threads, dsm
# locks and barriers across nodes): plain, recorded and replayed runs
# must all print ok=1 and the same sums; so must prims (semaphores,
# rwlocks, spinlocks, timed mutex locks, pthread_once) and jacobi (sweeps compared
# with the sequential ones), with ITERS/25 sweeps.
#
# KERNEL diverge: what must fail, and fail in bounded time:
#  - a changed program (RP_PERTURB=1 on node 1) and a log from another
#    kernel: a divergence within a few DSM_TIMEOUTs;
#  - a log cut to half its records (terminated again, valid checksums):
#    a divergence within DSM_TIMEOUTs;
#  - a truncated log: refused with the byte offset;
#  - a thread that spins on memory a sibling writes (rp_mt spin): the
#    starved sibling is reported within 4 x DSM_TIMEOUT, not a hang.
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u

DSMRUN=${DSMRUN:-build/dsmrun}
BIN_DIR=${BIN_DIR:-build/tests}
PROG=$BIN_DIR/rp_mt
KERNEL=${1:-counter}
REPEAT=${RP_REPEAT:-20}
ITERS=${RP_ITERS:-500}
SHAPES=${RP_SHAPES:-"2x2 2x3"}
[ -x "$PROG" ] || { echo "FAIL: $PROG not built"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
run() { timeout 90 "$DSMRUN" --timeout 5s "$@"; }

# shellcheck source=expect_fail.sh
. "$(dirname "$0")/expect_fail.sh"

if [ "$KERNEL" = diverge ]; then
	R="$DSMRUN --timeout 2s"
	$R -n 2 --record "$WORK/c" "$PROG" counter 3 "$ITERS" >"$WORK/rec" 2>&1 ||
		{ fail "record counter"; cat "$WORK/rec"; }
	$R -n 2 --record "$WORK/h" "$PROG" hist 3 "$ITERS" >/dev/null 2>&1 || fail "record hist"
	grep -q "SCHED" <("$(dirname "$DSMRUN")/dsmreplay" "$WORK/c") ||
		fail "the counter recording has no SCHED record"
	expect_fail "changed program, 3 threads" "replay divergence on node" 30 \
		env RP_PERTURB=1 $R -n 2 --replay "$WORK/c" "$PROG" counter 3 "$ITERS"
	expect_fail "another program's log, 3 threads" "replay divergence on node" 30 \
		$R -n 2 --replay "$WORK/h" "$PROG" counter 3 "$ITERS"
	# A log cut short at a record and terminated again (END, valid
	# checksums): the run needs records the log does not have.
	mkdir -p "$WORK/cut"
	for f in "$WORK"/c/node-*.rlog; do
		python3 - "$f" "$WORK/cut/$(basename "$f")" <<'PY' || fail "cannot cut $f"
import struct, sys
NF = {1: 4, 2: 4, 3: 2, 4: 3, 5: 2, 6: 2, 7: 1, 8: 0, 9: 1}
b = open(sys.argv[1], 'rb').read()
def varint(b, p):
    v = s = 0
    while True:
        x = b[p]; p += 1; v |= (x & 0x7f) << s; s += 7
        if not x & 0x80: return v, p
p = 8
for _ in range(3): _, p = varint(b, p)
head, recs = b[:p], []
while p < len(b):
    n = struct.unpack_from('<I', b, p + 1)[0]
    q, end = p + 9, p + 9 + n
    while q < end:
        r = q; kind = b[q]; q += 1
        for _ in range(NF[kind] + 1):
            v, q = varint(b, q)
        if kind == 7: q += v
        recs.append(b[r:q])
    p = end
keep = [r for r in recs[:len(recs) // 2] if r[0] != 8]
pay = b''.join(keep) + bytes([8, 0])
h = 2166136261
for c in pay: h = ((h ^ c) * 16777619) & 0xffffffff
open(sys.argv[2], 'wb').write(head + bytes([0xB7]) + struct.pack('<II', len(pay), h) + pay)
PY
	done
	"$(dirname "$DSMRUN")/dsmreplay" "$WORK/cut" >/dev/null || fail "the cut logs are not intact"
	expect_fail "a log cut to half its records, 3 threads" "replay divergence on node" 30 \
		$R -n 2 --replay "$WORK/cut" "$PROG" counter 3 "$ITERS"
	expect_fail "fewer threads than recorded" "replay divergence on node" 30 \
		$R -n 2 --replay "$WORK/c" "$PROG" counter 2 "$ITERS"
	cp -r "$WORK/c" "$WORK/t"
	size=$(stat -c %s "$WORK/t/node-0.rlog")
	truncate -s $((size - 3)) "$WORK/t/node-0.rlog"
	expect_fail "truncated log, 3 threads" "at byte" 30 \
		$R -n 2 --replay "$WORK/t" "$PROG" counter 3 "$ITERS"
	if $R -n 2 --protocol sc "$PROG" spin 2 >"$WORK/out" 2>&1; then
		echo "ok: spin runs without recording"
	else
		fail "spin fails without recording"; cat "$WORK/out"
	fi
	expect_fail "a spinning thread starves its sibling while recording" \
		"without entering the runtime" 40 $R -n 2 --record "$WORK/s" "$PROG" spin 2
	[ "$FAILS" -eq 0 ] && echo "PASS" || echo "$FAILS failure(s)"
	[ "$FAILS" -eq 0 ]
	exit
fi

for shape in $SHAPES; do
	n=${shape%x*}
	t=${shape#*x}
	name="$KERNEL ${n}x$t"
	[ "$KERNEL" = jacobi ] && ITERS=$((${RP_ITERS:-500} / 25))
	run -n "$n" --protocol sc "$PROG" "$KERNEL" "$t" "$ITERS" >"$WORK/plain1" 2>&1 ||
		{ fail "$name: plain run failed"; cat "$WORK/plain1"; }
	run -n "$n" --protocol sc "$PROG" "$KERNEL" "$t" "$ITERS" >"$WORK/plain2" 2>&1 ||
		fail "$name: plain run failed"
	cmp -s "$WORK/plain1" "$WORK/plain2" && varies="same" || varies="differ"
	rm -rf "$WORK/log"
	if ! run -n "$n" --record "$WORK/log" "$PROG" "$KERNEL" "$t" "$ITERS" >"$WORK/rec" 2>&1; then
		fail "$name: record failed"; cat "$WORK/rec"; continue
	fi
	grep -q '^checksum ' "$WORK/rec" || { fail "$name: no checksum"; cat "$WORK/rec"; continue; }
	if [ "$KERNEL" = sync ] || [ "$KERNEL" = jacobi ] || [ "$KERNEL" = prims ]; then
		for f in plain1 plain2 rec; do
			grep -q 'ok=1' "$WORK/$f" || { fail "$name: $f: not ok=1"; cat "$WORK/$f"; }
		done
		cmp -s "$WORK/plain1" "$WORK/rec" || fail "$name: recording differs from the plain run"
	fi
	same=0
	for i in $(seq "$REPEAT"); do
		if ! run -n "$n" --replay "$WORK/log" "$PROG" "$KERNEL" "$t" "$ITERS" >"$WORK/rep" 2>&1; then
			fail "$name: replay $i failed"; cat "$WORK/rep"; break
		fi
		if cmp -s "$WORK/rec" "$WORK/rep"; then
			same=$((same + 1))
		else
			fail "$name: replay $i differs from the recording"
			diff "$WORK/rec" "$WORK/rep" | head -10
			break
		fi
	done
	[ "$same" -eq "$REPEAT" ] || fail "$name: $same/$REPEAT replays identical"
	echo "ok: $name: $same/$REPEAT replays identical to the recording" \
	     "($(sed -n 2p "$WORK/rec")); two plain runs $varies"
done
[ "$FAILS" -eq 0 ] && echo "PASS" || echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
