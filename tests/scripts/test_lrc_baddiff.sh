#!/usr/bin/env bash
# test_lrc_baddiff.sh — a diff that fails validation fails the access and
# the job with a message naming node, page and interval (issue 9 point 4),
# instead of being logged while the page is marked valid. Uses
# $BIN_DIR/prog_lrc_baddiff (prog_lrc_baddiff.c).
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u
PROG="$BIN_DIR/prog_lrc_baddiff"
[ -x "$PROG" ] || { echo "FAIL: $PROG not built"; exit 1; }
OUT=$(mktemp); trap 'rm -f "$OUT"' EXIT
start=$(date +%s)
DSM_TIMEOUT=5 timeout 60 "$DSMRUN" -n 2 --protocol lrc "$PROG" >"$OUT" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
cat "$OUT"
[ $rc -ne 0 ] || { echo "FAIL: the job succeeded with a corrupt diff"; exit 1; }
if grep -q "node 1 read" "$OUT"; then
	echo "FAIL: node 1 read the page although its diff was invalid"; exit 1
fi
grep -q "node 1: invalid diff from node 0 for page [0-9]* (interval 1)" "$OUT" ||
	{ echo "FAIL: no message naming the node, page and interval"; exit 1; }
grep -qi "SIGBUS\|signal 7\|bus error" "$OUT" ||
	{ echo "FAIL: node 1's access did not end in SIGBUS"; exit 1; }
[ "$took" -le 20 ] || { echo "FAIL: took ${took}s to fail"; exit 1; }
echo "ok: a corrupt diff fails the access and the job (${took}s)"
