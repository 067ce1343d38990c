#!/bin/sh
# A consumer info whose last delivery or acknowledgement floor is at
# stream sequence 2^64 - 1 (a broken or hostile server: no stream reaches
# it) is refused: the sequence after it would wrap to 0, which mdpub
# would take for "as the deliver policy says" and read from where the
# server never said (mdpub.conf(5), source nats). tests/nats/fake_js.py
# answers; in each case mdpub does not start, its error naming the value,
# and sends no request that makes or deletes a consumer beyond the ones
# named:
#  1. make: durable D not there ("consumer not found"), deliver = new:
#     the create answered with its last delivery at 2^64 - 1 (before:
#     "from stream sequence 0" logged, the durable bound as it is); one
#     create, no delete;
#  2. resume: D there, made from stream sequence 5, every delivery
#     acknowledged, its last at 2^64 - 1 (before: deleted and made again
#     from stream sequence 5, all of it delivered again); none;
#  3. resume: D there, deliver = new, 3 deliveries not acknowledged, its
#     acknowledgement floor at 2^64 - 1 (before: taken for none
#     acknowledged, the stream counted back); none.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

MAX=18446744073709551615
SI='{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"S","subjects":["mdbus.X.>"]},"state":{"messages":60,"first_seq":1,"last_seq":60}}'

# ci POLICY OPT_START DELIVERED FLOOR PENDING: a consumer info of D
ci() {
	printf '{"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S","name":"D","config":{"durable_name":"D","deliver_policy":"%s","opt_start_seq":%s,"ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536,"filter_subject":"mdbus.X.>"},"delivered":{"consumer_seq":7,"stream_seq":%s},"ack_floor":{"consumer_seq":4,"stream_seq":%s},"num_ack_pending":%s,"num_redelivered":0,"num_waiting":0,"num_pending":0}' \
		"$@"
}

# refused NAME WHAT MADE CI [MODE]: mdpub with durable D, deliver = new,
# against fake_js.py answering CI (MODE: create, see fake_js.py) exits
# non-zero in at most 30 s, logging the refusal of WHAT, after MADE
# creates or deletes
refused() {
	fake_js "$1" "$4" "$SI" 0 ${5:-}
	printf '%s\n' "[channel X]" "source = nats" "url = $FURL" \
		"subject = mdbus.X.>" "stream = S" "durable = D" "deliver = new" \
		>"$WORK/$1.conf"
	start "$1" -c "$WORK/$1.conf"
	i=0
	while kill -0 "$PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$1: mdpub still running after 30 s: $(grep 'channel X' "$WORK/$1.log")"
		sleep 0.05
	done
	wait "$PID" && fail "$1: mdpub started: $(grep 'channel X' "$WORK/$1.log")"
	grep -q -F "stream S, consumer D: the server says its $2 is at stream sequence $MAX, which no stream reaches: answer refused" \
		"$WORK/$1.log" || fail "$1: not refused: $(grep 'channel X' "$WORK/$1.log")"
	grep -q "from stream sequence 0" "$WORK/$1.log" &&
		fail "$1: $(grep 'from stream sequence 0' "$WORK/$1.log")"
	made=$(grep -c 'CREATE\|DELETE' "$WORK/$1.reads.api")
	[ "$made" -eq "$3" ] ||
		fail "$1: $made creates or deletes, not $3: $(cat "$WORK/$1.reads.api")"
	echo "$1: refused, $made creates or deletes: $(grep -o 'the server says.*' "$WORK/$1.log")"
}

refused make "last delivery" 1 "$(ci new 0 $MAX 0 0)" create
refused remade "last delivery" 0 "$(ci by_start_sequence 5 $MAX $MAX 0)"
refused floor "acknowledgement floor" 0 "$(ci new 0 60 $MAX 3)"
exit 0
