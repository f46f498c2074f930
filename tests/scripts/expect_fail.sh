# expect_fail.sh — sourced by the record/replay test scripts: fail() counts
# a failure in FAILS; expect_fail NAME PATTERN MAX_SECONDS cmd... requires
# the command to fail within MAX_SECONDS with PATTERN in its output (kept
# in $WORK/out), and not to hang (killed after 120 s).
FAILS=${FAILS:-0}
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

expect_fail() {
	local name=$1 pat=$2 max=$3 t0 t1 rc
	shift 3
	t0=$(date +%s)
	timeout 120 "$@" >"$WORK/out" 2>&1
	rc=$?
	t1=$(date +%s)
	if [ "$rc" -eq 0 ]; then
		fail "$name: succeeded"; cat "$WORK/out"; return
	fi
	if [ "$rc" -eq 124 ]; then
		fail "$name: hung (killed after 120 s)"; return
	fi
	if ! grep -q -- "$pat" "$WORK/out"; then
		fail "$name: no '$pat' in the output"; cat "$WORK/out"; return
	fi
	if [ $((t1 - t0)) -gt "$max" ]; then
		fail "$name: took $((t1 - t0)) s (more than $max)"; return
	fi
	echo "ok: $name: reported in $((t1 - t0)) s: $(grep -m1 -- "$pat" "$WORK/out")"
}
