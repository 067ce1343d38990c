#!/bin/sh
# JetStream acknowledgements due while the NATS connection is down at a
# stop (mdpub.conf(5), source nats): mdpub's nats source publishes what
# it had fetched while nats-server is away, and the acknowledgements
# wait in the client library for the reconnection; stopped then, mdpub
# waits for it 5 s at most. nats-server is killed while a ring of 128
# held full by a stopped reader holds back what mdpub fetched (the whole
# stream), the reader reads on and mdpub publishes it all, then mdpub is
# stopped, nats-server started again on its port and store, and mdpub
# started again with the same durable:
#  1. nats-server back 3 s after the stop (more than the 2 s the stop's
#     flush waits for an answer): the next run has nothing to publish,
#     every upstream message is in the ring once;
#  2. nats-server back only after mdpub gave up (a limitation): mdpub
#     says so, and the next run publishes again exactly the messages
#     published while nats-server was away.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

LOST="channel \([a-z0-9]*\): NATS unreachable at stop for 5 s: acknowledgements made while it was away are lost, the next start publishes those messages again"

# away C: mdpub Ca ($A) has the whole of stream C fetched, held back by
# the stopped reader Cr ($RD); nats-server nC killed (its port in
# $port), the reader reads on, Ca publishes all: $held of them before
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
	i=0
	until [ "$(consumer "$1" left)" -eq 0 ] && [ "$(consumer "$1" pending)" -eq 0 ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "consumer $1 not done: $(cat "$WORK/$1.jsz")"
		sleep 0.05
	done
	sleep 0.5
	stop "$PID"
	[ "$(stats "$1b" "$1d" in)" -eq "$2" ] ||
		fail "$1b: in $(stats "$1b" "$1d" in), not $2: $(counters "$1b" "$1d")"
	echo "second run: in $2"
}

# 1. back 3 s after the stop
away w1
kill -TERM "$A"
sleep 3
nats_start nw1 -js -m -1 -p "$port"
wait "$A" || fail "mdpub exited $? after SIGTERM"
wait "$RD" || fail "reader w1r: $(cat "$WORK/w1r.err")"
grep "channel w1d: source nats: " "$WORK/w1a.log" | tail -n 1 |
	grep -q ": duplicate 0 session 0 malformed 0 errors [1-9]" ||
	fail "w1a: $(grep 'source nats' "$WORK/w1a.log" | tail -n 1)"
grep -q "$LOST" "$WORK/w1a.log" && fail "w1a: $(grep "$LOST" "$WORK/w1a.log")"
second w1 0
exactly_once w1 w1r

# 2. back after mdpub gave up: what it published while nats-server was
# away is published again
away w2
stop "$A"
wait "$RD" || fail "reader w2r: $(cat "$WORK/w2r.err")"
[ "$(grep -c "$LOST" "$WORK/w2a.log")" -eq 1 ] ||
	fail "w2a: not once: $LOST"
nats_start nw2 -js -m -1 -p "$port"
second w2 $((PUB - held))
exit 0
