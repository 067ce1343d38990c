#!/bin/sh
# A client that may publish on a JetStream channel's stream adds messages
# of 1 MB while back-pressure holds the channel (a lossless ring a stopped
# reader holds full): the source fetches no more than its queue's budget
# (daemons/src_nats.c queue_full(): `queue` messages of the slot size and
# 4 KiB; one always fits an empty queue) and what its requests asked for
# (batch). Before, it fetched `queue` of them whatever their size (256 MB
# here; 16 GB with the default queue). Once the reader goes on, every
# message is taken: the real ones published in order, the flood's
# malformed (and acknowledged with the rest). The same with messages of 2
# bytes and a header of 60 KB (JetStream stores 64 KiB of headers at
# most): of spaces that the client library trims off the value, or that
# does not parse; before, the budget counted only the values of headers
# that parse (nothing of either) and `queue` of them were fetched while
# held (1 GB with the default queue, 14 times its budget with the
# default slot size).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

CAP=128   # the ring: 64-byte slots, 2 blocks of 64
QUEUE=256 # the source's queue
BATCH=4   # each pull request asks for at most that many
V=$((CAP + 1)) # real messages: the ring full, one held by the channel
F=300     # flood messages of SIZE bytes
SIZE=1000000
HSIZE=60000 # or of 2 bytes and a header of HSIZE

# held_flood CHANNEL WHAT BYTES FLOOD_PUB_ARGS...: a held channel's
# stream flooded by flood_pub FLOOD_PUB_ARGS (on mdbus.CHANNEL.raw.x): F
# messages of about BYTES each, WHAT in what fails
held_flood() {
	c=$1 what=$2 bytes=$3
	shift 3
	js_server "n$c" "$c" memory

	printf '[global]\nstats_interval = 0.1\n[channel %s]\n' "$c" >"$WORK/$c.conf"
	printf '%s\n' "source = nats" "url = nats://127.0.0.1:$PORT" \
		"subject = mdbus.$c.>" "stream = $c" "durable = $c" "mode = lossless" \
		"queue = $QUEUE" "batch = $BATCH" "slot_size = 64" \
		"slots_per_block = 64" "block_count = 2" >>"$WORK/$c.conf"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
		run_channel "$c"
	MP=$PID
	stalled_reader "$c" "$c" --from latest --until $V --timeout 300
	rm -f "$WORK/valid.proto"
	i=0
	while [ $i -lt $V ]; do
		hpub "$WORK/valid.proto" "mdbus.$c.raw.%" "v$i" "Mdbus-Seq: $i" \
			"Mdbus-Ts: 1" "Mdbus-Session: 00000000000000aa"
		i=$((i + 1))
	done
	raw_pub "$WORK/valid.proto"
	i=0 # held: the ring full behind the stopped reader, the last one held
	until [ "$(dir_write_num "$MDBUS_DIR" "$c")" = $CAP ] &&
		[ "$(consumer "$c" delivered)" = $V ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "the ring did not fill: $(dir_write_num "$MDBUS_DIR" "$c"), $(consumer "$c" delivered) delivered"
		sleep 0.05
	done
	sleep 0.2
	before=$(rss_kb "$MP")

	flood_pub "mdbus.$c.raw.x" "$@"
	stream_has "n$c" "\"messages\":$((V + F)),"
	sleep 1 # what the source's requests ask for comes
	after=$(rss_kb "$MP")
	grown=$(((after - before) / 1024))
	fetched=$(($(consumer "$c" delivered) - V))
	echo "while held: $fetched of the flood's $F messages ($what) fetched, mdpub grew by $grown MB"
	# the budget holds as many as fit in it and one more (it was not
	# full), the requests live at once ask for BATCH each (8 at most:
	# daemons/src_nats.c PULL_LIVE_MAX)
	[ "$fetched" -le $((QUEUE * (64 + 4096) / bytes + 1 + 8 * BATCH)) ] ||
		fail "$fetched messages ($what) fetched while held (the queue's length, not its bytes, bounds what is fetched)"
	grep -q libtsan "/proc/$MP/maps" || [ "$grown" -lt 64 ] ||
		fail "mdpub grew by $grown MB while held ($what)"

	kill -CONT "$RD"
	i=0
	until [ "$(stats "$c" "$c" malformed)" = $F ] 2>/dev/null &&
		[ "$(stats "$c" "$c" in)" = $V ] && [ "$(consumer "$c" pending)" = 0 ] &&
		[ "$(consumer "$c" left)" = 0 ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "not all taken: $(grep "channel $c: " "$WORK/$c.log" | tail -n 2); consumer $(cat "$WORK/$c.jsz")"
		sleep 0.05
	done
	wait "$RD" || fail "reader: $(cat "$WORK/$c.err")"
	[ "$(stats "$c" "$c" gaps)" = 0 ] && [ "$(src_stat "$c" duplicate)" = 0 ] ||
		fail "$(grep "channel $c: " "$WORK/$c.log" | tail -n 2)"
	stop "$MP"
	n=$(grep -c '^M 0 ' "$WORK/$c.out")
	[ "$n" -eq $V ] || fail "the reader got $n messages, not $V"
	nats_kill "n$c" # its stream in memory
}

held_flood jf "$SIZE bytes" "$SIZE" "$F" "$SIZE"
held_flood jfs "a header of $HSIZE spaces" "$HSIZE" 0 0 "$F" "$HSIZE" spaces
held_flood jfb "a header of $HSIZE bytes that does not parse" "$HSIZE" \
	0 0 "$F" "$HSIZE" broken
exit 0
