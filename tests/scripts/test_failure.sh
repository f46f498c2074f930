#!/usr/bin/env bash
# test_failure.sh — how a job fails. Uses $BIN_DIR/prog_fail (prog_fail.c).
#  (a) a node killed with SIGKILL mid-run: dsmrun exits non-zero within
#      DSM_TIMEOUT + a margin, names node 1, a surviving node reports an
#      error naming node 1, and no process of the job remains.
#  (b) a write to NULL / to an unmapped page outside the region still dies
#      of SIGSEGV (exit status 139 standalone; under dsmrun the output says
#      the node was killed by signal 11).
#  (c) API calls before dsm_init / after dsm_finalize return DSM_ENOTINIT.
#  (d) DSM_PROTOCOL=bogus and DSM_HEAP_SIZE=12X make dsm_init fail with
#      DSM_ECONFIG, and the log names the variable.
# Environment (set by CTest): DSMRUN, BIN_DIR, SRC_DIR.
set -u

if [ -z "${DSMRUN:-}" ] || [ -z "${BIN_DIR:-}" ]; then
	echo "test_failure.sh: DSMRUN and BIN_DIR must be set (run it from ctest)"
	exit 1
fi
PROG="$BIN_DIR/prog_fail"
if [ ! -x "$PROG" ] || [ ! -x "$DSMRUN" ]; then
	echo "test_failure.sh: missing $PROG or $DSMRUN"
	exit 1
fi

