#!/bin/bash
# A run whose per-page protections exceed vm.max_map_count must succeed:
# the runtime resets the view's protections (counted in map_resets)
# instead of failing with ENOMEM inside the fault handler.
set -u
limit=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 65530)
pages=$(( limit * 2 + 8192 ))
# lrc: a one-node hlrc job maps everything writable and never faults.
out=$(DSM_PROTOCOL=lrc DSM_HEAP_SIZE=2G "$BIN_DIR/prog_maplimit" "$pages" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: prog_maplimit exited $rc"; exit 1; }
resets=$(sed -n 's/.*map_resets=\([0-9]*\).*/\1/p' <<<"$out")
[ -n "$resets" ] && [ "$resets" -gt 0 ] || { echo "FAIL: expected map resets > 0"; exit 1; }
echo "ok: $pages pages, $resets map resets"
