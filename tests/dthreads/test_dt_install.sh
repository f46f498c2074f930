#!/usr/bin/env bash
# test_dt_install.sh: libdsm_dthreads and dsmdet install with the rest
# (cmake --install into a temporary prefix); the installed dsmdet finds the
# installed library and runs dt_basic with the output of its plain run;
# a program linked with -ldsm_dthreads (no dsmdet) runs the same.
set -u
BUILD=${BIN_DIR:?}; DIR=${DT_PROG_DIR:?}; SRC=${SRC_DIR:?}
CC=${CC:-cc}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD" --prefix "$tmp/p" >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
[ -x "$tmp/p/bin/dsmdet" ] || { echo "FAIL: dsmdet not installed"; exit 1; }
lib=$(find "$tmp/p" -name libdsm_dthreads.so | head -1)
[ -n "$lib" ] || { echo "FAIL: libdsm_dthreads.so not installed"; exit 1; }
want=$("$DIR/dt_basic") || { echo "FAIL: plain run"; exit 1; }
got=$(env -u DSMDET_LIB "$tmp/p/bin/dsmdet" "$DIR/dt_basic") || { echo "FAIL: installed dsmdet exited $?"; exit 1; }
[ "$got" = "$want" ] || { echo "FAIL: installed dsmdet: '$got'"; exit 1; }
command -v "$CC" >/dev/null || { echo "SKIP (partly): no C compiler for the -ldsm_dthreads case"; exit 0; }
"$CC" -O2 -pthread -o "$tmp/linked" "$SRC/tests/dthreads/dt_malloc.c" -L"$(dirname "$lib")" \
	-ldsm_dthreads -Wl,-rpath,"$(dirname "$lib")" || { echo "FAIL: link with -ldsm_dthreads"; exit 1; }
out1=$("$tmp/linked") && out2=$("$tmp/linked") || { echo "FAIL: linked program exited $?"; exit 1; }
[ "$out1" = "$out2" ] || { echo "FAIL: linked program not deterministic"; exit 1; }
[ "$(echo "$out1" | grep -v '^sched:')" = "$("$DIR/dt_malloc" | grep -v '^sched:')" ] ||
	{ echo "FAIL: linked program's result differs from plain"; exit 1; }
LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/bind" "$tmp/linked" >/dev/null; cat "$tmp"/bind.* | grep -q "libdsm_dthreads[^ ]* \[0\]: normal symbol \`pthread_create'" ||
	{ echo "FAIL: linked program does not use libdsm_dthreads' pthread_create"; exit 1; }
echo "ok: installed dsmdet and -ldsm_dthreads"
