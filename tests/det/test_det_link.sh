#!/usr/bin/env bash
# test_det_link.sh — a Phoenix program links and runs with -ldsm_mapreduce
# alone (issue 11, point 5): libdsm_mapreduce's DT_NEEDED libdsm.so.0 is
# found next to it (RUNPATH $ORIGIN), and pkg-config dsm-mapreduce gives
# flags that build a program running without LD_LIBRARY_PATH. Installs
# the build into a temporary prefix.
set -u
BUILD=${BIN_DIR:?BIN_DIR is the build directory}
CC=${CC:-cc}
grep -q '^DSM_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null &&
	{ echo "SKIP: sanitizer build (the installed library needs the sanitizer runtime)"; exit 77; }
command -v "$CC" >/dev/null || { echo "SKIP: no C compiler ($CC)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD" --prefix "$tmp/prefix" >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
lib=$(dirname "$(find "$tmp/prefix" -name 'libdsm_mapreduce.so' | head -1)")
[ -n "$lib" ] && [ -e "$lib/libdsm.so.0" ] || { echo "FAIL: libraries not installed together"; exit 1; }
unset LD_LIBRARY_PATH

cat >"$tmp/sum.c" <<'PROG'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "map_reduce.h"
static void m(map_args_t *a)
{
	long *s = malloc(sizeof(long));
	*s = 0;
	for (intptr_t i = 0; i < a->length; i++)
		*s += ((int *)a->data)[i];
	emit_intermediate((void *)1, s, sizeof(void *));
}
static void r(void *k, iterator_t *it)
{
	long *t = calloc(1, sizeof(long));
	void *v;
	while (iter_next(it, &v))
		*t += *(long *)v;
	emit(k, t);
}
static int part(int n, void *k, int ks) { return default_partition(n, &k, ks); }
static int cmp(const void *a, const void *b) { return (a > b) - (a < b); }
int main(void)
{
	int *d = malloc(100000 * sizeof(int));
	map_reduce_args_t a;
	final_data_t res;
	for (int i = 0; i < 100000; i++)
		d[i] = i;
	memset(&a, 0, sizeof(a));
	a.task_data = d; a.data_size = 100000 * sizeof(int); a.unit_size = sizeof(int);
	a.map = m; a.reduce = r; a.key_cmp = cmp; a.partition = part; a.result = &res;
	if (map_reduce_init() || map_reduce(&a) || map_reduce_finalize())
		return 1;
	printf("sum %ld\n", *(long *)res.data[0].val);
	free(res.data[0].val);
	free(res.data);
	free(d);
	return 0;
}
PROG
want="sum 4999950000"
fail=0
# 1. -ldsm_mapreduce alone (the program's own rpath finds libdsm_mapreduce;
#    libdsm.so.0 must be found through libdsm_mapreduce's RUNPATH)
if ! "$CC" -o "$tmp/sum1" "$tmp/sum.c" -I"$tmp/prefix/include" -L"$lib" \
	-Wl,-rpath,"$lib" -ldsm_mapreduce; then
	echo "FAIL: cc ... -ldsm_mapreduce does not link"; fail=1
elif [ "$("$tmp/sum1")" != "$want" ]; then
	echo "FAIL: the program linked with -ldsm_mapreduce alone does not run:"
	"$tmp/sum1"; fail=1
else
	echo "ok   -ldsm_mapreduce alone: $want"
fi
# 2. pkg-config dsm-mapreduce
if command -v pkg-config >/dev/null; then
	flags=$(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --define-prefix --cflags --libs dsm-mapreduce) ||
		{ echo "FAIL: pkg-config dsm-mapreduce"; exit 1; }
	# shellcheck disable=SC2086
	if ! "$CC" -o "$tmp/sum2" "$tmp/sum.c" $flags; then
		echo "FAIL: cc \$(pkg-config --cflags --libs dsm-mapreduce) does not link"; fail=1
	elif [ "$("$tmp/sum2")" != "$want" ]; then
		echo "FAIL: the program built with pkg-config's flags does not run"; fail=1
	else
		echo "ok   pkg-config dsm-mapreduce: $flags"
	fi
fi
exit $fail
