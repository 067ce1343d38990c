#!/bin/sh
# A line with a NUL byte is malformed, counted and logged, never published
# as the text before the NUL: a raw NUL in a CSV or JSON line, and a JSON
# string holding \u0000 (in a symbol or a price), each between good lines.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

# through NAME FORMAT MALFORMED: $WORK/in.NAME through channel NAME in
# FORMAT, the quotes and trades read are $WORK/want.NAME exactly, and
# the counters say 2 in, 2 out, MALFORMED malformed
through() {
	lines_conf "$1" "$2" "file=$WORK/in.$1"
	status 0 "$MDPUB" -c "$WORK/$1.conf" 2>"$WORK/$1.log"
	status 0 "$READER" --until down --dump "$1" >"$WORK/$1.out"
	grep '^[QT]' "$WORK/$1.out" >"$WORK/got.$1"
	diff -u "$WORK/want.$1" "$WORK/got.$1" >&2 || fail "$1 messages"
	grep -q "channel $1: in 2 out 2 malformed $3 " "$WORK/$1.log" ||
		fail "$1 counters: $(grep "channel $1: in" "$WORK/$1.log")"
}

{
	printf 'Q,AAA,1,1,2,1\n'
	printf 'Q,BBB,1,1,2,1\000junk\n'
	printf 'T,CCC,5,1,B,7\000,1700000000000000000\n'
	printf '\000Q,DDD,1,1,2,1\n'
	printf 'T,EEE,5,1\n'
} >"$WORK/in.csv"
cat >"$WORK/want.csv" <<'END'
Q AAA 100000000 100000000 200000000 100000000 0
T EEE 500000000 100000000 0 0 0
END
through csv csv 3
for n in 2 3 4; do
	grep -q "channel csv: $WORK/in.csv line $n: malformed: a NUL byte in the line" \
		"$WORK/csv.log" || fail "CSV line $n not logged"
done

{
	echo '{"s":"AAA","b":"1","B":"1","a":"2","A":"1"}'
	echo '{"s":"BBB\u0000X","b":"1","B":"1","a":"2","A":"1"}'
	echo '{"s":"CCC","b":"1\u00009","B":"1","a":"2","A":"1"}'
	echo '{"e":"trade","s":"DDD\u0000","p":"5","q":"1"}'
	printf '{"s":"EEE","b":"1","B":"1","a":"2","A":"1"}\000x\n'
	echo '{"e":"trade","s":"FFF","p":"5","q":"1"}'
} >"$WORK/in.json"
cat >"$WORK/want.json" <<'END'
Q AAA 100000000 100000000 200000000 100000000 0
T FFF 500000000 100000000 0 0 0
END
through json binance 4
grep -q "channel json: $WORK/in.json line 2: malformed: bookTicker without valid s, b, B, a, A" \
	"$WORK/json.log" || fail "JSON line 2 not logged"
grep -q "channel json: $WORK/in.json line 3: malformed: bookTicker without valid s, b, B, a, A" \
	"$WORK/json.log" || fail "JSON line 3 not logged"
grep -q "channel json: $WORK/in.json line 4: malformed: trade without valid s, p, q" \
	"$WORK/json.log" || fail "JSON line 4 not logged"
grep -q "channel json: $WORK/in.json line 5: malformed: a NUL byte in the line" \
	"$WORK/json.log" || fail "JSON line 5 not logged"
exit 0
