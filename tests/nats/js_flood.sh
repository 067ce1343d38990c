#!/bin/sh
# A client that may publish on a JetStream channel's stream adds messages
# of 1 MB while back-pressure holds the channel (a lossless ring a stopped
# reader holds full): the source fetches no more than its queue's budget
# (daemons/src_nats.c queue_full(): `queue` messages of the slot size and
# 4 KiB; one always fits an empty queue) and what its requests asked for
# (batch). Before, it fetched `queue` of them whatever their size (256 MB
# here; 16 GB with the default queue). Once the reader goes on, every
# message is taken: the real ones published in order, the flood's
# malformed (and acknowledged with the rest).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

CAP=128   # the ring: 64-byte slots, 2 blocks of 64
QUEUE=256 # the source's queue
BATCH=4   # each pull request asks for at most that many
V=$((CAP + 1)) # real messages: the ring full, one held by the channel
F=300     # flood messages of SIZE bytes
SIZE=1000000

js_server njf jf memory

printf '[global]\nstats_interval = 0.1\n[channel jf]\n' >"$WORK/jf.conf"
printf '%s\n' "source = nats" "url = nats://127.0.0.1:$PORT" \
	"subject = mdbus.jf.>" "stream = jf" "durable = jf" "mode = lossless" \
	"queue = $QUEUE" "batch = $BATCH" "slot_size = 64" \
	"slots_per_block = 64" "block_count = 2" >>"$WORK/jf.conf"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
	run_channel jf
MP=$PID
stalled_reader jf jf --from latest --until $V --timeout 300
i=0
while [ $i -lt $V ]; do
	hpub "$WORK/valid.proto" mdbus.jf.raw.% "v$i" "Mdbus-Seq: $i" \
		"Mdbus-Ts: 1" "Mdbus-Session: 00000000000000aa"
	i=$((i + 1))
done
raw_pub "$WORK/valid.proto"
i=0 # held: the ring full behind the stopped reader, the last one held
until [ "$(dir_write_num "$MDBUS_DIR" jf)" = $CAP ] &&
	[ "$(consumer jf delivered)" = $V ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "the ring did not fill: $(dir_write_num "$MDBUS_DIR" jf), $(consumer jf delivered) delivered"
	sleep 0.05
done
sleep 0.2
before=$(rss_kb "$MP")

flood_pub mdbus.jf.raw.x "$F" "$SIZE"
stream_has njf "\"messages\":$((V + F)),"
sleep 1 # what the source's requests ask for comes
after=$(rss_kb "$MP")
grown=$(((after - before) / 1024))
fetched=$(($(consumer jf delivered) - V))
echo "while held: $fetched of the flood's $F messages of $SIZE bytes fetched, mdpub grew by $grown MB"
# the budget holds one (the queue was empty), the requests live at once
# ask for BATCH each (8 at most: daemons/src_nats.c PULL_LIVE_MAX)
[ "$fetched" -le $((1 + 8 * BATCH)) ] ||
	fail "$fetched messages of $SIZE bytes fetched while held (the queue's length, not its bytes, bounds what is fetched)"
grep -q libtsan "/proc/$MP/maps" || [ "$grown" -lt 64 ] ||
	fail "mdpub grew by $grown MB while held"

kill -CONT "$RD"
i=0
until [ "$(stats jf jf malformed)" = $F ] 2>/dev/null &&
	[ "$(stats jf jf in)" = $V ] && [ "$(consumer jf pending)" = 0 ] &&
	[ "$(consumer jf left)" = 0 ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "not all taken: $(grep 'channel jf: ' "$WORK/jf.log" | tail -n 2); consumer $(cat "$WORK/jf.jsz")"
	sleep 0.05
done
wait "$RD" || fail "reader: $(cat "$WORK/jf.err")"
[ "$(stats jf jf gaps)" = 0 ] && [ "$(src_stat jf duplicate)" = 0 ] ||
	fail "$(grep 'channel jf: ' "$WORK/jf.log" | tail -n 2)"
stop "$MP"
n=$(grep -c '^M 0 ' "$WORK/jf.out")
[ "$n" -eq $V ] || fail "the reader got $n messages, not $V"
exit 0