ulimit -c 0 # the SIGSEGV cases must not write cores
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
show() { sed 's/^/    | /' "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Processes of this job still alive (the program path with the mode).
leftovers() { pgrep -f -- "$PROG $1" || true; }

# ---- (a) SIGKILL of node 1 in the middle of the run --------------------
TIMEOUT_S=3
MARGIN_S=15
start=$(now_ms)
DSM_TIMEOUT=${TIMEOUT_S}s timeout -k 5 60 "$DSMRUN" -n 4 "$PROG" kill \
	>"$TMP/a.out" 2>&1
rc=$?
elapsed=$(($(now_ms) - start))
echo "(a) dsmrun exit status $rc after ${elapsed} ms; output:"
show "$TMP/a.out"
if [ "$rc" -eq 0 ]; then
	fail "(a) dsmrun exited 0 although node 1 was killed"
elif [ "$elapsed" -ge 59000 ]; then
	fail "(a) dsmrun hung (stopped by timeout(1) after ${elapsed} ms)"
else
	ok "(a) dsmrun exited non-zero ($rc)"
fi
if [ "$elapsed" -gt $(((TIMEOUT_S + MARGIN_S) * 1000)) ]; then
	fail "(a) job took ${elapsed} ms, more than DSM_TIMEOUT ${TIMEOUT_S}s + ${MARGIN_S}s"
else
	ok "(a) job ended in ${elapsed} ms"
fi
if grep -q "node 1" "$TMP/a.out"; then
	ok "(a) output names node 1"
else
	fail "(a) output does not name node 1"
fi
# A survivor's own report (library log or the program's error line), not
# dsmrun's summary and not node 1's announcement.
if grep -v '^dsmrun:' "$TMP/a.out" | grep -v 'raising SIGKILL' |
	grep -q "node 1"; then
	ok "(a) a surviving node reported an error naming node 1"
else
	fail "(a) no surviving node reported an error naming node 1"
fi
sleep 0.5
left=$(leftovers kill)
if [ -n "$left" ]; then
	fail "(a) processes of the job remain: $left"
	ps -o pid,stat,etime,args -p $(echo $left | tr ' ' ',') || true
	kill -9 $left 2>/dev/null || true
else
	ok "(a) no process of the job remains"
fi

# ---- (b) a real segfault outside the region ----------------------------
for how in null unmapped; do
	arg=""
	[ "$how" = unmapped ] && arg=unmapped
	timeout -k 5 30 "$PROG" segv $arg >"$TMP/b1.out" 2>&1
	rc=$?
	if [ "$rc" -eq 139 ]; then
		ok "(b) standalone write to a $how pointer: exit status 139 (SIGSEGV)"
	else
		fail "(b) standalone write to a $how pointer: exit status $rc, expected 139"
		show "$TMP/b1.out"
	fi
done
timeout -k 5 60 "$DSMRUN" -n 2 "$PROG" segv >"$TMP/b2.out" 2>&1
rc=$?
echo "(b) dsmrun -n 2 segv: exit status $rc; output:"
show "$TMP/b2.out"
if [ "$rc" -eq 0 ]; then
	fail "(b) dsmrun exited 0 although node 1 segfaulted"
fi
if grep -i "node 1" "$TMP/b2.out" |
	grep -Eiq 'signal 11|SIGSEGV|segmentation'; then
	ok "(b) dsmrun reports node 1 killed by signal 11"
else
	fail "(b) output does not say node 1 was killed by signal 11"
fi
left=$(leftovers segv)
if [ -n "$left" ]; then
	fail "(b) processes of the job remain: $left"
	kill -9 $left 2>/dev/null || true
fi

# ---- (c) calls before dsm_init -----------------------------------------
if timeout -k 5 30 "$PROG" notinit >"$TMP/c.out" 2>&1; then
	ok "(c) API calls outside dsm_init..dsm_finalize return DSM_ENOTINIT"
else
	fail "(c) prog_fail notinit failed"
	show "$TMP/c.out"
fi

# ---- (d) bad configuration ---------------------------------------------
check_config() { # variable value
	env "$1=$2" timeout -k 5 30 "$PROG" init >"$TMP/d.out" 2>&1
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "(d) $1=$2: dsm_init did not fail with DSM_ECONFIG (status $rc)"
		show "$TMP/d.out"
	elif ! grep -q "$1" "$TMP/d.out"; then
		fail "(d) $1=$2: the error output does not name $1"
		show "$TMP/d.out"
	else
		ok "(d) $1=$2 rejected: $(grep -m1 "$1" "$TMP/d.out")"
	fi
}
check_config DSM_PROTOCOL bogus
check_config DSM_HEAP_SIZE 12X

# ---- (e) node 1 stops answering (SIGSTOP): a hang, not a death ---------
# The others must notice the silence within DSM_TIMEOUT (heartbeats), fail
# their calls naming node 1, and dsmrun must end the job (the stopped node
# included) instead of waiting forever.
start=$(now_ms)
DSM_TIMEOUT=2s timeout -k 5 60 "$DSMRUN" -n 3 --timeout 2s "$PROG" stop \
	>"$TMP/e.out" 2>&1
rc=$?
elapsed=$(($(now_ms) - start))
echo "(e) dsmrun exit status $rc after ${elapsed} ms; output:"
show "$TMP/e.out"
if [ "$rc" -eq 0 ] || [ "$elapsed" -ge 59000 ]; then
	fail "(e) a stopped node: dsmrun status $rc after ${elapsed} ms"
elif [ "$elapsed" -gt 20000 ]; then
	fail "(e) a stopped node took ${elapsed} ms to end the job"
else
	ok "(e) a stopped node ended the job in ${elapsed} ms (status $rc)"
fi
if grep -v '^dsmrun' "$TMP/e.out" | grep -q "node 1 lost"; then
	ok "(e) a surviving node reported node 1 lost"
else
	fail "(e) no surviving node reported node 1 lost"
fi
sleep 0.5
if [ -n "$(leftovers stop)" ]; then
	fail "(e) processes left: $(leftovers stop)"
	pkill -9 -f -- "$PROG stop" || true
else
	ok "(e) no process of the job left"
fi

if [ "$FAILS" -ne 0 ]; then
	echo "test_failure.sh: $FAILS check(s) failed"
	exit 1
fi
echo "test_failure.sh: all checks passed"
exit 0
