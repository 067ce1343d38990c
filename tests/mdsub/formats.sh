#!/bin/sh
# Exact output of each format for the deterministic feed (all 7 types,
# including a status text with a comma and quotes), valid JSON lines with
# exact values, fixed text columns.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub feed 14
for fmt in text csv json raw; do
	status 0 "$MDSUB" -o $fmt --from oldest --until-caught-up feed \
		>"$WORK/out.$fmt" 2>/dev/null
	same "$EXPECTED/expected.$fmt" "$WORK/out.$fmt" "-o $fmt output"
done
"$TOOL" json <"$WORK/out.json" || fail "-o json: invalid JSON line"

# --no-header drops the CSV and text header lines only
for fmt in csv text; do
	status 0 "$MDSUB" -o $fmt --no-header --from oldest -u feed >"$WORK/nh" 2>/dev/null
	tail -n +2 "$EXPECTED/expected.$fmt" >"$WORK/nh.want"
	same "$WORK/nh.want" "$WORK/nh" "--no-header -o $fmt"
done

# text: every number column ends where its header does
awk 'NR == 1 { d = index($0, "DETAIL") }
     / quote / && length($0) != d - 2 { exit 1 }' "$EXPECTED/expected.text" ||
	fail "text columns"

# JSON keeps nanoseconds and prices exact through a reader that holds
# numbers as doubles (jq 1.6)
if command -v jq >/dev/null; then
	head -n 1 "$WORK/out.json" | jq -r '[.ts_ns, .recv_ns, .bid_px, .ask_qty] | @tsv' >"$WORK/jq"
	printf '1700000000000000000\t1699999999999999900\t100.25\t200.5\n' >"$WORK/jq.want"
	same "$WORK/jq.want" "$WORK/jq" "jq reads exact values"
fi

# -n stops after N; --from SEQ starts there
status 0 "$MDSUB" -o raw -n 3 --from 5 feed >"$WORK/n3"
sed -n '6,8p' "$EXPECTED/expected.raw" >"$WORK/n3.want"
same "$WORK/n3.want" "$WORK/n3" "-n 3 --from 5"

# -q prints nothing; --summary counts on stderr
status 0 "$MDSUB" -q --summary --from oldest -u feed >"$WORK/q" 2>"$WORK/qe"
[ -s "$WORK/q" ] && fail "-q printed messages"
grep -q '^feed: 14 messages, ' "$WORK/qe" || fail "--summary: $(cat "$WORK/qe")"

# several channels: a channel column, every message of both
pub other 2
status 0 "$MDSUB" --from oldest -u feed other >"$WORK/two"
[ "$(grep -c ' feed  ' "$WORK/two")" -eq 14 ] || fail "two channels: feed"
[ "$(grep -c ' other ' "$WORK/two")" -eq 2 ] || fail "two channels: other"
exit 0
