#!/bin/sh
# What the client library dropped past a core subscription's pending
# limits while back-pressure held the channel until mdpub stopped is in
# the final counters: the reader thread, held in the full queue the whole
# time, looks at libnats's count as it ends. Before, it did not (the
# stop's counter line said 'dropped 0' after N - 65536 were dropped).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

QUEUE=16
# the ring (128), the message the channel holds, the queue and the one
# the reader waits to queue: all the rest waits in the client library
V=$((128 + 1 + QUEUE + 1))
N=70000 # then messages of 10 bytes: 65536 wait (the pending limit)

held_core cs ncs $QUEUE $V
flood_pub mdbus.cs.raw.x "$N" 10
wait_delivered ncs $((V + N))
drained ncs "$MP" # the client library's read loop: past the socket's buffers
stop "$MP"
last=$(grep "channel cs: source nats: " "$WORK/cs.log" | tail -n 1)
dropped=$(src_stat cs dropped)
echo "at stop: $last"
[ "$dropped" = $((N - 65536)) ] ||
	fail "dropped $dropped in the final counters, not $((N - 65536))"
kill -CONT "$RD" 2>/dev/null
exit 0
