#!/bin/sh
# A durable consumer that starts where the deliver policy says (deliver =
# new or last, mdpub.conf(5), source nats) and on which nothing was ever
# acknowledged: a first run of mdpub, its FEED_UP held by back-pressure on
# a ring held full, takes deliveries during the upstream feed and
# acknowledges none (acknowledgement floor 0); stopped, then started again
# with the ring read: the second run publishes every message from the
# first the durable delivered (the stream sequence the server's consumer
# info gives: its last delivery less its deliveries not acknowledged, one
# subject in the stream), each once and in order, then a third run has
# nothing left. With
#  1. deliver = new, the durable made by mdpub;
#  2. deliver = last, the durable made before by another client and
#     bound by mdpub.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

COUNT=6000         # 6 s of feed: the first run starts during it
PUB=$((COUNT + 2))

# case C: the three runs of channel Cd (conf $WORK/Cd.conf) from stream C
# during its feed (upstream C started)
case_runs() {
	held_from_start "$1" "$1r"
	RD1=$RD
	start "$1a" -c "$WORK/$1d.conf"
	wait_log "$1a" "channel $1d: in 0 out 0 .* backpressure 1 "
	i=0
	until [ "$(consumer "$1" pending)" -gt 0 ]; do
		i=$((i + 1)); [ $i -le 400 ] || fail "consumer $1: nothing delivered"
		sleep 0.05
	done
	stop "$PID"
	[ "$(stats "$1a" "$1d" in)" -eq 0 ] || fail "$1a: $(counters "$1a" "$1d")"
	floor=$(consumer "$1" floor)
	pending=$(consumer "$1" pending)
	delivered=$(consumer "$1" delivered)
	first=$((delivered - pending + 1))
	[ "$floor" -eq 0 ] && [ "$first" -gt 1 ] && [ "$delivered" -lt "$PUB" ] ||
		fail "consumer $1 after the first run: floor $floor, $pending of the deliveries up to $delivered not acknowledged: not mid-feed"
	echo "first run: in 0, consumer $1 delivered $first..$delivered, floor 0"
	# the second run, read from its first message (r2) and by the reader
	# that held the ring
	stalled_reader "$1d" "$1r2"
	R2=$RD
	kill -CONT "$R2" "$RD1"
	start "$1b" -c "$WORK/$1d.conf"
	wait_log "$1b" "channel $1d: publishing from"
	upstream_done "$1"
	i=0
	until [ "$(consumer "$1" left)" -eq 0 ] && [ "$(consumer "$1" pending)" -eq 0 ] &&
		[ "$(consumer "$1" delivered)" -eq "$PUB" ]; do
		i=$((i + 1)); [ $i -le 600 ] || fail "consumer $1 not done: $(cat "$WORK/$1.jsz")"
		sleep 0.05
	done
	stop "$PID"
	wait "$R2" || fail "reader $1r2: $(cat "$WORK/$1r2.err")"
	out2=$(stats "$1b" "$1d" out)
	want=$((PUB - first + 1))
	[ "$out2" -eq "$want" ] && [ "$(stats "$1b" "$1d" dropped)" -eq 0 ] ||
		fail "$1b: out $out2, not the $want of stream sequences $first..$PUB: $(counters "$1b" "$1d")"
	grep "channel $1d: source nats: " "$WORK/$1b.log" | tail -n 1 |
		grep -q ": duplicate 0 session 0 malformed 0" ||
		fail "$1b: $(grep 'source nats' "$WORK/$1b.log" | tail -n 1)"
	echo "second run: out $out2, stream sequences $first..$PUB"
	exactly_once "$1" "$1r2"
	start "$1c" -c "$WORK/$1d.conf"
	wait_log "$1c" "channel $1d: publishing from"
	stop "$PID"
	[ "$(stats "$1c" "$1d" in)" -eq 0 ] || fail "$1c: $(counters "$1c" "$1d")"
}

# 1. deliver = new: mdpub makes the durable during the feed
upstream v1
echo "deliver = new" >>"$WORK/v1d.conf"
case_runs v1

# 2. deliver = last: the durable made during the feed by another client,
# mdpub binds it
upstream v2
echo "deliver = last" >>"$WORK/v2d.conf"
RAW_PORT=$(nats_port nv2)
js='{"stream_name":"v2","config":{"durable_name":"v2","deliver_policy":"last","ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536,"filter_subject":"mdbus.v2.>"}}'
printf 'PUB $JS.API.CONSUMER.DURABLE.CREATE.v2.v2 _INBOX.dv2 %d\r\n%s\r\n' ${#js} "$js" >"$WORK/mk.proto"
raw_pub "$WORK/mk.proto"
case_runs v2
exit 0
