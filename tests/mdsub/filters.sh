#!/bin/sh
# Symbol (exact and shell pattern) and type (name and number) filters,
# alone and combined, and -n counting only what passed the filters.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub feed 14
RAW=$EXPECTED/expected.raw
run() {
	status 0 "$MDSUB" -o raw --from oldest -u "$@" feed >"$WORK/got"
}

# raw lines: channel seq ts type size lost payload; symbol = payload bytes
run -s AAPL
grep -E '^feed ([0-9]+) [0-9]+ [1-5] .* 4141504c00' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-s AAPL"

run -s 'B*,MSFT'
grep -E '^feed [0-9]+ [0-9]+ [1-5] .* (4254432d|4d534654)' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-s 'B*,MSFT'"

run -t quote,trade
grep -E '^feed [0-9]+ [0-9]+ [12] ' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-t quote,trade"

run -t 6 -t raw
grep -E '^feed [0-9]+ [0-9]+ [60] ' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-t 6 -t raw"

run -t trade -s MSFT
grep -E '^feed [0-9]+ [0-9]+ 2 .* 4d534654' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-t trade -s MSFT"

# heartbeats and raw messages have no symbol: a symbol filter drops them
run -s '*'
grep -E '^feed [0-9]+ [0-9]+ [1-5] ' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-s '*'"

run -t level -n 1
grep -m 1 -E '^feed [0-9]+ [0-9]+ 3 ' "$RAW" >"$WORK/want"
same "$WORK/want" "$WORK/got" "-t level -n 1"
exit 0
