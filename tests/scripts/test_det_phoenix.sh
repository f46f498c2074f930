#!/usr/bin/env bash
# test_det_phoenix.sh — the Phoenix-compatibility program of the
# deterministic MapReduce (examples/mapreduce/mr_phoenix_compat): an
# unmodified Phoenix 2.0 application linked against libdsm_mapreduce.
# The program exits 77 when a sanitizer owns malloc (it cannot interpose
# malloc then); that is reported as a skip with the reason.
set -u
EX="${BIN_DIR:-build/tests}/../examples/mapreduce"
[ -x "$EX/mr_phoenix_compat" ] || { echo "SKIP: examples not built in $EX"; exit 77; }
"$EX/mr_phoenix_compat"
rc=$?
case $rc in
0) echo "ok   phoenix_compat" ;;
77) echo "SKIP: phoenix_compat: malloc is not interposed under a sanitizer" ;;
*) echo "FAIL phoenix_compat: exit status $rc" ;;
esac
exit $rc
