#!/usr/bin/env bash
# test_dsmrun.sh — the launcher on its own, without the library: options,
# the environment each node gets, output tagging, exit statuses, failure
# handling and signals. Nodes are tests/scripts/prog_dsmrun_env.c, which
# checks its environment and then behaves as its arguments say.
#
# Environment: DSMRUN (the dsmrun binary), BIN_DIR (where the prog_*
# helpers are built), SRC_DIR (the source tree, optional).
set -u

: "${DSMRUN:?set DSMRUN to the dsmrun binary}"
: "${BIN_DIR:?set BIN_DIR to the build tests directory}"
PROG="$BIN_DIR/prog_dsmrun_env"
TMP=$(mktemp -d)
# Every node of every job gets this token as an argument, so the processes
# of this test (and only those) can be found in /proc.
TOKEN="dsmrun-test-$$-$RANDOM$RANDOM"

# Pids of live processes whose command line contains the token.
job_pids() {
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" = "$$" ] && continue
		{ tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$TOKEN" && echo "$pid"
	done
}

cleanup() {
	local pids
	pids=$(job_pids)
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
	echo "test_dsmrun.sh: FAIL: $*" >&2
	for f in out err; do
		[ -s "$TMP/$f" ] && { echo "--- dsmrun std$f:" >&2; cat "$TMP/$f" >&2; }
	done
	exit 1
}

[ -x "$DSMRUN" ] || fail "DSMRUN=$DSMRUN is not executable"
[ -x "$PROG" ] || fail "$PROG not built"

# Run dsmrun (at most 60 s) with stdout/stderr in $TMP/out, $TMP/err;
# sets RC and ELAPSED_MS.
run() {
	local t0 t1
	t0=$(date +%s%N)
	timeout -k 5 60 "$DSMRUN" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	t1=$(date +%s%N)
	ELAPSED_MS=$(((t1 - t0) / 1000000))
}

expect_rc() { [ "$RC" -eq "$1" ] || fail "$2: exit status $RC, expected $1"; }
expect_in() { grep -qE -- "$2" "$TMP/$1" || fail "$3: std$1 lacks /$2/"; }

# No process of the job may be left (they may take a moment to die).
expect_no_leftovers() {
	local i
	for i in $(seq 40); do
		[ -z "$(job_pids)" ] && return 0
		sleep 0.05
	done
	fail "$1: processes left behind: $(job_pids | tr '\n' ' ')"
}

# Wait until $TMP/out has n "ready" lines (nodes set up their signals).
wait_ready() {
	local i
	for i in $(seq 100); do
		[ "$(grep -c '^ready' "$TMP/out")" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "$2: nodes never became ready"
}

test_help() {
	local v vars="DSM_PROTOCOL DSM_TRANSPORT DSM_HEAP_SIZE DSM_BASE DSM_NODE_ID
		DSM_NODE_COUNT DSM_COORDINATOR DSM_BIND DSM_SECRET DSM_TIMEOUT
		DSM_STATS DSM_LOG DSM_LISTEN_FD DSM_SPIN_US DSM_SC_HOLD_US"
	if [ -n "${SRC_DIR:-}" ] && [ -f "$SRC_DIR/src/core/env.c" ]; then
		vars="$vars $(grep -oE '"DSM_[A-Z_]+"' "$SRC_DIR/src/core/env.c" | tr -d '"')"
	fi
	run --help
	expect_rc 0 "--help"
	for v in $vars; do
		expect_in out "^  $v +default: " "--help lists $v"
	done
	expect_in out "DSM_HEAP_SIZE +default: 1G" "--help shows defaults"
	expect_in out "DSM_TIMEOUT +default: 5s" "--help shows defaults"
	run --version
	expect_rc 0 "--version"
	expect_in out "dsmrun" "--version"
}

test_usage_errors() {
	run --no-such-option -n 2 "$PROG"
	expect_rc 2 "unknown option"
	run -n 0 "$PROG"
	expect_rc 2 "-n 0"
	run -n 65 "$PROG"
	expect_rc 2 "-n 65"
	run -n 2x "$PROG"
	expect_rc 2 "-n 2x"
	run -n 2
	expect_rc 2 "no program"
	run -n 2 --protocol nosuch "$PROG"
	expect_rc 2 "--protocol nosuch"
	expect_in err "DSM_PROTOCOL=nosuch.*accepted: " "--protocol nosuch"
	run -n 2 --timeout 7x "$PROG"
	expect_rc 2 "--timeout 7x"
	expect_in err "DSM_TIMEOUT=7x" "--timeout 7x"
	DSM_HEAP_SIZE=12X run -n 2 "$PROG"
	expect_rc 2 "DSM_HEAP_SIZE=12X in dsmrun's environment"
	expect_in err "DSM_HEAP_SIZE=12X" "DSM_HEAP_SIZE=12X"
	run -n 2 "$TMP/no-such-program"
	[ "$RC" -ne 0 ] || fail "a missing program: exit status 0"
	expect_in err "^dsmrun: cannot execute '$TMP/no-such-program': No such file or directory$" \
		"a missing program"
}

test_ids() {
	local k
	run -n 3 "$PROG" print "$TOKEN"
	expect_rc 0 "-n 3"
	for k in 0 1 2; do
		[ "$(grep -c "^node $k of 3$" "$TMP/out")" -eq 1 ] ||
			fail "-n 3: node $k did not print exactly once"
	done
	[ "$(wc -l <"$TMP/out")" -eq 3 ] || fail "-n 3: expected 3 lines"
	run -n 1 "$PROG" print "$TOKEN"
	expect_rc 0 "-n 1"
	expect_in out "^node 0 of 1$" "-n 1"
}

test_environment() {
	local k
	DSM_LOG=debug DSM_NODE_ID=7 run -n 2 --tag-output --protocol sc \
		--timeout 2s --stats "$TMP/s.json" env
	expect_rc 0 "env"
	for k in 0 1; do
		expect_in out "^\[$k\] DSM_NODE_ID=$k$" "node $k's DSM_NODE_ID"
		expect_in out "^\[$k\] DSM_NODE_COUNT=2$" "node $k's DSM_NODE_COUNT"
		expect_in out "^\[$k\] DSM_COORDINATOR=127\.0\.0\.1:[0-9]+$" "DSM_COORDINATOR"
		expect_in out "^\[$k\] DSM_PROTOCOL=sc$" "--protocol"
		expect_in out "^\[$k\] DSM_TIMEOUT=2s$" "--timeout"
		expect_in out "^\[$k\] DSM_STATS=$TMP/s.json$" "--stats"
		expect_in out "^\[$k\] DSM_LOG=debug$" "DSM_LOG passed through"
		expect_in out "^\[$k\] DSM_SECRET=[0-9a-f]{64}$" "DSM_SECRET"
	done
	expect_in out "^\[0\] DSM_LISTEN_FD=3$" "node 0's DSM_LISTEN_FD"
	grep -q '^\[1\] DSM_LISTEN_FD=' "$TMP/out" && fail "node 1 has DSM_LISTEN_FD"
	[ "$(grep -o 'DSM_SECRET=.*' "$TMP/out" | sort -u | wc -l)" -eq 1 ] ||
		fail "the nodes of one job got different secrets"
	cp "$TMP/out" "$TMP/env1"
	run -n 1 env
	[ "$(grep -o 'DSM_SECRET=.*' "$TMP/out")" != "$(grep -o 'DSM_SECRET=.*' "$TMP/env1" | head -1)" ] ||
		fail "two jobs got the same secret"
}

test_tag_output() {
	local k
	run -n 3 --tag-output "$PROG" lines "$TOKEN"
	expect_rc 0 "--tag-output"
	for k in 0 1 2; do
		expect_in out "^\[$k\] out-a $k$" "--tag-output stdout"
		expect_in out "^\[$k\] out-b $k$" "--tag-output stdout"
		expect_in out "^\[$k\] tail $k$" "--tag-output partial last line"
		expect_in err "^\[$k\] err-a $k$" "--tag-output stderr"
	done
	grep -vqE '^\[[0-2]\] ' "$TMP/out" && fail "--tag-output: an untagged stdout line"
	grep -q 'err-a' "$TMP/out" && fail "--tag-output: stderr line on stdout"
	[ "$(wc -l <"$TMP/out")" -eq 9 ] || fail "--tag-output: expected 9 stdout lines"
}

test_exit_status() {
	run -n 3 "$PROG" exit-on 1 3 "$TOKEN"
	expect_rc 3 "node 1 exits 3"
	expect_in err "^dsmrun: node 1 \(pid [0-9]+\) exited with status 3$" "node 1 exits 3"
	run -n 3 "$PROG" kill-on 2 "$TOKEN"
	expect_rc 137 "node 2 SIGKILLs itself"
	expect_in err "^dsmrun: node 2 \(pid [0-9]+\) killed by signal 9 \(Killed\)$" \
		"node 2 SIGKILLs itself"
	expect_no_leftovers "exit status"
}

# One node fails, the others hang: the job must still end within the
# timeout plus SIGTERM's grace, with nothing left running.
test_hang() {
	run -n 3 --timeout 1s "$PROG" hang-except 1 4 "$TOKEN"
	expect_rc 4 "hang-except"
	expect_in err "^dsmrun: node 1 \(pid [0-9]+\) exited with status 4$" "hang-except"
	[ "$ELAPSED_MS" -lt 6000 ] || fail "hang-except: took $ELAPSED_MS ms (timeout 1 s)"
	expect_no_leftovers "hang-except"
}

# Start dsmrun in the background with `mode`, wait for every node, send it
# signal sig and wait; sets RC and ELAPSED_MS (from the signal).
signal_job() {
	local pid t0
	"$DSMRUN" -n 3 "$PROG" "$1" "$TOKEN" >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	wait_ready 3 "$1"
	t0=$(date +%s%N)
	kill -"$2" "$pid"
	wait "$pid" 2>/dev/null
	RC=$?
	ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
}

test_signals() {
	signal_job sleep TERM
	expect_rc 143 "SIGTERM to dsmrun"
	[ "$ELAPSED_MS" -lt 2000 ] || fail "SIGTERM to dsmrun: took $ELAPSED_MS ms"
	expect_no_leftovers "SIGTERM to dsmrun"
	signal_job ignore-term INT
	expect_rc 137 "SIGINT, nodes ignore it"
	[ "$ELAPSED_MS" -ge 2500 ] && [ "$ELAPSED_MS" -lt 6000 ] ||
		fail "SIGINT, nodes ignore it: SIGKILL after $ELAPSED_MS ms, expected ~3 s"
	expect_no_leftovers "SIGINT, nodes ignore it"
	signal_job sleep KILL
	expect_no_leftovers "SIGKILL to dsmrun"
}

test_help
test_usage_errors
test_ids
test_environment
test_tag_output
test_exit_status
test_hang
test_signals
echo "test_dsmrun.sh: all passed"
