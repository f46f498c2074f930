#!/usr/bin/env bash
# test_peer_mem.sh — same-machine peers read hlrc home pages from each
# other's region (DSM_PEER_MEM, docs/peer-memory.md). For programs checked
# against a sequential computation (mn_halves: neighbours' boundary pages
# every iteration; mn_random: random race-free sharing) at 2 and 3 nodes:
#  - on (the default under dsmrun): the program passes and the HLRC_PAGE
#    replies carry headers only (under 256 bytes per page sent), so the
#    pages really were copied from the home's memory;
#  - off: the program passes and each page sent is on the wire (4096
#    bytes or more per page);
#  - a running job has no record left once its first barrier is past,
#    and a job killed then with dsmrun itself (SIGKILL: no clean-up)
#    leaves none behind;
#  - no /dev/shm/dsm-* record outlives the run: a record that was not
#    there before and whose process is gone (one of ours) fails; a record
#    of a live process belongs to another job on this machine (a second
#    suite running beside this one) and is not ours to judge.
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v jq >/dev/null || { echo "jq missing"; exit 1; }
ls /dev/shm 2>/dev/null | grep '^dsm-' >"$WORK/before" || true
for n in 2 3; do
	for prog in mn_halves "mn_random 0 40"; do
		for mode in on off; do
			set -- $prog
			if ! DSM_PEER_MEM=$mode DSM_TIMEOUT=10 timeout 300 "$DSMRUN" -n $n \
				--protocol hlrc --stats "$WORK/st.json" "$BIN_DIR/$1" "${@:2}" \
				>"$WORK/out" 2>&1; then
				fail "$prog, $n nodes, DSM_PEER_MEM=$mode: the program failed"
				sed 's/^/    | /' "$WORK/out" | head -20
				continue
			fi
			pages=$(jq '.total.pages_sent' "$WORK/st.json")
			bytes=$(jq '.total.messages_by_type.HLRC_PAGE.bytes_sent // 0' "$WORK/st.json")
			if [ "$pages" -eq 0 ]; then
				fail "$prog, $n nodes: no page was fetched: the test tests nothing"
			elif [ $mode = on ] && [ "$bytes" -ge $((pages * 256)) ]; then
				fail "$prog, $n nodes, on: $bytes bytes of HLRC_PAGE for $pages pages"
			elif [ $mode = off ] && [ "$bytes" -lt $((pages * 4096)) ]; then
				fail "$prog, $n nodes, off: $bytes bytes of HLRC_PAGE for $pages pages"
			else
				echo "ok: $prog, $n nodes, DSM_PEER_MEM=$mode: $pages pages, $bytes bytes of HLRC_PAGE"
			fi
		done
	done
done
# A job past its first barrier has removed its records: while a long
# mn_random runs (its first barrier comes within milliseconds of
# dsm_init), once both nodes have mapped their peers, no record may name
# one of its nodes, looked at while they are alive (up to 10 s for a
# slow machine; the job runs much longer, and a look after it ended
# would prove nothing: dsm_finalize removes the records too). Then
# dsmrun and the nodes are killed with SIGKILL, and the orphan check
# below finds none of theirs.
DSM_LOG=info DSM_TIMEOUT=10 "$DSMRUN" -n 2 --protocol hlrc "$BIN_DIR/mn_random" 0 100000 \
	>"$WORK/long" 2>&1 &
job=$!
held_by() { # the records naming one of the pids $@
	for r in $(ls /dev/shm 2>/dev/null | grep '^dsm-'); do
		pid=$(cut -d' ' -f1 "/dev/shm/$r" 2>/dev/null) || continue
		for p in "$@"; do [ "$pid" = "$p" ] && echo "$r"; done
	done
}
alive() { for p in "$@"; do kill -0 "$p" 2>/dev/null || return 1; done; }
pids="" held="" mapped=0 retired=0
for _ in $(seq 50); do
	sleep 0.2
	pids=$(pgrep -P $job | tr '\n' ' ')
	mapped=$(grep -c 'peer memory: 1 of 1' "$WORK/long")
	[ -n "$pids" ] && [ "$mapped" -eq 2 ] || continue
	held=$(held_by $pids | tr '\n' ' ')
	if [ -z "$held" ] && alive $pids; then retired=1; break; fi
done
kill -9 $job $pids 2>/dev/null
wait $job 2>/dev/null
for _ in $(seq 50); do # until the killed nodes are gone (kill -0 fails)
	gone=1
	for p in $pids; do kill -0 "$p" 2>/dev/null && gone=0; done
	[ $gone -eq 1 ] && break
	sleep 0.2
done
if [ -z "$pids" ]; then
	fail "the long mn_random job's nodes never ran"
	sed 's/^/    | /' "$WORK/long" | head -20
elif [ "$mapped" -ne 2 ]; then
	fail "the long mn_random job did not map its peers: the check tests nothing"
	sed 's/^/    | /' "$WORK/long" | head -20
elif grep -q "seeds .*memory equals" "$WORK/long"; then
	fail "the long mn_random job ended within the window: the check tests nothing"
elif [ $retired -eq 0 ]; then
	fail "records still there past the first barrier (10 s):${held:- (the job ended first)}"
else
	echo "ok: no record past the first barrier; dsmrun and its nodes killed"
fi
# Records that appeared during the run and whose process has exited. A
# job beside ours may be between its nodes' exit and dsmrun's clean-up:
# look again after a second before calling a record left behind.
orphans() {
	ls /dev/shm 2>/dev/null | grep '^dsm-' | grep -vxF -f "$WORK/before" |
		while read -r r; do
			pid=$(cut -d' ' -f1 "/dev/shm/$r" 2>/dev/null) || continue
			[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
			echo "$r"
		done
}
if [ -n "$(orphans)" ]; then
	sleep 1
	left=$(orphans | wc -l)
	[ "$left" -eq 0 ] || fail "$left /dev/shm/dsm-* record(s) left behind: $(orphans | tr '\n' ' ')"
fi
[ $fails -eq 0 ] || { echo "test_peer_mem: $fails failure(s)"; exit 1; }
echo "test_peer_mem: all passed"
