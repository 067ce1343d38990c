#!/bin/sh
# A JetStream acknowledgement that never comes for a message a later
# acknowledgement took out of the forwarder's window (the stream stored
# both; the first answer was lost): the forwarder still gives it up after
# --nats-ack-wait. tests/nats/fake_js.py is the stream: it stores the
# 3rd publish without answering, acknowledges the 4th and 5th, refuses
# the 6th (and, by their expected last sequence, those after it). The
# refusal makes mdsub wait for every answer before it reads the stream
# back: the 3rd's never comes, and with the publish counted but its
# record gone mdsub waited for ever (the race review of 2279268). Given
# up, the stream is read back (its last: the 5th) and the rest sent
# again: the stream ends with every message of the channel once, in order.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

SI='{"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"S","subjects":["mdbus.t.>"]},"state":{"messages":0,"first_seq":0,"last_seq":0}}'
FAKE_JS_STORE=$WORK/stored FAKE_JS_NOACK=3 FAKE_JS_REFUSE=6 \
	fake_js f '{}' "$SI"

channel t.conf t source=synthetic rate=20 count=60 mode=lossless
start t -c "$WORK/t.conf"
SP=$PID
wait_log t "channel t: publishing from"
"$MDSUB" --from oldest --forward "$FURL" --nats-stream S --nats-ack-wait 300 \
	t >"$WORK/t.fwd" 2>&1 &
SF=$!
PIDS="$PIDS $SF"
forwarding "$SF" t
wait "$SP"
sent=$(dir_write_num "$MDBUS_DIR" t)
i=0
until [ "$(wc -l <"$WORK/stored" 2>/dev/null)" -ge "$sent" ]; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "the stream holds $(wc -l <"$WORK/stored") of $sent: $(cat "$WORK/t.fwd")"
	sleep 0.1
done
forwarder_done "$SF" "$WORK/t.fwd"
# stream sequences 1..sent, the channel's sequences 0..sent-1, in order
awk -v n="$sent" '$1 != NR || $3 != NR - 1 { bad = 1 } END { exit bad || NR != n }' \
	"$WORK/stored" || fail "stream, not each message once in order: $(cat "$WORK/stored")"
counts=$(echo "$summary" | sed -n 's/.* 0 duplicates, \([0-9]*\) errors, \([0-9]*\) resent, 0 skipped, 0 stalls, 0 unacknowledged$/\1 \2/p')
[ -n "$counts" ] && [ "${counts% *}" -ge 2 ] && [ "${counts#* }" -ge 1 ] ||
	fail "not a refusal and a give-up, then a resend: $(cat "$WORK/t.fwd")"
exit 0
