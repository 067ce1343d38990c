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
#     bound by mdpub;
#  3. deliver = new, the durable made by another client that also took
#     the first run's deliveries (a pull on a connection of its own) and
#     acknowledged none: its policy does not say where they began, mdpub
#     counts them back from the last in the stream;
#  4. as 3, the durable made with no filter subject (it takes every
#     subject of the stream, as NATS has it).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

COUNT=6000         # 6 s of feed: the first run starts during it
PUB=$((COUNT + 2))

# make_durable C POLICY [nofilter]: the durable C of stream C made on
# nats-server nC by another client, deliver = POLICY, as mdpub would make
# it otherwise (nofilter: with no filter subject)
make_durable() {
	RAW_PORT=$(nats_port "n$1")
	filter=',"filter_subject":"mdbus.'$1'.>"'
	[ "${3:-}" = nofilter ] && filter=
	js='{"stream_name":"'$1'","config":{"durable_name":"'$1'","deliver_policy":"'$2'","ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536'$filter'}}'
	printf 'PUB $JS.API.CONSUMER.DURABLE.CREATE.%s.%s _INBOX.mk %d\r\n%s\r\n' \
		"$1" "$1" ${#js} "$js" >"$WORK/mk.proto"
	raw_pub "$WORK/mk.proto"
}

# stored_some C: waits until stream C on nats-server nC holds 100
# messages (the forwarder publishes once it said the stream is made): a
# durable made then with deliver = new or last starts past the first
stored_some() {
	i=0
	until [ "$(monitor "n$1" /jsz | tr -d ' \n' |
		sed -n 's/.*"messages":\([0-9]*\),.*/\1/p')" -ge 100 ] 2>/dev/null; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "stream $1: not 100 messages: $(monitor "n$1" /jsz)"
		sleep 0.05
	done
}

# raw_fetch C N: N messages of the durable C of stream C pulled on a
# connection of its own to nats-server nC, not acknowledged
raw_fetch() {
	bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		read -r info <&3
		req="{\"batch\":$3,\"expires\":5000000000}"
		printf "CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nSUB _INBOX.rf 1\r\n" >&3
		printf "PUB \$JS.API.CONSUMER.MSG.NEXT.%s.%s _INBOX.rf %d\r\n%s\r\n" "$2" "$2" ${#req} "$req" >&3
		got=0
		while [ "$got" -lt "$3" ] && read -r -t 10 line <&3; do
			case $line in
			HMSG\ *) got=$((got + 1)) ;;
			PING*) printf "PONG\r\n" >&3 ;;
			esac
		done
		[ "$got" -eq "$3" ]' _ "$(nats_port "n$1")" "$1" "$2" ||
		fail "raw_fetch $1 $2"
}

# case C: the three runs of channel Cd (conf $WORK/Cd.conf) from stream C
# during its feed (upstream C started after held_from_start C Cr, the
# reader that holds the ring in $RD1: the 2 s of its stop are not taken
# from the feed, which a loaded machine could end before the first run)
case_runs() {
	start "$1a" -c "$WORK/$1d.conf"
	wait_log "$1a" "channel $1d: in 0 out 0 .* backpressure 1 "
	i=0
	until [ "$(consumer "$1" pending)" -gt 0 ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "consumer $1: nothing delivered"
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
	later_runs "$1" "$first"
}

# later_runs C FIRST: the durable C of stream C (upstream C started) has
# deliveries from stream sequence FIRST on, none acknowledged, and the
# ring of channel Cd is held by the reader $RD1: mdpub started again,
# read from its first message (Cr2) and by the reader that held the ring,
# publishes the stream from FIRST, each message once, and a third run
# has nothing left
later_runs() {
	first=$2
	stalled_reader "$1d" "$1r2"
	R2=$RD
	kill -CONT "$R2" "$RD1"
	start "$1b" -c "$WORK/$1d.conf"
	wait_log "$1b" "channel $1d: publishing from"
	upstream_done "$1"
	i=0
	until [ "$(consumer "$1" left)" -eq 0 ] && [ "$(consumer "$1" pending)" -eq 0 ] &&
		[ "$(consumer "$1" delivered)" -eq "$PUB" ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "consumer $1 not done: $(cat "$WORK/$1.jsz")"
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
held_from_start v1 v1r
RD1=$RD
upstream v1
echo "deliver = new" >>"$WORK/v1d.conf"
stored_some v1
case_runs v1

# 2. deliver = last: the durable made during the feed by another client,
# mdpub binds it
held_from_start v2 v2r
RD1=$RD
upstream v2
echo "deliver = last" >>"$WORK/v2d.conf"
stored_some v2
make_durable v2 last
case_runs v2

# another_client C [nofilter]: case 3 on channel Cd, stream C
another_client() {
	upstream "$1"
	echo "deliver = new" >>"$WORK/$1d.conf"
	stored_some "$1"
	make_durable "$1" new "${2:-}"
	held_from_start "$1" "$1r"
	RD1=$RD
	raw_fetch "$1" 100
	delivered=$(consumer "$1" delivered)
	[ "$(consumer "$1" pending)" -eq 100 ] && [ "$(consumer "$1" floor)" -eq 0 ] &&
		[ "$delivered" -gt 100 ] && [ "$delivered" -lt "$PUB" ] ||
		fail "consumer $1 after the pull: $(cat "$WORK/$1.jsz")"
	echo "another client: consumer $1 delivered $((delivered - 99))..$delivered, floor 0"
	later_runs "$1" $((delivered - 99))
	grep -q "channel $1d: consumer $1: 100 deliveries not acknowledged: made again from stream sequence $((delivered - 99))\$" "$WORK/$1b.log" ||
		fail "$1b: $(grep "consumer $1" "$WORK/$1b.log")"
}

# 3. deliver = new, the durable made during the feed by another client,
# which then takes 100 deliveries and acknowledges none
another_client v3

# 4. the same, the durable made with no filter subject
another_client v4 nofilter
exit 0
