#!/bin/sh
# A JetStream stream read without a durable (stream = S, no durable):
# mdpub's nats source makes an ephemeral pull consumer, learns the name
# the server gave it for its pull requests (daemons/nats_pull.c) and
# publishes every message of the stream once; stopped, the consumer is
# gone from the server.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

upstream e
upstream_done e
grep -v "^durable = " "$WORK/ed.conf" >"$WORK/ee.conf"
start ea -c "$WORK/ee.conf"
wait_log ea "channel ed: publishing from"
published ea ed
consumers=$(monitor ne '/jsz?consumers=1' | tr -d ' \n' |
	sed -n 's/.*"consumer_count":\([0-9]*\).*/\1/p')
[ "$consumers" = 1 ] || fail "consumers while reading: '$consumers'"
stop "$PID"
[ "$(stats ea ed out)" -eq "$PUB" ] && [ "$(stats ea ed gaps)" -eq 0 ] ||
	fail "ea: $(counters ea ed)"
grep "channel ed: source nats: " "$WORK/ea.log" | tail -n 1 |
	grep -q " duplicate 0 .* errors 0 resets 0 " ||
	fail "$(grep "source nats: " "$WORK/ea.log" | tail -n 1)"
i=0
until [ "$(monitor ne '/jsz?consumers=1' | tr -d ' \n' |
	sed -n 's/.*"consumer_count":\([0-9]*\).*/\1/p')" = 0 ]; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "the ephemeral consumer outlived mdpub's stop"
	sleep 0.1
done
exit 0
