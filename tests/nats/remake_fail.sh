#!/bin/sh
# A consumer remake that fails is retried from the same restart point
# (doc/protocol.md, "NATS framing"). mdpub starts on a lossless ring
# held full from the start (held_from_start: its FEED_UP waits), so its
# channel takes nothing from the nats source's queue, which holds the
# whole stream; an interposer (nats/remake_fail.c) drops the 100th
# delivery (a gap: the consumer is made again from the first queued,
# stream sequence 1, the queue dropped) and has that remake's consumer
# create fail once, as with the server away. The retry must start at
# stream sequence 1 too: it started after the last delivery taken (100),
# and the 99 dropped from the queue were never published, in silence
# (no gap counted: the ring's first message was then the 100th), and
# AckAll took them for handled. Once the ring is read, every message of
# the stream is published once, in order: in and out $PUB, the reader
# that joined with mdpub's FEED_UP gets the upstream's $COUNT quotes and
# trades, no duplicate, 1 error (the failed create), 1 reset.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }
hook remake_fail

upstream f
upstream_done f
held_from_start f r1
R1=$RD
start_hooked fa "$HOOK" "REMAKE_FAIL_FILE=$WORK/fail" -c "$WORK/fd.conf"
wait_log fa "channel fd: in 0 out 0 .* backpressure 1 "
wait_log fa "channel fd: a gap in the deliveries: consumer made again from stream sequence "
grep -q "channel fd: a gap in the deliveries: consumer made again from stream sequence 1\$" "$WORK/fa.log" ||
	fail "the retried remake: $(grep 'a gap in the deliveries' "$WORK/fa.log")"
[ "$(stats fa fd in)" -eq 0 ] || fail "fa took messages while held: $(counters fa fd)"
# a reader from mdpub's FEED_UP (the next message), then the ring read
stalled_reader fd r2
kill -CONT "$R1" "$RD"
consumer_done f
stop "$PID"
wait "$R1" || fail "reader r1: $(cat "$WORK/r1.err")"
wait "$RD" || fail "reader r2: $(cat "$WORK/r2.err")"
[ "$(stats fa fd in)" -eq "$PUB" ] && [ "$(stats fa fd out)" -eq "$PUB" ] &&
	[ "$(stats fa fd dropped)" -eq 0 ] || fail "fa: $(counters fa fd), not $PUB"
qt=$(grep -c '^[QT] ' "$WORK/r2.out")
[ "$qt" -eq "$COUNT" ] || fail "reader r2: $qt quotes and trades, not $COUNT"
exactly_once f r2
grep "channel fd: source nats: " "$WORK/fa.log" | tail -n 1 |
	grep -q ": duplicate 0 session 0 malformed 0 errors 1 resets 1 jump 0 dropped 0\$" ||
	fail "fa: $(grep 'source nats' "$WORK/fa.log" | tail -n 1)"
hook_counts "$WORK/fail" fa
[ "$N1" -eq 1 ] && [ "$N2" -eq 1 ] ||
	fail "the interposer dropped $N1 deliveries and failed $N2 creates, not 1 and 1"
exit 0
