# ack_helpers.sh - sourced by the tests of the nats source's JetStream
# acknowledgements (tests/nats/ack_*.sh) after helpers.sh: an upstream
# channel forwarded into a stream, a receiving channel Cd of mdpub reading
# it through a durable consumer, and the checks that each upstream message
# is in Cd's ring once.
COUNT=3000         # upstream data messages: 3 s of feed
PUB=$((COUNT + 2)) # in the stream: with the upstream FEED_UP and FEED_DOWN

# upstream C: nats-server nC, mdpub feeding channel C (synthetic,
# $COUNT messages), its reader dumping into $WORK/C.out (pid $RS), and
# mdsub forwarding C into stream C (pid $FWD); $URL the server's. The
# channel's heartbeat is 10 s, not 1: a loaded machine that stops mdpub
# for a second (a 2.5 s SIGSTOP did) would have it publish an idle
# heartbeat message, one more in the stream than $PUB.
upstream() {
	nats_start "n$1" -js -m -1
	URL=nats://127.0.0.1:$(nats_port "n$1")
	channel "$1.conf" "$1" source=synthetic rate=1000 count=$COUNT \
		mode=lossless heartbeat=10
	start "$1" -c "$WORK/$1.conf"
	SP=$PID
	wait_log "$1" "channel $1: publishing from"
	"$READER" --until down --dump --timeout 60 "$1" >"$WORK/$1.out" &
	RS=$!
	"$MDSUB" --from oldest --forward "$URL" --nats-stream "$1" "$1" \
		>"$WORK/$1.fwd" 2>&1 &
	FWD=$!
	PIDS="$PIDS $FWD"
	i=0
	until grep -q "stream $1 created" "$WORK/$1.fwd" 2>/dev/null; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "no stream: $(cat "$WORK/$1.fwd")"
		sleep 0.05
	done
	printf '[global]\nstats_interval = 0.1\n[channel %sd]\n' "$1" >"$WORK/$1d.conf"
	printf '%s\n' "source = nats" "url = $URL" "subject = mdbus.$1.>" \
		"stream = $1" "durable = $1" "mode = lossless" "slot_size = 256" \
		"slots_per_block = 64" "block_count = 2" "heartbeat = 10" \
		>>"$WORK/$1d.conf"
}

# upstream_done C: the feed of C ended, all of it in stream C, the
# forwarder stopped
upstream_done() {
	wait "$RS" || fail "reader of $1"
	wait "$SP" || fail "mdpub $1"
	i=0
	until monitor "n$1" /jsz | tr -d ' \n' | grep -q "\"messages\":$PUB,"; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "stream $1: $(monitor "n$1" /jsz)"
		sleep 0.05
	done
	kill -TERM "$FWD"
	wait "$FWD" || fail "mdsub --forward: $(cat "$WORK/$1.fwd")"
}

