#!/usr/bin/env bash
# test_structure.sh — structure rules of the source tree (issue 9):
#  1. no static function is named like a function of the C library
#     (a static bind() hid POSIX bind(2) in its file); the names are taken
#     from the libc and libm this machine links against;
#  2. little-endian fields go through src/core/le.h: no other file
#     assembles or splits a 32-bit value byte by byte;
#  3. one receive-buffer reserve (dsm__rbuf_reserve in src/net/internal.h);
#  4. one bucket list for the sync layer's records (src/sync: only
#     dsm__sync_lookup walks a bucket);
#  5. sc, lrc, hlrc and ec change a page's state only through the checked
#     transition (dsm__page_step, src/proto/machine.c): the only other
#     stores are the initial states in their page-entry initialisers
#     (pg_get, dsm__lrc_pg, dsm__hlrc_pg: READ_SHARED, and for hlrc's
#     one-node job WRITE_EXCLUSIVE).
# Environment (set by CTest): SRC_DIR.
set -u

SRC_DIR=${SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$SRC_DIR" || exit 1
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
DIRS="src tools bench tests fuzz examples"

# 1. static functions named like libc/libm functions
libs=""
for l in libc.so.6 libm.so.6; do
	f=$(ldconfig -p 2>/dev/null | awk -v l="$l" '$1 == l { print $NF; exit }')
	[ -n "$f" ] && libs="$libs $f"
done
if [ -z "$libs" ] || ! command -v nm >/dev/null; then
	echo "SKIP: cannot list the C library's symbols (ldconfig/nm missing)"
	exit 77
fi
syms=$(mktemp)
statics=$(mktemp)
trap 'rm -f "$syms" "$statics"' EXIT
for f in $libs; do nm -D --defined-only "$f" | awk '{ print $3 }' | sed 's/@.*//'; done |
	sort -u >"$syms"
[ "$(wc -l <"$syms")" -gt 1000 ] || fail "only $(wc -l <"$syms") libc symbols found"
grep -rhoE '^static (inline )?[A-Za-z_0-9 ]+[ *]+[a-z_0-9]+\(' $DIRS --include='*.c' --include='*.h' |
	sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | sort -u >"$statics"
[ "$(wc -l <"$statics")" -gt 300 ] || fail "only $(wc -l <"$statics") static functions found"
clash=$(comm -12 "$syms" "$statics" | tr '\n' ' ')
if [ -n "$clash" ]; then
	fail "static functions named like C library functions: $clash"
	for s in $clash; do grep -rnE "^static .*[ *]$s\(" $DIRS --include='*.c' --include='*.h'; done
else
	ok "no static function is named like one of $(wc -l <"$syms") C library functions"
fi

# 2. byte-by-byte little-endian helpers outside src/core/le.h
le=$(grep -rnE '\[3\] << 24|>> 24\);|\(v >> 8\)' $DIRS --include='*.c' --include='*.h' |
	grep -v '^src/core/le.h' | grep -v '^tests/unit/test_msg.c')
if [ -n "$le" ]; then
	fail "little-endian helpers outside src/core/le.h:"
	echo "$le"
else
	ok "little-endian loads and stores only in src/core/le.h"
fi

# 3. one receive-buffer reserve
n=$(grep -rnE '^(static )?(inline )?int [a-z_]*rbuf_reserve\(' src | wc -l)
[ "$n" -eq 1 ] && ok "one rbuf_reserve" || {
	fail "$n definitions of an rbuf_reserve:"
	grep -rnE '^(static )?(inline )?int [a-z_]*rbuf_reserve\(' src
}

# 4. one bucket hash in src/sync (slot() in sync.c: every lookup, insert and
# rehash goes through it)
re='% SYNC_BUCKETS|% *t->nbuckets|0x9e3779b1'
n=$(grep -rnE "$re" src/sync | wc -l)
[ "$n" -eq 1 ] && ok "one bucket hash in src/sync" || {
	fail "$n places hash ids into buckets in src/sync (want one: slot() in sync.c):"
	grep -rnE "$re" src/sync
}

# 5. state stores outside the checked transition (sc, lrc, hlrc)
PROTO_FILES="src/proto/sc.c src/proto/lrc.c src/proto/lrc_iv.c src/proto/hlrc.c src/proto/hlrc_iv.c src/proto/ec.c src/proto/ec_lock.c"
INIT_RE='^src/proto/(sc|lrc|hlrc)\.c:[0-9]+:\s*pg->state = DSM_PAGE_(READ_SHARED|WRITE_EXCLUSIVE);$'
# shellcheck disable=SC2086
stores=$(grep -nE '(->|\.)state = ' $PROTO_FILES | grep -vE "$INIT_RE")
# shellcheck disable=SC2086
init=$(grep -nE '(->|\.)state = ' $PROTO_FILES | grep -cE "$INIT_RE")
if [ -n "$stores" ] || [ "$init" != 4 ]; then
	fail "page state stores in sc/lrc/hlrc/ec outside dsm__page_step ($init initial ones, want 4):"
	echo "$stores"
else
	ok "sc, lrc, hlrc and ec change page states only through dsm__page_step"
fi

[ "$FAILS" -eq 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all structure checks passed"
