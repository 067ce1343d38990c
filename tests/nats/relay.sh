#!/bin/sh
# Host A's channel -> NATS JetStream -> host B's channel: two mdpub
# instances with segment directories of their own, RELAY_MESSAGES
# (default 20 000; 1 000 000 in make check-net) quotes and trades of a
# synthetic feed at RELAY_RATE a second, every channel lossless. Every
# message arrives exactly once and in order: the readers on both sides
# check sequence continuity, and the quotes and trades of both sides have
# the same count and checksum. The forwarder publishes and has
# acknowledged exactly what A holds; B counts no gap, duplicate or
# malformed message.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
N=${RELAY_MESSAGES:-20000}
RATE=${RELAY_RATE:-20000}
TIMEOUT=$((N / 2000 + 60))

nats_start n1 -js
URL=nats://127.0.0.1:$(nats_port n1)
A=$MDBUS_DIR/a
B=$MDBUS_DIR/b
mkdir "$A" "$B" || fail "mkdir"

# tally DIR CHANNEL UNTIL OUT: a reader of CHANNEL in DIR until UNTIL,
# its quote and trade lines as count and checksum in OUT.sum, its tally
# in OUT.tally, its exit status in OUT.rc
tally() {
	{ MDBUS_DIR=$1 "$READER" --until "$3" --dump --timeout "$TIMEOUT" "$2" \
		2>"$4.err"; echo $? >"$4.rc"; } |
		grep '^[QT] ' | tee "$4.head" | cksum >"$4.sum"
}

channel a.conf src source=synthetic "rate=$RATE" "count=$N" mode=lossless \
	"dir=$A"
channel b.conf dst source=nats "url=$URL" 'subject=relay.src.>' stream=RELAY \
	durable=hostb mode=lossless "dir=$B"
start a -c "$WORK/a.conf"
SRC=$PID
wait_log a "channel src: publishing from"
tally "$A" src down "$WORK/a" &
TA=$!
"$MDSUB" --dir "$A" --from oldest --forward "$URL" --nats-prefix relay \
	--nats-stream RELAY src >"$WORK/fwd.log" 2>&1 &
FWD=$!
PIDS="$PIDS $FWD"
i=0
until grep -q "stream RELAY created" "$WORK/fwd.log"; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "no stream: $(cat "$WORK/fwd.log")"
	sleep 0.05
done
start b -c "$WORK/b.conf"
DST=$PID
wait_log b "channel dst: publishing from"
# B's own FEED_UP, then A's FEED_UP, N messages and FEED_DOWN
tally "$B" dst $((N + 3)) "$WORK/b" &
TB=$!
wait "$TA"
wait "$SRC"
wait "$TB"
kill -TERM "$FWD"
wait "$FWD" || fail "mdsub --forward: $(cat "$WORK/fwd.log")"
kill -USR1 "$DST"
wait_log b "source nats: duplicate"
stop "$DST"
for s in a b; do
	[ "$(cat "$WORK/$s.rc")" = 0 ] || fail "reader $s: $(cat "$WORK/$s.err")"
done
read -r sa na <"$WORK/a.sum"
read -r sb nb <"$WORK/b.sum"
echo "A: $na bytes of quotes and trades, checksum $sa; B: $nb bytes, checksum $sb"
[ "$(wc -l <"$WORK/a.head")" -eq "$N" ] || fail "A has $(wc -l <"$WORK/a.head") messages, not $N"
[ "$sa $na" = "$sb $nb" ] || fail "B's messages differ from A's"
# stalls (waits past --nats-stall for the broker) depend on the load; the
# exact counts are what matter
grep -q "nats: \([0-9]*\) published, \1 acknowledged, 0 duplicates, 0 errors, 0 resent, 0 skipped, [0-9]* stalls, 0 unacknowledged" \
	"$WORK/fwd.log" || fail "forwarder: $(cat "$WORK/fwd.log")"
grep -q "channel dst: .* malformed 0 gaps 0 (lost 0) " "$WORK/b.log" || fail "B: gaps"
grep -q "source nats: duplicate 0 session 0 malformed 0 errors 0" "$WORK/b.log" ||
	fail "B: $(grep 'source nats' "$WORK/b.log")"
exit 0
