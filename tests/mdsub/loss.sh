#!/bin/sh
# Loss is reported exactly: a start before the oldest retained message,
# and a registered reader overrun while stopped (SIGSTOP).
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

# a 64-slot ring holding messages 36..99
pub -g 16:4 small 100
status 0 "$MDSUB" -o raw --from 0 -u small >"$WORK/out" 2>"$WORK/err"
grep -qx 'mdsub: small: lost 36 messages before seq 36' "$WORK/err" ||
	fail "loss notice: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/out")" -eq 64 ] || fail "64 messages expected"
head -n 1 "$WORK/out" | grep -q '^small 36 [0-9]* 2 64 36 ' ||
	fail "first message after the gap: $(head -n 1 "$WORK/out")"
sed -n 2p "$WORK/out" | grep -q '^small 37 [0-9]* 3 56 0 ' ||
	fail "the loss is counted once"
status 0 "$MDSUB" -q --summary --from 0 -u small 2>"$WORK/sum"
grep -q '^small: 64 messages, .* lost 36 in 1 gaps,' "$WORK/sum" ||
	fail "--summary loss: $(cat "$WORK/sum")"

# overrun: the reader waits at 100, is stopped, 200 more are published
"$MDSUB" -o raw -n 64 small >"$WORK/live" 2>"$WORK/liveerr" &
reader=$!
wait_registered small 1
kill -STOP $reader
pub -g 16:4 small 200
kill -CONT $reader
wait $reader || fail "overrun reader exit status"
grep -qx 'mdsub: small: lost 136 messages before seq 236' "$WORK/liveerr" ||
	fail "overrun notice: $(cat "$WORK/liveerr")"
[ "$(wc -l <"$WORK/live")" -eq 64 ] || fail "overrun: 64 messages expected"

# lossless: a stopped reader holds the publisher back until it is evicted
# (0.3 s); resumed, it says so, registers again and counts what it lost
pub -l -g 16:4 ll 0
"$MDSUB" -o raw -n 64 ll >"$WORK/ev" 2>"$WORK/everr" &
reader=$!
wait_registered ll 1
kill -STOP $reader
pub -l -g 16:4 -e 0.3 ll 150
kill -CONT $reader
wait $reader || fail "evicted reader exit status"
printf '%s\n' 'mdsub: ll: consumer entry taken away (evicted, reclaimed as dead, freed by a writer of the consumer table, or the table was cut); rejoining at seq 0' \
	'mdsub: ll: lost 86 messages before seq 86' >"$WORK/everr.want"
grep -v ' stopped [0-9.]* s ago; waiting for it$' "$WORK/everr" >"$WORK/everr.got"
same "$WORK/everr.want" "$WORK/everr.got" "eviction notices"
[ "$(wc -l <"$WORK/ev")" -eq 64 ] || fail "evicted reader: 64 messages expected"
exit 0
