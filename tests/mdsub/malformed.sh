#!/bin/sh
# Hostile payloads never stop mdsub: typed messages shorter than their
# structure, a snapshot claiming 2000 levels in 56 bytes, an unknown type,
# symbols and texts holding quotes, commas, backslashes, control and
# non-ASCII bytes. Exact output in every format; JSON stays valid.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub -m bad 6
for fmt in text csv json raw; do
	status 0 "$MDSUB" -o $fmt --from oldest -u bad
done >"$WORK/out"
same "$EXPECTED/expected_bad.txt" "$WORK/out" "malformed messages"
"$MDSUB" -o json --from oldest -u bad | "$TOOL" json ||
	fail "-o json: invalid JSON for malformed messages"
status 0 "$MDSUB" -o raw -t 999 --from oldest -u bad >"$WORK/t999"
grep -q '^bad 3 [0-9]* 999 40 0 ' "$WORK/t999" || fail "-t 999"
[ "$(wc -l <"$WORK/t999")" -eq 1 ] || fail "-t 999: one message"
exit 0
