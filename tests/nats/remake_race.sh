#!/bin/sh
# The nats source gives up its pull subscription when it makes its
# consumer again (a delivery gap) without freeing it under libnats's read
# loop: libnats before 3.6.1 finds a message's subscription, lets go of
# the connection's lock and only then locks the subscription, and a
# natsSubscription_Destroy() on the source's reader thread in between
# frees it under the read loop (a fresh-clone CI run of nats/cluster.sh:
# "malloc(): unsorted double linked list corrupted" at a consumer's
# leader change). An interposer (nats/sub_window.c) sends a message to
# the subscription's inbox as mdpub begins to give it up and holds the
# read loop in that window with it: the subscription must not be
# destroyed while it is held there. The gap: the durable deleted and made
# again by another client once mdpub read the whole stream; mdpub makes
# it again from the last message it took (a duplicate, dropped).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }
hook sub_window

upstream r
upstream_done r
# the durable made by another client, as mdpub would make it: mdpub binds
# it as it is, and libnats's natsSubscription_Unsubscribe() then sends no
# request (it deletes only a consumer its subscription made) whose reply
# would keep the subscription until the read loop is past the window
RAW_PORT=$(nats_port nr)
js='{"stream_name":"r","config":{"durable_name":"r","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_ack_pending":65536,"filter_subject":"mdbus.r.>"}}'
printf 'PUB $JS.API.CONSUMER.DURABLE.CREATE.r.r _INBOX.rv0 %d\r\n%s\r\n' ${#js} "$js" >"$WORK/mk0.proto"
raw_pub "$WORK/mk0.proto"
i=0
until monitor nr "/jsz?consumers=true&config=true" | tr -d ' \n' |
	grep -q '"durable_name":"r"'; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "no durable r: $(monitor nr "/jsz?consumers=true&config=true")"
	sleep 0.05
done
start_hooked ra "$HOOK" "SUB_WINDOW_FILE=$WORK/window" -c "$WORK/rd.conf"
wait_log ra "channel rd: publishing from"
took ra rd "$PUB"
durable_again r
# the consumer made again, or the race said at once (libnats's read loop
# may hang or crash in the freed subscription)
i=0
until grep -q "channel rd: a gap in the deliveries: consumer made again from stream sequence $PUB\$" "$WORK/ra.log"; do
	! grep -q "^sub_window: " "$WORK/ra.log" ||
		fail "$(grep "^sub_window: " "$WORK/ra.log")"
	i=$((i + 1)); [ $i -le 1200 ] || fail "no consumer made again in ra.log"
	sleep 0.05
done
# the message taken last, delivered again by the consumer made again
i=0
until kill -USR1 "$PID" && sleep 0.1 &&
	grep "channel rd: source nats: " "$WORK/ra.log" | tail -n 1 |
	grep -q ": duplicate 1 session 0 malformed 0 errors [0-9]* resets 1 jump 0 dropped 0\$"; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "ra: $(grep 'source nats' "$WORK/ra.log" | tail -n 1)"
done
stop "$PID"
[ "$(stats ra rd out)" -eq "$PUB" ] || fail "ra: $(counters ra rd)"
read -r _ held _ raced <"$WORK/window" ||
	fail "no $WORK/window (mdpub died?): $(tail -n 5 "$WORK/ra.log")"
echo "subscriptions given up with the read loop in the window $held, destroyed under it $raced"
[ "$held" -ge 1 ] || fail "the read loop was never held in the window"
[ "$raced" -eq 0 ] ||
	fail "$raced subscriptions destroyed while the read loop held a message for them"
exit 0
