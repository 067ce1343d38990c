#!/bin/sh
# JetStream acknowledgements given up after --nats-ack-wait by the
# forwarder itself, not by libnats's per-publish wait (MaxWait), whose
# timer thread made a timeout message for every publish, answered or
# not, and leaked one made while mdsub exited (LeakSanitizer, 3 runs in
# 100 of nats/jetstream.sh and nats/ack_deliver.sh under ASan). Here the
# broker stops (SIGSTOP) for 5 waits of 300 ms while mdsub forwards a
# live feed:
# the answers awaited are given up (errors), the window goes through the
# read-back of the stream's last message and is sent again from there
# (resent: the window past what the stream holds by then, with what was
# read from the channel meanwhile; it may be none: the continued broker
# stores the publishes buffered while it stopped before it answers the
# read-back, and on a loaded machine the feed may have caught up by the
# resend. tests/nats/ack_stranded.sh checks the resend itself), and the
# stream ends with every message of the channel once and nothing else. An
# interposer (nats/msg_threads.c) counts the messages libnats is asked to
# make on a thread other than mdsub's main one: none.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }
hook msg_threads

nats_start n1 -js -m -1
URL=nats://127.0.0.1:$(nats_port n1)

channel t.conf t source=synthetic rate=4000 mode=lossless
start t -c "$WORK/t.conf"
SP=$PID
wait_log t "channel t: publishing from"
# ASan: the interposer comes before its runtime in the library list
LD_PRELOAD=$HOOK MSG_THREADS_FILE=$WORK/threads \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	"$MDSUB" --from oldest --forward "$URL" --nats-stream t \
	--nats-ack-wait 300 t >"$WORK/t.fwd" 2>&1 &
SF=$!
PIDS="$PIDS $SF"
forwarding "$SF" t
kill -STOP "$(cat "$WORK/n1.pid")"
sleep 1.5
kill -CONT "$(cat "$WORK/n1.pid")"
sleep 0.5
stop "$SP" # the feed ran all along: answers were awaited in the stop
read_all "$SF" t # $sent: the channel's messages
stored() {
	monitor n1 '/jsz?streams=1' | tr -d ' \n' |
		sed -n 's/.*"state":{"messages":\([0-9]*\),.*"last_seq":\([0-9]*\),.*/\1 \2/p'
}
i=0
until [ "$(stored)" = "$sent $sent" ]; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "stream t holds $(stored) (messages, last), not $sent: $(cat "$WORK/t.fwd")"
	sleep 0.1
done
forwarder_done "$SF" "$WORK/t.fwd"
errors=$(echo "$summary" | sed -n 's/.* \([0-9]*\) errors, \([0-9]*\) resent, 0 skipped, .* 0 unacknowledged$/\1 \2/p')
[ -n "$errors" ] || fail "forwarder: $(cat "$WORK/t.fwd")"
[ "${errors% *}" -ge 1 ] ||
	fail "no answer given up (errors, resent: $errors): the broker stopped for 5 waits"
read -r _ on_main _ on_other <"$WORK/threads" || fail "no $WORK/threads"
echo "messages made on mdsub's main thread $on_main, on libnats's threads $on_other"
[ "$on_other" -eq 0 ] ||
	fail "libnats made $on_other messages of its own (the per-publish acknowledgement timeout)"
[ "$on_main" -ge "$sent" ] || fail "only $on_main messages made for $sent forwarded"
exit 0
