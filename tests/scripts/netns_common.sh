# netns_common.sh — sourced by test_netns.sh (TCP) and test_netns_mpi.sh
# (MPI): NODES (4) network namespaces joined by veth pairs to a bridge in a
# hub namespace ${P}h (10.231.0.254), each node namespace with its own
# address 10.231.0.<i+1>/24 and its loopback left DOWN, so nothing can
# depend on 127.0.0.1. Everything stays inside these test namespaces; the
# host's network is not touched. Skips (exit 77) with the reason when
# namespaces cannot be created (not root, no iproute2, no CONFIG_NET_NS).
# Namespaces are removed on exit. The caller sets TEST_NAME and may call
# skip/fail/ok.
NODES=4
PROGS="mn_counter mn_prodcons mn_alloc"
P="dsmt$$"              # name prefix: unique per run
NET=10.231.0
TMP=""
FAILS=0

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

[ -n "${BIN_DIR:-}" ] || { echo "$TEST_NAME: BIN_DIR must be set (run it from ctest)"; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"

cleanup() {
	local i
	for i in $(seq 0 $((NODES - 1))) h; do
		ip netns pids "$P$i" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$P$i" 2>/dev/null
	done
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Hub namespace with a bridge; node i gets veth <-> bridge and an address.
setup() {
	local i
	ip netns add "${P}h" || return 1
	ip -n "${P}h" link add br0 type bridge || return 1
	ip -n "${P}h" addr add "$NET.254/24" dev br0 || return 1
	ip -n "${P}h" link set br0 up || return 1
	for i in $(seq 0 $((NODES - 1))); do
		ip netns add "$P$i" || return 1
		ip link add "${P}a$i" type veth peer name "${P}b$i" || return 1
		ip link set "${P}a$i" netns "$P$i" || return 1
		ip link set "${P}b$i" netns "${P}h" || return 1
		ip -n "$P$i" link set "${P}a$i" name eth0 || return 1
		ip -n "$P$i" addr add "$NET.$((i + 1))/24" dev eth0 || return 1
		ip -n "$P$i" link set eth0 up || return 1
		ip -n "${P}h" link set "${P}b$i" master br0 up || return 1
	done
}
setup 2>/tmp/"$P".err || { cat /tmp/"$P".err; rm -f /tmp/"$P".err; skip "cannot create network namespaces (no privilege or no CONFIG_NET_NS)"; }
rm -f /tmp/"$P".err
TMP=$(mktemp -d)

