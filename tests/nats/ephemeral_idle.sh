#!/bin/sh
# An ephemeral consumer (stream = S, no durable) the server deletes while
# back-pressure holds the nats source: nats-server 2.9 deletes an
# ephemeral pull consumer that had no pull request, acknowledgement or
# delivery for its inactive threshold (5 s and up to 1 s of jitter), and
# the source sends no pull request while its queue is full (room(): a
# lossless ring held full by a stopped reader, queue = 16). The reader
# reads on: the source must read the stream on, from where it stopped
# (a consumer made again), and publish every message of it once. Its
# pull requests otherwise go nowhere (the server answers them with
# nothing, not even a 503) and it publishes nothing more, with no error.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

consumers() {
	monitor ni '/jsz?consumers=1' | tr -d ' \n' |
		sed -n 's/.*"consumer_count":\([0-9]*\).*/\1/p'
}

upstream i
grep -v "^durable = " "$WORK/id.conf" >"$WORK/ie.conf"
echo "queue = 16" >>"$WORK/ie.conf"
start ia -c "$WORK/ie.conf"
wait_log ia "channel id: in [0-9]* out [1-9]"
stalled_reader id r
wait_log ia "channel id: .* backpressure 1 "
[ "$(consumers)" = 1 ] || fail "consumers while held: '$(consumers)'"
upstream_done i
i=0
until [ "$(consumers)" = 0 ]; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "the idle ephemeral consumer is still there after 30 s"
	sleep 0.1
done
held=$(stats ia id out)
echo "the ephemeral consumer deleted by the server after $((i / 10)) s more, $held published"
kill -CONT "$RD"
i=0
until kill -USR1 "$PID" 2>/dev/null && sleep 0.1 &&
	[ "$(stats ia id out)" -eq "$PUB" ] 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 150 ] || fail "ia: $(counters ia id); $(grep 'reading from NATS' "$WORK/ia.log" | tail -n 1)"
done
stop "$PID"
wait "$RD" || fail "reader r: $(cat "$WORK/r.err")"
exactly_once i r
# made again from the held message (published already: a duplicate,
# dropped), the notice counted as an error
grep -q "channel id: reading from NATS: stream i: the consumer is gone (deleted): made again" "$WORK/ia.log" ||
	fail "no consumer gone logged: $(grep 'reading from NATS' "$WORK/ia.log" | tail -n 1)"
grep "channel id: source nats: " "$WORK/ia.log" | tail -n 1 |
	grep -q ": duplicate 1 session 0 malformed 0 errors 1 resets 1 " ||
	fail "$(grep "source nats: " "$WORK/ia.log" | tail -n 1)"
exit 0
