#!/usr/bin/env bash
# test_dt_race.sh: dt_race's data race is reported with its address (the
# one the program prints), both thread ids and its epoch, per
# DSM_DET_CONFLICT: error stops the program (status 86), report and last
# let the later turn win (thread 2: 2222), report logs it, last is silent;
# false sharing and same-value stores are never reported. Each mode 4
# times, identical.
set -u
DSMDET=${DSMDET:?}; PROG=${DT_PROG_DIR:?}/dt_race
BUILD=${BIN_DIR:-$(dirname "$DSMDET")}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/err" "$tmp/out" 2>/dev/null; exit 1; }
for mode in error report last; do
	for i in 1 2 3 4; do
		DSM_DET_CONFLICT=$mode DSM_DET_DELAY_US=$((i % 2 * 2000)) timeout 60 "$DSMDET" "$PROG" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		addr=$(sed -n 's/^addr //p' "$tmp/out")
		[ -n "$addr" ] || fail "$mode: no address printed"
		n=$(grep -c 'conflict:' "$tmp/err")
		case $mode in
		error)
			[ $rc -eq 86 ] || fail "error: exit status $rc, expected 86"
			[ "$n" -eq 1 ] || fail "error: $n conflict reports, expected 1"
			grep -q "conflict: threads 1 and 2 wrote the same [0-9]* bytes\{0,1\} at $addr (globals+0x[0-9a-f]*) with different values in epoch [0-9]*; stopping" "$tmp/err" ||
				fail "error: report does not name $addr and threads 1 and 2"
			;;
		report)
			[ $rc -eq 0 ] || fail "report: exit status $rc"
			[ "$n" -eq 1 ] || fail "report: $n conflict reports, expected 1"
			grep -q "conflict: threads 1 and 2 wrote the same [0-9]* bytes\{0,1\} at $addr " "$tmp/err" || fail "report: wrong report"
			grep -q '^racy 2222 page 1 2 same 7$' "$tmp/out" || fail "report: wrong values"
			;;
		last)
			[ $rc -eq 0 ] || fail "last: exit status $rc"
			[ "$n" -eq 0 ] || fail "last: $n conflict reports, expected none"
			grep -q '^racy 2222 page 1 2 same 7$' "$tmp/out" || fail "last: wrong values"
			;;
		esac
		sed "s/$addr/ADDR/g" "$tmp/out" >"$tmp/o.$i"; sed "s/$addr/ADDR/g; s/0x[0-9a-f]*//g" "$tmp/err" >"$tmp/e.$i"
		if [ "$i" -gt 1 ]; then
			cmp -s "$tmp/o.1" "$tmp/o.$i" && cmp -s "$tmp/e.1" "$tmp/e.$i" || fail "$mode: run $i differs from run 1"
		fi
	done
	echo "ok: $mode"
done
