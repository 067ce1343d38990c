#!/bin/sh
# A durable consumer with deliver = new whose deliveries are all
# unacknowledged does not say where they began: mdpub counts them back in
# the stream, one message read a request (mdpub.conf(5), source nats). A
# server that lies (tests/nats/fake_js.py: a stream and a last delivery
# at 2^63, every read "no message found") or answers slowly must not hold
# mdpub's start for ever: it gives up after 3 s, logged, binds the
# durable as it is and publishes; a SIGTERM sent during the count-back
# stops it in at most 10 s (a systemd stop of the unit mdbus installs
# may take 30 s: conf/mdpub.service.in).
#  1. every read answered at once: a start in at most 10 s, with the
#     warning; then a stop in at most 10 s;
#  2. every read answered after 2 s: the same;
#  3. SIGTERM 1 s into the count-back: mdpub exits 0 in at most 10 s.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

BIG=9223372036854775808
CI='{"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S","name":"D","config":{"durable_name":"D","deliver_policy":"new","ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536,"filter_subject":"mdbus.X.>"},"delivered":{"consumer_seq":5,"stream_seq":'$BIG'},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":5,"num_redelivered":0,"num_waiting":0,"num_pending":0}'
SI='{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"S","subjects":["mdbus.X.>"]},"state":{"messages":'$BIG',"first_seq":1,"last_seq":'$BIG'}}'
WARN="channel X: consumer D: where its 5 deliveries not acknowledged began is not known (the stream not readable in 3 s): bound as it is"

# fake NAME [DELAY]: fake_js.py with the consumer and stream above, the
# reads answered after DELAY s; $FURL its URL, $WORK/NAME.reads its count
fake() {
	fake_js "$1" "$CI" "$SI" "${2:-0}"
	printf '%s\n' "[channel X]" "source = nats" "url = $FURL" \
		"subject = mdbus.X.>" "stream = S" "durable = D" "deliver = new" \
		>"$WORK/$1.conf"
}

# exits_within NAME SEC: mdpub $PID exits 0 within SEC s
exits_within() {
	i=0
	while kill -0 "$PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $(($2 * 20)) ] || fail "$1: mdpub still running $2 s after SIGTERM"
		sleep 0.05
	done
	wait "$PID" || fail "$1: mdpub exited $?"
}

# starts NAME DELAY: with reads answered after DELAY s, mdpub publishes
# within 10 s of its start, the warning logged once, and stops at once
starts() {
	fake "$1" "$2"
	start "$1" -c "$WORK/$1.conf"
	wait_log "$1" "channel X: publishing from" 10
	[ "$(grep -c -F "$WARN" "$WORK/$1.log")" -eq 1 ] ||
		fail "$1: $(grep 'consumer D' "$WORK/$1.log")"
	echo "$1: published after $(cat "$WORK/$1.reads") reads answered in 3 s"
	kill -TERM "$PID"
	exits_within "$1" 10
}

starts fast 0
starts slow 2

# 3. a stop while the count-back runs
fake stop 0
start stop -c "$WORK/stop.conf"
i=0
until [ -s "$WORK/stop.reads" ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "stop: no read in 60 s: $(cat "$WORK/stop.log")"
	sleep 0.05
done
sleep 1
kill -TERM "$PID"
exits_within stop 10
grep -q -F "$WARN" "$WORK/stop.log" || fail "stop: $(cat "$WORK/stop.log")"
echo "stop: SIGTERM during the count-back, exit 0 after $(cat "$WORK/stop.reads") reads"
exit 0