# durable_again C: durable C of stream C deleted and made again
# (deliver = all) by another client: its next delivery, the first of its
# sequence, is a gap for the source reading it
durable_again() {
	RAW_PORT=$(nats_port "n$1")
	printf 'PUB $JS.API.CONSUMER.DELETE.%s.%s _INBOX.rv%s 0\r\n\r\n' \
		"$1" "$1" "$1" >"$WORK/del.proto"
	raw_pub "$WORK/del.proto"
	js='{"stream_name":"'$1'","config":{"durable_name":"'$1'","deliver_policy":"all","ack_policy":"all","filter_subject":"mdbus.'$1'.>"}}'
	printf 'PUB $JS.API.CONSUMER.DURABLE.CREATE.%s.%s _INBOX.rv%s %d\r\n%s\r\n' \
		"$1" "$1" "$1" ${#js} "$js" >"$WORK/mk.proto"
	raw_pub "$WORK/mk.proto"
}

# published NAME CHANNEL: waits until mdpub NAME ($PID) published the
# $PUB messages of the stream (its counters on SIGUSR1), 60 s at most
published() {
	i=0
	until kill -USR1 "$PID" 2>/dev/null && sleep 0.1 &&
		[ "$(stats "$1" "$2" out)" -eq "$PUB" ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$1: $(counters "$1" "$2")"
	done
}

# exactly_once C OUT...: the quotes and trades of the dumps OUT... of
# channel Cd, in that order, are the last ones of the upstream, each
# once: nothing lost, nothing twice
exactly_once() {
	c=$1
	shift
	for o in "$@"; do
		grep -q "^messages [0-9]* .* lost 0\$" "$WORK/$o.out" ||
			fail "reader $o: $(tail -n 2 "$WORK/$o.out")"
		grep '^[QT] ' "$WORK/$o.out"
	done >"$WORK/$c.got"
	grep '^[QT] ' "$WORK/$c.out" >"$WORK/$c.want"
	n=$(wc -l <"$WORK/$c.got")
	[ "$n" -gt 128 ] || fail "$c: only $n quotes and trades read"
	tail -n "$n" "$WORK/$c.want" | cmp -s - "$WORK/$c.got" ||
		fail "$c: the $n quotes and trades read are not the last $n of the upstream: $(tail -n "$n" "$WORK/$c.want" | diff - "$WORK/$c.got" | head -n 5)"
	echo "$c: $n quotes and trades read, the last of the upstream's, each once"
}

# counters NAME CHANNEL: the channel's last counter line in NAME.log
counters() {
	grep "channel $2: in " "$WORK/$1.log" | tail -n 1
}

# held_full C READER: mdpub Ca (pid $PID) feeding channel Cd from stream
# C until the ring is full behind the stalled reader READER (pid $RD)
# and back-pressure holds a message
held_full() {
	start "$1a" -c "$WORK/$1d.conf"
	wait_log "$1a" "channel $1d: in [0-9]* out [1-9]"
	stalled_reader "$1d" "$2"
	wait_log "$1a" "channel $1d: .* backpressure 1 "
}

# consumer C FIELD: the durable C of stream C on nats-server nC, as its
# monitoring port shows it: FIELD delivered (its last delivery's stream
# sequence), pending (deliveries not acknowledged), floor (the stream
# sequence of its acknowledgement floor) or left (messages not delivered)
consumer() {
	monitor "n$1" "/jsz?consumers=true" | tr -d ' \n' >"$WORK/$1.jsz"
	case $2 in
	delivered) re='"delivered":{"consumer_seq":[0-9]*,"stream_seq":\([0-9]*\)' ;;
	pending) re='"num_ack_pending":\([0-9]*\)' ;;
	floor) re='"ack_floor":{"consumer_seq":[0-9]*,"stream_seq":\([0-9]*\)' ;;
	left) re='"num_pending":\([0-9]*\)' ;;
	esac
	v=$(sed -n "s/.*$re.*/\\1/p" "$WORK/$1.jsz")
	[ -n "$v" ] || fail "consumer $1: no $2 in $(cat "$WORK/$1.jsz")"
	echo "$v"
}

