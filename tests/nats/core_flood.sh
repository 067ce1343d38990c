#!/bin/sh
# A client that may publish on a core channel's subjects floods it while
# back-pressure holds the source (a lossless channel whose only reader is
# stopped): what waits in the client library is bounded by the
# subscription's pending limits (daemons/src_nats.c pending_limits(): with
# queue 16, libnats's 64 MB), the rest is dropped and counted (`dropped`),
# so the flood costs mdpub bounded memory: at most 67 of its messages are
# kept. Before, with no limits, all were, and mdpub's memory grew by the
# whole flood (200 MB here). Every message the
# forwarder sent before the flood is still published, in order, and the
# flood's messages (no headers: malformed) are each either dropped by the
# client library or counted malformed: exactly F together.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

CAP=128   # the ring: 64-byte slots, 2 blocks of 64
QUEUE=16  # the source's queue
V=$((CAP + QUEUE + 40)) # valid messages: the ring, the queue, then waiting
F=200     # flood messages of SIZE bytes
SIZE=1000000

held_core cf ncf $QUEUE $V
# (under TSan judged by the count below)
flood_held ncf $((V + F)) 130 "no pending limits on the subscription" \
	mdbus.cf.raw.x "$F" "$SIZE"

kill -CONT "$RD"
i=0
until [ $(($(stats cf cf malformed) + $(src_stat cf dropped))) -eq $F ] 2>/dev/null &&
	[ "$(stats cf cf in)" = $V ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "not all taken: $(grep 'channel cf: ' "$WORK/cf.log" | tail -n 2)"
	sleep 0.05
done
dropped=$(src_stat cf dropped)
echo "dropped by the client library: $dropped, malformed $(stats cf cf malformed)"
[ "$dropped" -ge 1 ] || fail "nothing dropped"
# what was kept fits the limits: 64 MiB of messages of SIZE bytes
kept=$(stats cf cf malformed)
[ "$kept" -le $((64 * 1048576 / SIZE)) ] ||
	fail "$kept messages of $SIZE bytes kept: more than 64 MiB"
# the forwarder's messages in order: none missing, none a duplicate
[ "$(stats cf cf gaps)" = 0 ] && [ "$(src_stat cf duplicate)" = 0 ] ||
	fail "$(grep 'channel cf: ' "$WORK/cf.log" | tail -n 2)"
grep -q "channel cf: the client library dropped [0-9]* messages" \
	"$WORK/cf.log" || fail "drops not logged: $(grep 'channel cf' "$WORK/cf.log")"
wait "$RD" || fail "reader: $(cat "$WORK/cf.err")"
stop "$MP"
n=$(grep -c '^M 0 ' "$WORK/cf.out")
[ "$n" -eq $V ] || fail "the reader got $n messages, not $V: $(head -n 3 "$WORK/cf.out")"
exit 0
