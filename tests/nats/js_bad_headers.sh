#!/bin/sh
# A JetStream delivery whose headers do not parse is malformed, as it is
# from core NATS, even when the lines before the one that does not parse
# are the forwarder's three. libnats (3.4.1) parses a message's headers
# once asked for one, keeps what it parsed of them when a later line
# fails, and parses them again at the next ask, on the text the first
# parse cut up: then the line that did not parse is taken for the status
# line, and the headers parse. The source's reader thread counts a
# delivery's bytes (daemons/src_nats.c msg_bytes()) before the channel's
# thread reads its headers: before, that second parse made such a message
# published as upstream sequence 1 (and the real 1 after it a duplicate,
# lost); now the channel's thread is told they did not parse.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"

js_server nbh bh memory
channel bh.conf bh source=nats "url=nats://127.0.0.1:$PORT" \
	'subject=mdbus.bh.>' stream=bh durable=bh
run_channel bh
MP=$PID
# mdpub started, v0, v1
"$READER" --from oldest --until 3 --dump bh >"$WORK/bh.out" &
RD=$!
S="Mdbus-Session: 00000000000000aa"
hpub "$WORK/bh.proto" mdbus.bh.raw.% v0 "Mdbus-Seq: 0" "Mdbus-Ts: 1" "$S"
hpub "$WORK/bh.proto" mdbus.bh.raw.% bad "Mdbus-Seq: 1" "Mdbus-Ts: 1" "$S" \
	"no colon here"
hpub "$WORK/bh.proto" mdbus.bh.raw.% v1 "Mdbus-Seq: 1" "Mdbus-Ts: 1" "$S"
raw_pub "$WORK/bh.proto"
stream_has nbh '"messages":3,'
i=0
until [ "$(consumer bh pending)" = 0 ] && [ "$(consumer bh left)" = 0 ] &&
	kill -USR1 "$MP" && sleep 0.1 &&
	[ "$(stats bh bh malformed)" = 1 ] 2>/dev/null; do
	i=$((i + 1)); [ $i -le 300 ] || fail "not malformed: $(grep 'channel bh: ' "$WORK/bh.log" | tail -n 2)"
done
[ "$(stats bh bh in)" = 2 ] && [ "$(stats bh bh gaps)" = 0 ] &&
	[ "$(src_stat bh duplicate)" = 0 ] ||
	fail "$(grep 'channel bh: ' "$WORK/bh.log" | tail -n 2)"
wait "$RD" || fail "reader: $(cat "$WORK/bh.out")"
stop "$MP"
grep -q "channel bh: message on 'mdbus.bh.raw.%': its headers do not parse" \
	"$WORK/bh.log" || fail "not logged: $(grep 'channel bh' "$WORK/bh.log" | tail -n 3)"
# v0 and v1 (of 2 bytes), not bad (3)
[ "$(grep -c '^M 0 2$' "$WORK/bh.out")" = 2 ] && ! grep -q '^M 0 3$' "$WORK/bh.out" ||
	fail "the reader got: $(cat "$WORK/bh.out")"
exit 0
