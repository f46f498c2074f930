#!/usr/bin/env bash
# test_dt_edges.sh: how programs end under dsmdet, each case 3 times with
# identical output: exit() from a thread (the program's status, its output
# kept); a deadlock (diagnosed: both threads named, SIGABRT); a crashing
# thread (the program dies of SIGSEGV, the thread named); fork + exec from
# a thread (the child's write to a global does not reach the threads; the
# exec'd program's output appears); pthread_cancel fails loudly; main's
# pthread_exit lets the last thread finish (status 0).
set -u
DSMDET=${DSMDET:?}; DIR=${DT_PROG_DIR:?}
BUILD=${BIN_DIR:-$(dirname "$DSMDET")}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; exit 1; }
# check NAME STATUS STDOUT_REGEX STDERR_REGEX
check() {
	local name=$1 want=$2 outre=$3 errre=$4
	for i in 1 2 3; do
		timeout 60 "$DSMDET" "$DIR/$name" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		[ "$rc" -eq "$want" ] || fail "$name: status $rc, expected $want"
		[ -z "$outre" ] || grep -Eq "$outre" "$tmp/out" || fail "$name: stdout lacks /$outre/"
		[ -z "$errre" ] || grep -Eq "$errre" "$tmp/err" || fail "$name: stderr lacks /$errre/"
		grep -q 'not reached' "$tmp/out" && fail "$name: went on after the end"
		[ "$i" -eq 1 ] && cp "$tmp/out" "$tmp/first"
		cmp -s "$tmp/first" "$tmp/out" || fail "$name: run $i differs"
	done
	echo "ok: $name"
}
check edge_exit 3 '^thread exits$' ''
grep -q '^main starts$' "$tmp/out" || fail "edge_exit: main's output lost"
check edge_deadlock 134 "" 'deadlock.*no thread can run'
grep -q 'thread 1 waits on a mutex' "$tmp/err" && grep -q 'thread 2 waits on a mutex' "$tmp/err" ||
	fail "edge_deadlock: the blocked threads are not named"
check edge_crash 139 "" 'thread 1 was killed by signal 11'
check edge_fork 0 '^child status 0 global 1$' 'pthread_cancel is not supported'
grep -q '^child says hi$' "$tmp/out" || fail "edge_fork: the exec'd program's output is missing"
grep -q '^cancel: ENOTSUP$' "$tmp/out" || fail "edge_fork: pthread_cancel did not fail"
grep -q '^last thread done$' "$tmp/out" || fail "edge_fork: main's pthread_exit cut the last thread"
