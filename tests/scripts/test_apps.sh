#!/usr/bin/env bash
# test_apps.sh — every application benchmark (bench/apps/) once, on a small
# input: sequential, pthreads (2 threads), MPI (mpirun -n 2) and libdsm
# (dsmrun -n 2, under every protocol dsmrun lists; sor, km and tsp also
# with DSM_TAPEWORM=auto; tsp has no MPI version). Each program checks its
# result against the sequential computation and exits non-zero on a
# mismatch; this test fails if any does. Correctness only, no timing.
#
# Environment: DSMRUN (the dsmrun binary), BIN_DIR (the build's tests
# directory; the programs are in BIN_DIR/../bench/apps), SRC_DIR (unused).
# Exit 77 (skip) if the MPI versions could not be built or mpirun is
# missing, after running everything else (failures still fail).
set -u

: "${DSMRUN:?set DSMRUN to the dsmrun binary}"
: "${BIN_DIR:?set BIN_DIR to the build tests directory}"
APPS_DIR="$BIN_DIR/../bench/apps"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
SKIPPED=""

# Small inputs: every program's positional arguments.
declare -A ARGS=([sor]="64 5" [mm]="64" [km]="3000 5 3" [nb]="256 2"
		 [lu]="128 32" [is]="50000" [hg]="100000 256" [wc]="20000 500"
		 [tsp]="10 3" [qs]="100000 1024" [fft]="16 2" [wa]="128 2")
# Apps without an MPI version (not a skip).
NO_MPI=" tsp qs fft wa "
# Apps also run under DSM_TAPEWORM=auto (every lock and barrier replays
# its tapes): the result must not change.
TW_APPS=" sor km tsp "

PROTOCOLS=$("$DSMRUN" --help 2>/dev/null | awk '
	$1 == "DSM_PROTOCOL" { grab = 1; next }
	grab && /one of:/ { sub(/.*one of: */, ""); gsub(/,/, " "); print; exit }')
[ -n "$PROTOCOLS" ] || PROTOCOLS=sc
MPIRUN=$(command -v mpirun || true)
MPI_FLAGS=()
[ -n "$MPIRUN" ] && "$MPIRUN" --version 2>&1 | grep -q "Open MPI" &&
	MPI_FLAGS=(--allow-run-as-root --oversubscribe --bind-to none)

# check LABEL COMMAND...: run it (60 s at most), expect status 0 and an
# "APP ... ok=1" line.
check() {
	local label=$1 rc
	shift
	timeout -k 5 60 "$@" >"$TMP/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^APP .* ok=1' "$TMP/out"; then
		echo "ok    $label"
		return
	fi
	echo "FAIL  $label (exit $rc)"
	sed 's/^/      /' "$TMP/out" | tail -20
	FAILS=$((FAILS + 1))
}

[ -d "$APPS_DIR" ] || { echo "test_apps.sh: FAIL: $APPS_DIR not built"; exit 1; }
for app in sor mm km nb lu is hg wc tsp qs fft wa; do
	# shellcheck disable=SC2086
	set -- ${ARGS[$app]}
	for v in seq pthreads dsm; do
		[ -x "$APPS_DIR/${app}_$v" ] || { echo "FAIL  ${app}_$v not built"; FAILS=$((FAILS + 1)); }
	done
	check "$app seq" "$APPS_DIR/${app}_seq" "$@"
	check "$app pthreads 2" env APP_THREADS=2 "$APPS_DIR/${app}_pthreads" "$@"
	for p in $PROTOCOLS; do
		check "$app dsm 2 $p" "$DSMRUN" -n 2 --protocol "$p" "$APPS_DIR/${app}_dsm" "$@"
		[[ "$TW_APPS" == *" $app "* ]] &&
			check "$app dsm 2 $p tapeworm=auto" env DSM_TAPEWORM=auto \
				"$DSMRUN" -n 2 --protocol "$p" "$APPS_DIR/${app}_dsm" "$@"
	done
	[[ "$NO_MPI" == *" $app "* ]] && continue
	if [ -z "$MPIRUN" ] || [ ! -x "$APPS_DIR/${app}_mpi" ]; then
		SKIPPED+=" $app"
		continue
	fi
	# Open MPI's allocations are not freed at exit: no leak check for it.
	check "$app mpi 2" env ASAN_OPTIONS=handle_segv=0:detect_leaks=0 \
		"$MPIRUN" -n 2 "${MPI_FLAGS[@]}" "$APPS_DIR/${app}_mpi" "$@"
done

if [ $FAILS -gt 0 ]; then
	echo "test_apps.sh: $FAILS run(s) failed"
	exit 1
fi
if [ -n "$SKIPPED" ]; then
	echo "test_apps.sh: SKIP: MPI versions not run for:$SKIPPED (mpirun or the" \
		"MPI build missing; tools/install-deps.sh test installs Open MPI)"
	exit 77
fi
echo "test_apps.sh: all applications match their sequential results"
