#!/bin/sh
# --stats: one line per interval with counts and rates of messages and
# bytes, lag, loss and latency
# percentiles, then the summary; loss counted exactly.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub -r -g 16:4 feed 100
status 0 "$MDSUB" --stats=0.1 --from 0 -d 0.35 feed >"$WORK/out" 2>"$WORK/err"
line='^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] feed: [0-9]+ msgs [0-9]+ msg/s [0-9]+ B [0-9]+ B/s lag [0-9]+ lost [0-9]+ \([0-9]+ gaps\) latency p50 [0-9.]+[mun]?s p99 [0-9.]+[mun]?s p99\.9 [0-9.]+[mun]?s max [0-9.]+[mun]?s$'
[ "$(grep -Ec "$line" "$WORK/out")" -ge 2 ] || fail "interval lines: $(cat "$WORK/out")"
head -n 1 "$WORK/out" | grep -Eq ' feed: 64 msgs 640 msg/s 3[0-9]{3} B 3[0-9]{4} B/s lag 0 lost 36 \(1 gaps\) ' ||
	fail "first interval: $(head -n 1 "$WORK/out")"
tail -n 1 "$WORK/out" | grep -Eq '^feed: 64 messages, 3[0-9]{3} bytes in 0\.[0-9]{3} s \([0-9]+ msg/s\), lost 36 in 1 gaps, latency p50 ' ||
	fail "summary: $(tail -n 1 "$WORK/out")"
[ "$(grep -c . "$WORK/out")" -eq "$(grep -Ec "$line|^feed: 64 messages" "$WORK/out")" ] ||
	fail "unexpected lines: $(cat "$WORK/out")"

# -o json: the same as JSON lines
status 0 "$MDSUB" -o json --stats=0.1 --from 0 -d 0.35 feed >"$WORK/json"
"$TOOL" json <"$WORK/json" || fail "--stats -o json: invalid JSON"
[ "$(grep -c '^{"kind":"interval","channel":"feed",' "$WORK/json")" -ge 2 ] ||
	fail "--stats -o json: intervals: $(cat "$WORK/json")"
head -n 1 "$WORK/json" | grep -q '"msgs":64,.*"lag":0,"lost":36,"gaps":1,"p50_ns":' ||
	fail "--stats -o json: first interval: $(head -n 1 "$WORK/json")"
tail -n 1 "$WORK/json" | grep -q '^{"kind":"summary","channel":"feed",.*"msgs":64,.*"lost":36,"gaps":1,' ||
	fail "--stats -o json: summary: $(tail -n 1 "$WORK/json")"

# the latency of messages read as they come is below a second
pub live 0
"$MDSUB" --stats=10 -n 50 live >"$WORK/live" &
reader=$!
wait_registered live 1 # from the latest message: the 50 after it
pub -r live 50
wait $reader || fail "live --stats: exit status"
grep -Eq '^live: 50 messages, .* max [0-9.]+(ns|us|ms)$' "$WORK/live" ||
	fail "live latency: $(cat "$WORK/live")"
exit 0
