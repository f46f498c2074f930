#!/usr/bin/env bash
# test_hlrc_homes.sh — hlrc under every home policy (DSM_HOME), not only
# the default first touch that the mn.* tests use: random race-free
# programs checked against a sequential reference, pages shared by
# neighbouring writers, and several threads per node (barriers, locks and
# allocation at once), at 3 and 4 nodes (3: homes that do not divide the
# page numbers evenly).
# Environment (set by CTest): DSMRUN, BIN_DIR.
set -u
fails=0
for home in first-touch block cyclic node0; do
	for n in 3 4; do
		for prog in "mn_random 0 40" mn_slices "mn_threads_mixed 3" mn_migratory; do
			set -- $prog
			if DSM_HOME=$home DSM_TIMEOUT=10 timeout 300 "$DSMRUN" -n $n \
				--protocol hlrc "$BIN_DIR/$1" "${@:2}" >/tmp/hlrc_homes.$$ 2>&1; then
				echo "ok: DSM_HOME=$home, $n nodes, $prog"
			else
				echo "FAIL: DSM_HOME=$home, $n nodes, $prog"
				sed 's/^/    | /' /tmp/hlrc_homes.$$ | head -20
				fails=$((fails + 1))
			fi
		done
	done
done
rm -f /tmp/hlrc_homes.$$
[ $fails -eq 0 ] || { echo "test_hlrc_homes: $fails failure(s)"; exit 1; }
echo "test_hlrc_homes: all passed"
