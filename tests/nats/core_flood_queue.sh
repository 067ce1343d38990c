#!/bin/sh
# A client that may publish on a core channel's subjects floods it with
# messages larger than the channel's slots while back-pressure holds the
# channel (a lossless ring a stopped reader holds full) but the source's
# queue is still empty: the reader thread must not keep them in the queue
# (up to `queue` messages of the server's max_payload each: with the
# default queue, 16384 x 1 MB), they are malformed as they arrive. Before,
# the queue took 256 of them (256 MB) and the client library 64 MB more.
# Messages with a header of 100 KB are not queued either (more than the
# 4 KiB of headers the pending limits count for each), nor with a header
# of 1 MB of spaces that the client library trims off its value: before,
# only the values were counted (a byte each), and the queue took 256 of
# them.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

CAP=128   # the ring: 64-byte slots, 2 blocks of 64
QUEUE=256 # the source's queue
V=$((CAP + 1)) # valid messages: the ring full, one held by the channel
F=400     # flood messages of SIZE bytes
SIZE=1000000
H=100     # then messages of 2 bytes with a header of HSIZE bytes
HSIZE=100000
S=200     # then messages of 2 bytes with a header of SSIZE spaces
SSIZE=1000000

held_core cq ncq $QUEUE $V
settled "$MP" # the last one taken from the queue, held by the channel
flood_held ncq $((V + F + H)) 130 \
	"the source's queue keeps messages larger than the slots" \
	mdbus.cq.raw.x "$F" "$SIZE" "$H" "$HSIZE"
flood_held ncq $((V + F + H + S)) 130 \
	"the source's queue keeps messages with headers of spaces" \
	mdbus.cq.raw.x 0 0 "$S" "$SSIZE" spaces

# each counted malformed while the channel is still held
i=0
until [ "$(stats cq cq malformed)" = $((F + H + S)) ] 2>/dev/null; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "not all malformed while held: $(stats cq cq malformed), $(grep 'channel cq: ' "$WORK/cq.log" | tail -n 2)"
	sleep 0.05
done
[ "$(src_stat cq dropped)" = 0 ] || fail "dropped $(src_stat cq dropped)"
grep -q "channel cq: [0-9]* messages larger than the channel's slots" \
	"$WORK/cq.log" || fail "not logged: $(grep 'channel cq' "$WORK/cq.log" | tail -n 3)"
kill -CONT "$RD"
i=0
until [ "$(stats cq cq in)" = $V ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "not all published: $(grep 'channel cq: ' "$WORK/cq.log" | tail -n 2)"
	sleep 0.05
done
wait "$RD" || fail "reader: $(cat "$WORK/cq.err")"
stop "$MP"
n=$(grep -c '^M 0 ' "$WORK/cq.out")
[ "$n" -eq $V ] || fail "the reader got $n messages, not $V: $(head -n 3 "$WORK/cq.out")"
exit 0
