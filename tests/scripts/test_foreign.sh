#!/usr/bin/env bash
# test_foreign.sh — foreign connections to node 0's listening address are
# refused without disturbing the job. Runs $BIN_DIR/prog_foreign
# (prog_foreign.c) on 3 nodes: node 2 connects to DSM_COORDINATOR and sends
# garbage, a HELLO with a wrong secret and a HELLO with a wrong wire
# version; each connection must be closed by node 0 while all nodes keep
# working. Asserts: the job exits 0, and node 0 logged a rejection naming
# each reason (magic, secret, version).
# Environment (set by CTest): DSMRUN, BIN_DIR, SRC_DIR.
set -u

if [ -z "${DSMRUN:-}" ] || [ -z "${BIN_DIR:-}" ]; then
	echo "test_foreign.sh: DSMRUN and BIN_DIR must be set (run it from ctest)"
	exit 1
fi
PROG="$BIN_DIR/prog_foreign"
if [ ! -x "$PROG" ] || [ ! -x "$DSMRUN" ]; then
	echo "test_foreign.sh: missing $PROG or $DSMRUN"
	exit 1
fi

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

timeout -k 5 90 "$DSMRUN" -n 3 "$PROG" >"$OUT" 2>&1
rc=$?
echo "dsmrun -n 3 prog_foreign: exit status $rc; output:"
sed 's/^/    | /' "$OUT"

if [ "$rc" -eq 0 ]; then
	ok "job finished with exit 0"
else
	fail "job exited with status $rc"
fi
for c in "garbage connection" "wrong-secret HELLO" "wrong-version HELLO"; do
	if grep -q "$c closed by node 0" "$OUT"; then
		ok "$c closed by node 0"
	else
		fail "no confirmation that the $c was closed by node 0"
	fi
done
# Node 0's logged reasons (not this program's own lines); tolerant of the
# exact wording.
for reason in magic secret version; do
	if grep -v '^prog_foreign:' "$OUT" |
		grep -i 'reject\|refus\|bad\|wrong\|mismatch\|invalid' |
		grep -iq "$reason"; then
		ok "node 0 logged a rejection mentioning '$reason'"
	else
		fail "no logged rejection mentioning '$reason'"
	fi
done

if [ "$FAILS" -ne 0 ]; then
	echo "test_foreign.sh: $FAILS check(s) failed"
	exit 1
fi
echo "test_foreign.sh: all checks passed"
exit 0
