#!/bin/bash
# Install what building and testing libdsm needs, when it is missing.
# Debian/Ubuntu: uses apt-get when run as root; otherwise prints the command.
# Usage: tools/install-deps.sh [build|test|bench|mpi|fuzz]...
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
want() { need_pkgs+=("$@"); }

check_build() {
	have cc || want gcc
	have make || want make
	have cmake || want cmake
	have pkg-config || want pkg-config
}
check_test() {
	check_build
	pkg-config --exists cmocka 2>/dev/null || want libcmocka-dev
	have bc || want bc
	have pgrep || want procps
	have ip || want iproute2 # tests/scripts/test_netns.sh
	check_mpi
	check_fuzz
}
# clang and its runtime libraries (libFuzzer; only recommended by clang,
# so named here): the fuzz/ targets (make fuzz, part of make test).
check_fuzz() {
	check_build
	have clang || want clang
	local rt="libclang_rt.fuzzer-$(uname -m).a"
	if ! have clang || [ "$(clang -print-file-name="$rt")" = "$rt" ]; then
		want libclang-rt-dev
	fi
}
# Open MPI: the MPI versions of the application benchmarks (built and run
# by make test and make bench).
check_mpi() {
	have mpicc || want libopenmpi-dev
	have mpirun || want openmpi-bin
}
check_bench() {
	check_build
	have gnuplot || want gnuplot-nox
	check_mpi
}

[ $# -eq 0 ] && set -- build
for what in "$@"; do
	case "$what" in
	build) check_build ;;
	test) check_test ;;
	bench) check_bench ;;
	mpi) check_mpi ;;
	fuzz) check_fuzz ;;
	*) echo "install-deps: unknown set '$what' (build|test|bench|mpi|fuzz)" >&2; exit 2 ;;
	esac
done
[ ${#need_pkgs[@]} -eq 0 ] && exit 0

mapfile -t pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
	echo "libdsm needs: ${pkgs[*]}" >&2
	echo "install them with: sudo apt-get install -y ${pkgs[*]}" >&2
	exit 1
fi
if ! have apt-get; then
	echo "libdsm needs: ${pkgs[*]} (no apt-get here: install them yourself)" >&2
	exit 1
fi
echo "install-deps: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
