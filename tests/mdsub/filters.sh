#!/bin/sh
# Symbol (exact and shell pattern) and type (name and number) filters,
# alone and combined, and -n counting only what passed the filters;
# --grep and --exclude on the text line of each message (any --grep, no
# --exclude), with every output format and with the other filters.
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

# --grep / --exclude: the text lines (expected.text, header first) are
# what the patterns see; raw output of the same messages by sequence
TEXT=$EXPECTED/expected.text
seqs() { # seqs FILE: sequence numbers of text lines
	awk 'NR > 1 { print $2 }' "$1"
}
raw_of() { # raw_of SEQ...: the raw lines of those sequence numbers
	for q in "$@"; do grep -E "^feed $q " "$RAW"; done
}
greprun() { # greprun WANT-SEQS ARGS...: raw output of mdsub ARGS
	picked=$1 # not $want: status() sets it
	shift
	run "$@"
	raw_of $picked >"$WORK/want"
	same "$WORK/want" "$WORK/got" "$*"
}
[ "$(seqs "$TEXT" | wc -l)" -eq 14 ] || fail "expected.text"
greprun "0 3 9" --grep AAPL
greprun "0 9" --grep AAPL --exclude snapshot
greprun "0 3 7 9" --grep AAPL --grep 'MSFT +1[0-9]'
greprun "4 5 11 12" --grep 'status|heartbeat'
greprun "3 10" --grep 'bids=2 asks=1$'
greprun "0 1 2 3 7 8 9 10" --exclude 'status|heartbeat|bytes'
greprun "" --grep 'x{1000}'
greprun "1 8" -t trade --grep 'id=900[18]'
greprun "10" -s MSFT --grep snapshot
greprun "2" --grep level -n 1 --exclude AAPL
# the same line whatever the output format: text prints it as it was
# matched (a quote in a status text is \" there)
status 0 "$MDSUB" --from oldest -u --grep 'halt, \\"news\\"' feed >"$WORK/got"
grep -E '^(TIME| *[0-9:.]+ +(4|11) )' "$TEXT" >"$WORK/want"
same "$WORK/want" "$WORK/got" "--grep, text output"
status 0 "$MDSUB" -o csv --no-header --from oldest -u --exclude '^.{38}[^4]' feed >"$WORK/got"
grep -E '^feed,4,' "$EXPECTED/expected.csv" >"$WORK/want"
same "$WORK/want" "$WORK/got" "--exclude, csv output"
exit 0
