#!/bin/sh
# A durable that is there is never made anew because its consumer info
# could not be read: with deliver = new or last mdpub makes a durable
# that is not there (mdpub.conf(5), source nats) and at once again after
# what the server says is its last delivery; nats-server answers the
# create of a durable that exists with that configuration with the
# durable as it is, so a consumer info request that failed for any other
# reason than "consumer not found" (timed out, JetStream unavailable for
# a moment) must not lead there: the durable's deliveries not
# acknowledged would be dropped by the remake, never published.
# tests/nats/fake_js.py leaves the consumer info request unanswered
# (libnats's 5 s timeout) and answers a create with the durable D as it
# is (delivered up to stream sequence 10, 10 not acknowledged): mdpub
# fails to start, naming the consumer, and sends neither a create nor a
# delete.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

CI='{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"S","name":"D","config":{"durable_name":"D","deliver_policy":"new","ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536,"filter_subject":"mdbus.X.>"},"delivered":{"consumer_seq":10,"stream_seq":10},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":10,"num_redelivered":0,"num_waiting":0,"num_pending":50}'
SI='{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"S","subjects":["mdbus.X.>"]},"state":{"messages":60,"first_seq":1,"last_seq":60}}'

fake_js f "$CI" "$SI" 0 noinfo
printf '%s\n' "[channel X]" "source = nats" \
	"url = $FURL" "subject = mdbus.X.>" \
	"stream = S" "durable = D" "deliver = new" >"$WORK/x.conf"
start x -c "$WORK/x.conf"
i=0
while kill -0 "$PID" 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 1200 ] || fail "mdpub still running after 60 s"
	sleep 0.05
done
wait "$PID" && fail "mdpub started: $(cat "$WORK/x.log")"
grep -q "channel X: stream S, consumer D: " "$WORK/x.log" ||
	fail "no error naming consumer D: $(cat "$WORK/x.log")"
made=$(grep -c 'CREATE\|DELETE' "$WORK/f.reads.api")
[ "$made" -eq 0 ] || fail "$made creates or deletes: $(cat "$WORK/f.reads.api")"
echo "consumer info unanswered: $(grep -c . "$WORK/f.reads.api") JetStream requests, none a create or delete; $(grep 'consumer D' "$WORK/x.log")"
exit 0
