#!/usr/bin/env bash
# test_netns_mpi.sh — the MPI transport across several "hosts": the
# multi-node programs under mpirun run in the hub namespace of
# tests/scripts/netns_common.sh (10.231.0.254), whose plm_rsh_agent enters
# a node namespace instead of ssh-ing to a host; TCP BTL only, --mca
# mpi_yield_when_idle 1. Loopback is brought up for this part: Open MPI's
# daemon reaches its local rank over it (PMIx).
# Skips (exit 77) with the reason when there is no Open MPI mpirun, when
# libdsm was built without MPI, or when namespaces cannot be created.
# Environment (set by CTest): BIN_DIR. MPIEXEC optional (default mpirun).
set -u
TEST_NAME=test_netns_mpi
MPIEXEC=${MPIEXEC:-mpirun}
if ! command -v "$MPIEXEC" >/dev/null || ! "$MPIEXEC" --version 2>&1 | grep -q "Open MPI"; then
	echo "SKIP: no Open MPI mpirun ($MPIEXEC); tools/install-deps.sh mpi installs it"
	exit 77
fi
if ! grep -qa MPI_Init_thread "${BIN_DIR:-.}/../libdsm.so" 2>/dev/null; then
	echo "SKIP: libdsm was built without MPI (CMake found no MPI)"
	exit 77
fi
. "$(dirname "$0")/netns_common.sh"

# ---- MPI, one rank per namespace -------------------------------------
run_mpi_part() {
	local prog i
	cat >"$TMP/agent" <<-'EOF'
		#!/bin/sh
		# plm_rsh_agent: "host" is a namespace; run the command inside it.
		host=$1
		shift
		exec ip netns exec "$host" /bin/sh -c "$*"
	EOF
	chmod +x "$TMP/agent"
	for i in $(seq 0 $((NODES - 1))); do echo "$P$i slots=1"; done >"$TMP/hosts"
	# Open MPI's daemon talks to the ranks it starts over the namespace's
	# own loopback (PMIx); libdsm's traffic still crosses the veths (the
	# TCP BTL is restricted to $NET.0/24).
	for i in $(seq 0 $((NODES - 1))); do ip -n "$P$i" link set lo up; done
	for prog in $PROGS; do
		mpi_run_checked "$prog"
	done
}

# One mpirun of prog with one rank per namespace. Each rank touches a
# marker file before it execs the program, so a run that timed out with no
# marker is Open MPI's launcher losing a daemon (seen about once in eight
# runs: mpirun then waits forever before starting any rank), not libdsm.
# Such a launch is retried, up to twice, and reported; a run whose ranks
# started and then failed or hung is a failure.
mpi_launch() {
	local prog=$1 out=$2
	rm -f "$TMP"/started.*
	ip netns exec "${P}h" timeout -k 5 40 "$MPIEXEC" --allow-run-as-root \
		-n "$NODES" --hostfile "$TMP/hosts" \
		--mca plm_rsh_agent "$TMP/agent" --mca plm_rsh_no_tree_spawn 1 \
		--mca plm_rsh_num_concurrent 1 \
		--mca oob_tcp_if_include "$NET.0/24" --mca btl tcp,self \
		--mca btl_tcp_if_include "$NET.0/24" --mca mpi_yield_when_idle 1 \
		-x DSM_TRANSPORT=mpi -x DSM_TIMEOUT=10 -x PATH \
		-x ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
		/bin/sh -c 'touch "$1/started.$OMPI_COMM_WORLD_RANK"; exec "$2"' \
		sh "$TMP" "$BIN_DIR/$prog" >"$out" 2>&1
}

mpi_run_checked() {
	local prog=$1 out="$TMP/$1.mpi.out" try rc
	for try in 1 2 3; do
		mpi_launch "$prog" "$out"
		rc=$?
		if [ $rc -ne 124 ] && [ $rc -ne 137 ] || ls "$TMP"/started.* >/dev/null 2>&1; then
			break
		fi
		echo "note: mpi: $prog: Open MPI's launcher started no rank in 40 s (try $try); retrying"
	done
	if [ $rc -eq 0 ]; then
		ok "mpi: $prog on $NODES namespaces"
	else
		fail "mpi: $prog on $NODES namespaces (status $rc)"
		sed 's/^/    | /' "$out"
	fi
}
run_mpi_part

[ $FAILS -eq 0 ] && { echo "$TEST_NAME: all passed"; exit 0; }
echo "$TEST_NAME: $FAILS failure(s)"
exit 1
