#!/bin/sh
# The lines source names the right line when one is longer than its
# 4096-byte limit and more than a read long, so that it is refused before
# its end comes; the lines after it are published.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

{
	printf 'Q,AAPL,189.5,100,189.52,200,1\n'
	printf 'T,AAPL,189.51,25,B,77,2\n'
	printf 'Q,%065536d,1,1,1,1\n' 0
	printf 'T,MSFT,410,3,S,,\n'
} >"$WORK/in.csv"
channel long.conf long source=lines format=csv "file=$WORK/in.csv"
status 0 "$MDPUB" -c "$WORK/long.conf" 2>"$WORK/long.log"
grep -q "channel long: $WORK/in.csv line 3: malformed: line longer than 4096 bytes" \
	"$WORK/long.log" || fail "the long line is not named line 3"
[ "$(grep -c "malformed:" "$WORK/long.log")" -eq 1 ] || fail "not logged once"
grep -q "end of input after 4 lines" "$WORK/long.log" || fail "line count"
status 0 "$READER" --until down --dump long >"$WORK/long.out"
[ "$(grep -c '^[QT]' "$WORK/long.out")" -eq 3 ] || fail "$(cat "$WORK/long.out")"
exit 0
