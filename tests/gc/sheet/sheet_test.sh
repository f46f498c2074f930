#!/bin/bash
# sheet_test.sh DSMRUN SHEET PROTOCOL — the scripted 3-user spreadsheet
# run (examples/sheet, docs/gc.md): every user's output (privileges and
# locks refused, check/incorporate showing exactly the others' changes,
# formulas recalculated, live objects after each collection: a replaced
# formula's tree freed once no view shows it) and the saved sheet must
# equal the expected files.
set -u
dsmrun=$1 sheet=$2 proto=$3
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|@DIR@|$dir|g" "$here/script.txt" > "$dir/script.txt"
if ! "$dsmrun" -n 3 --protocol "$proto" "$sheet" -o "$dir" "$dir/script.txt"; then
	echo "FAIL: the sheet run failed"
	exit 1
fi
rc=0
for f in u0.out u1.out u2.out sheet.txt; do
	if ! sed "s|$dir|@DIR@|g" "$dir/$f" | diff -u "$here/expected/$f" -; then
		echo "FAIL: $f differs from the expected"
		rc=1
	fi
done
[ $rc = 0 ] && echo "sheet: 3 users under $proto: outputs and saved sheet as expected"
exit $rc
