#!/usr/bin/env bash
# test_dt_kernel.sh: with the kernel's write detection (userfaultfd
# WP_ASYNC, DSM_WRITE_DETECT=auto), system calls the runtime does not wrap
# may write into globals and the heap (pipe, readv, getcwd): sys_writes
# prints what its plain pthreads run prints, 5 times. A skip where the
# kernel lacks it (dsmdet says "write detection: segv").
set -u
DSMDET=${DSMDET:?}; PROG=${DT_PROG_DIR:?}/sys_writes
BUILD=${BIN_DIR:-$(dirname "$DSMDET")}
if grep -qE '^DSM_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: sanitizer build (libdsm_dthreads interposes malloc and pthreads)"; exit 77
fi
want=$("$PROG") || { echo "FAIL: plain run"; exit 1; }
mode=$(DSM_LOG=info "$DSMDET" "$PROG" 2>&1 >/dev/null | sed -n 's/.*write detection: //p')
case $mode in
"uffd (kernel)") ;;
*) echo "SKIP: no kernel write detection here ($mode): needs userfaultfd WP_ASYNC (Linux >= 6.7)"; exit 77 ;;
esac
for i in 1 2 3 4 5; do
	got=$(timeout 60 "$DSMDET" "$PROG") || { echo "FAIL: run $i exited $?"; exit 1; }
	[ "$got" = "$want" ] || { echo "FAIL: run $i: '$got', expected '$want'"; exit 1; }
done
echo "ok: $want"
