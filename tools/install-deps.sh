#!/bin/bash
# Install what building and testing libdsm needs, when it is missing.
# Debian/Ubuntu: uses apt-get when run as root; otherwise prints the command.
# Usage: tools/install-deps.sh [build|test|bench|mpi|fuzz|hetero]...
set -euo pipefail

need_pkgs=()
opt_pkgs=() # wanted, but the tests skip without them: a failure only warns
have() { command -v "$1" >/dev/null 2>&1; }
want() { need_pkgs+=("$@"); }
want_opt() { opt_pkgs+=("$@"); }

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
	check_hetero
}
# A big-endian node for the mixed-byte-order tests (tests/hetero,
# docs/hetero.md): the s390x cross compiler and qemu-user. Optional: where
# they cannot be installed the hetero.* tests are reported as skipped.
check_hetero() {
	have s390x-linux-gnu-gcc || want_opt gcc-s390x-linux-gnu
	[ -e /usr/s390x-linux-gnu/include/stdio.h ] || want_opt libc6-dev-s390x-cross
	have qemu-s390x || want_opt qemu-user
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
	hetero) check_hetero ;;
	*) echo "install-deps: unknown set '$what' (build|test|bench|mpi|fuzz|hetero)" >&2; exit 2 ;;
	esac
done
# optional packages first, on their own: their failure is not ours
if [ ${#opt_pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ] && have apt-get; then
		echo "install-deps: installing ${opt_pkgs[*]} (optional: mixed-byte-order tests)"
		export DEBIAN_FRONTEND=noninteractive
		{ apt-get update -q >/dev/null &&
		  apt-get install -y -q --no-install-recommends "${opt_pkgs[@]}" >/dev/null; } ||
			echo "install-deps: could not install ${opt_pkgs[*]}: the hetero.* tests will be skipped" >&2
	else
		echo "libdsm's mixed-byte-order tests want: ${opt_pkgs[*]} (skipped without them)" >&2
	fi
fi
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
