#!/bin/bash
# scripts_test.sh DSMRUN SHEET PROTOCOL — three users, each running a
# script file of their own (scripts/uN.in, sheet -i), all at once; they
# order themselves with "mark N" / "wait uK N" and collect once (asked by
# u1 while u0 and u2 wait). Each transcript, without the collection lines
# and the re-prompts around them (where a collection lands depends on
# timing), and the saved sheet must equal the hand-written expected files;
# every user must have joined the one collection. The end of each script
# is its user's quit; the job must end on its own within 60 s.
set -u
dsmrun=$1 sheet=$2 proto=$3
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for u in 0 1 2; do
	sed "s|@DIR@|$dir|g" "$here/scripts/u$u.in" >"$dir/u$u.in"
done
if ! timeout 60 "$dsmrun" -n 3 --protocol "$proto" "$sheet" -i "$dir" -o "$dir"; then
	echo "FAIL: the job failed or did not end within 60 s"
	for u in 0 1 2; do echo "--- u$u"; cat "$dir/u$u.out"; echo; done
	exit 1
fi
rc=0
for u in 0 1 2; do
	f=$dir/u$u.out
	if [ "$(grep -c '^gc (asked by u1) at ' "$f")" != 1 ]; then
		echo "FAIL: u$u did not join the collection once"
		rc=1
	fi
	grep -v -e '^gc (' -e "^u$u> \$" "$f" | sed -e "s|$dir|@DIR@|g" \
		-e 's/ quit ([0-9] of 3 users); .*/ quit/' >"$dir/u$u.cmp"
	if ! diff -u "$here/expected/scripts_u$u.out" "$dir/u$u.cmp"; then
		echo "FAIL: u$u's transcript differs from the expected"
		rc=1
	fi
done
diff -u "$here/expected/scripts_final.txt" "$dir/final.txt" || { echo "FAIL: the saved sheet differs"; rc=1; }
[ $rc = 0 ] && echo "sheet: 3 users running 3 scripts under $proto: as expected"
exit $rc
