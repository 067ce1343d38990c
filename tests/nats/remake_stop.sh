#!/bin/sh
# A stop while the reader makes the consumer again after a delivery gap
# does not wait out the client library's 5 s request timeout: each
# request of the remake waits 2 s at most, and none is made once the
# stop began (mdpub.conf(5), source nats). tests/nats/fake_js.py binds
# durable D as it is (deliver = all, nothing delivered), answers the
# first pull with a message of consumer sequence 7 (a gap: 1 expected)
# and leaves the remake's consumer delete unanswered, as a server gone
# or stalled would; SIGTERM 0.1 s after the delete was sent: mdpub exits
# 0 in less than 4 s, having made no request after the delete. Before
# the fix: 5 s (the delete's timeout), then a consumer info request.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

CI='{"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S","name":"D","config":{"durable_name":"D","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536,"filter_subject":"mdbus.X.>"},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0}'
SI='{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"S","subjects":["mdbus.X.>"]},"state":{"messages":60,"first_seq":1,"last_seq":60}}'

fake_js g "$CI" "$SI" 0 gap
printf '%s\n' "[channel X]" "source = nats" "url = $FURL" \
	"subject = mdbus.X.>" "stream = S" "durable = D" >"$WORK/g.conf"
start g -c "$WORK/g.conf"
wait_log g "channel X: publishing from"
i=0
until grep -q 'CONSUMER.DELETE.S.D' "$WORK/g.reads.api" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 1200 ] || fail "no consumer delete in 60 s: $(cat "$WORK/g.reads.api"; cat "$WORK/g.log")"
	sleep 0.05
done
sleep 0.1
kill -TERM "$PID"
wait "$PID" || fail "mdpub exited $? after SIGTERM: $(cat "$WORK/g.log")"
ms=$(stop_ms g)
after=$(sed -n '/CONSUMER.DELETE.S.D/,$p' "$WORK/g.reads.api" | sed 1d | tr '\n' ' ')
[ "$ms" -lt 4000 ] || fail "stop during the remake in $ms ms (requests after the delete: $after)"
[ -z "$after" ] || fail "requests after the delete: $after (stop in $ms ms)"
echo "SIGTERM during the remake's delete: stop in $ms ms, no request after it"
exit 0
