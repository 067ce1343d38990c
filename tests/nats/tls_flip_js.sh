#!/bin/sh
# tests/nats/tls_flip.sh with a JetStream durable: mdpub's nats source,
# held back by a stopped reader with part of stream f fetched, has its
# connection turned to TLS for good by a listener on the server's port
# while nats-server is down (tests/nats/no_pong.py tls). Once nats-server
# is back and the reader reads on, the source makes a new connection and
# the consumer anew from its restart point (doc/protocol.md, "NATS
# framing"): every message of the stream is in the ring once, in order.
# Before, the source read nothing more after the held part, saying
# nothing.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
CUTS_EXPECTED=yes # the listener's TLS handshake, after 4 s

upstream f
held_full f fr
A=$PID
upstream_done f
port=$(nats_port nf)
nats_kill nf KILL
no_pong r "$port" tls
wait_for grep -q "TLS handshake not done in 4.0 s" "$WORK/fa.log"
kill "$FPID"
wait "$FPID" 2>/dev/null
nats_start nf -js -m -1 -p "$port"
wait_for grep -qF "channel fd: nats://127.0.0.1:$port: reconnection refused 1 time: " "$WORK/fa.log"
kill -CONT "$RD"
wait_for grep -q "channel fd: connected anew to nats://127.0.0.1:$port$" "$WORK/fa.log"
wait_for grep -q "channel fd: consumer made again on the new connection from stream sequence [1-9]" "$WORK/fa.log"
grep -q "a gap in the deliveries" "$WORK/fa.log" &&
	fail "the new connection told as a gap: $(grep 'a gap' "$WORK/fa.log")"
PID=$A
published fa fd
consumer_done f
stop "$A"
wait "$RD" || fail "reader fr: $(cat "$WORK/fr.err")"
exactly_once f fr
grep -h "reconnection refused 1 time\|connected anew\|consumer made again" "$WORK/fa.log" | cut -c 1-100
exit 0