# consumer_done C: waits until the durable C has delivered every message
# of stream C and has every delivery acknowledged, 60 s at most
consumer_done() {
	i=0
	until [ "$(consumer "$1" left)" -eq 0 ] && [ "$(consumer "$1" pending)" -eq 0 ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "consumer $1 not done: $(cat "$WORK/$1.jsz")"
		sleep 0.05
	done
}

# held_from_start C READER: channel Cd's ring held full by the stalled
# reader READER (pid $RD) of a synthetic run of Cd, stopped: the next
# mdpub of Cd starts with its FEED_UP held by back-pressure, and so
# publishes and acknowledges nothing
held_from_start() {
	printf '[global]\nstats_interval = 0.1\n[channel %sd]\n' "$1" >"$WORK/$1x.conf"
	printf '%s\n' "source = synthetic" "rate = 1000" "mode = lossless" \
		"slot_size = 256" "slots_per_block = 64" "block_count = 2" \
		"heartbeat = 10" >>"$WORK/$1x.conf"
	start "$1x" -c "$WORK/$1x.conf"
	wait_log "$1x" "channel $1d: in [0-9]* out [1-9]"
	stalled_reader "$1d" "$2"
	wait_log "$1x" "channel $1d: .* backpressure 1 "
	stop "$PID"
}

# what mdpub logs when it gives up acknowledgements kept for a
# reconnection at its stop (flush_acks())
LOST="channel \([a-z0-9]*\): NATS unreachable at stop for 5 s: acknowledgements made while it was away are lost, the next start publishes those messages again"

# away C: (tests/nats/ack_down.sh, ack_back.sh) mdpub Ca ($A) has the
# whole of stream C fetched, held back by the stopped reader Cr ($RD);
# nats-server nC killed (its port in $port), the reader reads on, Ca
# publishes all: $held of them before
away() {
	upstream "$1"
	held_full "$1" "$1r"
	A=$PID
	upstream_done "$1"
	i=0
	until [ "$(consumer "$1" delivered)" -eq "$PUB" ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "consumer $1: not all delivered: $(cat "$WORK/$1.jsz")"
		sleep 0.05
	done
	held=$(stats "$1a" "$1d" out)
	# their acknowledgement reached the server (a CI run killed it with
	# the last still in libnats's buffer: the next run took all 3002)
	i=0
	until [ "$(consumer "$1" floor)" -eq "$held" ] 2>/dev/null; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "consumer $1: floor not $held: $(cat "$WORK/$1.jsz")"
		sleep 0.05
	done
	port=$(nats_port "n$1")
	nats_kill "n$1"
	kill -CONT "$RD"
	i=0
	until kill -USR1 "$A" && sleep 0.1 && [ "$(stats "$1a" "$1d" out)" -eq "$PUB" ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$1a published $(stats "$1a" "$1d" out), not $PUB"
	done
	echo "first run: $held published before nats-server was killed, $PUB in all"
}

# second C WANT: nats-server nC is back; mdpub Cb with the same durable
# publishes WANT messages (in), and the durable has no more
second() {
	start "$1b" -c "$WORK/$1d.conf"
	wait_log "$1b" "channel $1d: publishing from"
	consumer_done "$1"
	sleep 0.5
	stop "$PID"
	[ "$(stats "$1b" "$1d" in)" -eq "$2" ] ||
		fail "$1b: in $(stats "$1b" "$1d" in), not $2: $(counters "$1b" "$1d"); $(grep -h "consumer\|gap in the\|reading from NATS" "$WORK/$1a.log" "$WORK/$1b.log")"
	echo "second run: in $2"
}

# js_filled C N: nats-server nC with stream C (js_server) holding N
# messages of 1 byte (malformed for mdpub)
js_filled() {
	js_server "n$1" "$1" file
	i=0
	while [ $i -lt "$2" ]; do printf 'PUB mdbus.%s.x 1\r\nx\r\n' "$1"; i=$((i + 1)); done \
		>"$WORK/fill.proto"
	raw_pub "$WORK/fill.proto"
	stream_has "n$1" "\"messages\":$2,"
}

# spy_ready: waits until the spy started in the background (a client of
# nats-server $PORT) has subscribed: it made $WORK/spy.ready
spy_ready() {
	i=0
	until [ -e "$WORK/spy.ready" ]; do
		i=$((i + 1)); [ $i -le 600 ] || fail "spy not subscribed"
		sleep 0.05
	done
}

# pull_conf C: $WORK/C.conf, channel C reading stream C with durable C
# from nats-server $PORT, its counters logged every 0.1 s
pull_conf() {
	printf '[global]\nstats_interval = 0.1\n[channel %s]\n' "$1" >"$WORK/$1.conf"
	printf '%s\n' "source = nats" "url = nats://127.0.0.1:$PORT" \
		"subject = mdbus.$1.>" "stream = $1" "durable = $1" >>"$WORK/$1.conf"
}

# all_taken NAME C N: waits until mdpub NAME took and acknowledged every
# message of stream C and counted at least N malformed, 60 s at most
all_taken() {
	i=0
	until [ "$(consumer "$2" pending)" -eq 0 ] && [ "$(consumer "$2" left)" -eq 0 ] &&
		[ "$(stats "$1" "$2" malformed)" -ge "$3" ] 2>/dev/null; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "$1: $(counters "$1" "$2"); consumer $(cat "$WORK/$2.jsz")"
		sleep 0.05
	done
}
