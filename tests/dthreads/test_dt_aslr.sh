#!/usr/bin/env bash
# test_dt_aslr.sh: a program whose output depends on absolute addresses
# (addr_hash: a hash table keyed by malloc'd pointers, filled by 4 threads;
# the addresses of a heap block, a global and a thread's stack variable)
# prints the same in 6 runs under dsmdet, half of them with random delays
# and a different environment: dsmdet turns address randomisation off
# (before, only the heap's offsets were the same: the table's order and
# the addresses changed every run). With DSM_DET_ASLR=on (randomisation
# kept) 4 runs must not all agree, which shows the test can fail. A skip
# where the kernel refuses personality(ADDR_NO_RANDOMIZE) (a container's
# seccomp profile) or randomisation is off system-wide.
set -u
DSMDET=${DSMDET:?}; DIR=${DT_PROG_DIR:?}
BUILD=${BIN_DIR:-$(dirname "$DSMDET")}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
P=$DIR/addr_hash
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }
for i in 1 2 3 4 5 6; do
	if [ $((i % 2)) -eq 0 ]; then
		DSM_DET_DELAY_US=300 DT_TEST_DELAY=1 timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err"
	else
		timeout 60 "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
	[ "$rc" -eq 0 ] || fail "run $i: status $rc"
	grep -q '^nodes 200 ' "$tmp/out" || fail "run $i: nodes lost"
	grep -q '^dsmdet:' "$tmp/err" && fail "run $i: the runtime complained"
	[ "$i" -eq 1 ] && cp "$tmp/out" "$tmp/first"
	if ! cmp -s "$tmp/first" "$tmp/out"; then
		if ! setarch "$(uname -m)" -R true 2>/dev/null ||
			[ "$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)" = 0 ]; then
			echo "SKIP: address randomisation cannot be turned off here"; exit 77
		fi
		diff "$tmp/first" "$tmp/out"
		fail "run $i differs from run 1"
	fi
done
echo "ok: 6 runs identical: $(tr '\n' ' ' <"$tmp/first")"
# randomisation kept: the addresses move (unless the system has it off)
if [ "$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null)" != 0 ]; then
	for i in 1 2 3 4; do
		DSM_DET_ASLR=on timeout 60 "$DSMDET" "$P" >"$tmp/r$i" 2>"$tmp/err" || fail "DSM_DET_ASLR=on: status $?"
	done
	if cmp -s "$tmp/r1" "$tmp/r2" && cmp -s "$tmp/r1" "$tmp/r3" && cmp -s "$tmp/r1" "$tmp/r4"; then
		echo "FAIL: DSM_DET_ASLR=on: 4 runs identical (is randomisation kept?)"; exit 1
	fi
	echo "ok: DSM_DET_ASLR=on: the addresses move"
fi
DSM_DET_ASLR=bad "$DSMDET" "$P" >"$tmp/out" 2>"$tmp/err" && fail "DSM_DET_ASLR=bad accepted"
grep -q 'DSM_DET_ASLR=bad: expected on or off' "$tmp/err" || fail "DSM_DET_ASLR=bad: no message"
echo "ok: DSM_DET_ASLR=bad refused"
