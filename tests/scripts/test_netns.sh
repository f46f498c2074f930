#!/usr/bin/env bash
# test_netns.sh — several "hosts" over TCP: one node per network namespace
# (tests/scripts/netns_common.sh builds them). Multi-node programs run
# with one node per namespace, started with `ip netns exec`,
# DSM_COORDINATOR=10.231.0.1:7000, DSM_BIND=<own address>, DSM_SECRET,
# DSM_NODE_ID/COUNT set here (as on a cluster). The MPI transport across
# the same namespaces is test_netns_mpi.sh.
# Skips (exit 77) with the reason when namespaces cannot be created.
# Environment (set by CTest): BIN_DIR.
set -u
TEST_NAME=test_netns
. "$(dirname "$0")/netns_common.sh"

# ---- TCP, one node per namespace ------------------------------------
# run_tcp PROG N: start N nodes, each in its namespace; 0 if all exit 0.
run_tcp() {
	local prog=$1 n=$2 i rc=0 pids=()
	local secret
	secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	for i in $(seq 0 $((n - 1))); do
		ip netns exec "$P$i" env DSM_NODE_ID="$i" DSM_NODE_COUNT="$n" \
			DSM_COORDINATOR="$NET.1:7000" DSM_BIND="$NET.$((i + 1))" \
			DSM_SECRET="$secret" DSM_TIMEOUT=10 DSM_TRANSPORT=tcp \
			timeout -k 5 90 "$BIN_DIR/$prog" >"$TMP/$prog.$n.$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { rc=1; echo "  node $i of $prog exited $?"; }
	done
	return $rc
}

for prog in $PROGS; do
	for n in 2 $NODES; do
		if run_tcp "$prog" "$n"; then
			ok "tcp: $prog on $n namespaces"
		else
			fail "tcp: $prog on $n namespaces"
			cat "$TMP/$prog.$n".*.out | sed 's/^/    | /'
		fi
	done
done


[ $FAILS -eq 0 ] && { echo "$TEST_NAME: all passed"; exit 0; }
echo "$TEST_NAME: $FAILS failure(s)"
exit 1
