#!/bin/sh
# What the nats source's pull requests bring waits in its JetStream inbox
# without the client library's pending limits (65536 messages, 64 MB by
# default: past them libnats drops messages, a delivery gap, and the
# consumer is made again). A stream of 60000 messages of 1400 bytes (84
# MB, no headers: malformed for mdpub), batch = queue = 65536: the first
# request asks for all of them; an interposer (nats/pull_hold.c) holds the
# source's reader at the first delivery until the rest came. None is
# dropped: each of the 60000 is counted malformed once, no error, no
# reset. Before, libnats held 47935 (64 MB) and dropped the other 12065:
# a gap, the consumer made again from the 47935th (counted twice).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
hook pull_hold

N=60000
SIZE=1400

# the server's own limit on what it has yet to write to a client (64
# MB) raised: a read loop slowed down (TSan) fell behind the request's
# 84 MB, and the server cut the connection (a gap)
echo "max_pending: 268435456" >"$WORK/nbig.cfg"
nats_start nbig -js -m -1 -c "$WORK/nbig.cfg"
RAW_PORT=$(nats_port nbig)
js='{"name":"big","subjects":["mdbus.big.>"],"storage":"file"}'
printf 'PUB $JS.API.STREAM.CREATE.big _INBOX.mk %d\r\n%s\r\n' ${#js} "$js" \
	>"$WORK/mk.proto"
raw_pub "$WORK/mk.proto"
stream_has nbig '"streams":1,'
python3 -c 'import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
rec = b"PUB mdbus.big.x %d\r\n" % size + b"x" * size + b"\r\n"
with open(sys.argv[3], "wb") as f:
    f.write(rec * n)' "$N" "$SIZE" "$WORK/big.proto"
raw_pub "$WORK/big.proto"
stream_has nbig "\"messages\":$N,"
rm -f "$WORK/big.proto"
printf '[global]\nstats_interval = 0.1\n[channel big]\n' >"$WORK/big.conf"
printf '%s\n' "source = nats" "url = nats://127.0.0.1:$RAW_PORT" \
	"subject = mdbus.big.>" "stream = big" "durable = big" \
	"batch = 65536" "queue = 65536" >>"$WORK/big.conf"
PULL_HOLD_COUNT=$N # the reader held until all of them came (or 20 s)
export PULL_HOLD_COUNT
start_hooked ba "$HOOK" "PULL_HOLD_FILE=$WORK/hold" -c "$WORK/big.conf"
wait_log ba "channel big: publishing from"
# every message taken (more: some delivered twice after a gap), then
# the stream's all acknowledged
i=0
until [ "$(stats ba big malformed)" -ge "$N" ] 2>/dev/null; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "ba: $(counters ba big)"
	sleep 0.05
done
i=0
until [ "$(consumer big pending)" -eq 0 ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "consumer big: $(cat "$WORK/big.jsz")"
	sleep 0.05
done
stop "$PID"
[ "$(stats ba big malformed)" -eq "$N" ] && [ "$(stats ba big out)" -eq 0 ] ||
	fail "ba: $(counters ba big), not $N malformed"
grep "channel big: source nats: " "$WORK/ba.log" | tail -n 1 |
	grep -q ": duplicate 0 session 0 malformed $N errors 0 resets 0 jump 0 dropped 0\$" ||
	fail "ba: $(grep 'source nats' "$WORK/ba.log" | tail -n 1)"
hook_counts "$WORK/hold" ba
echo "reader held $N1 times; messages the client library dropped: $N2"
[ "$N1" -eq 1 ] || fail "the reader was held $N1 times, not once"
[ "$N2" -eq 0 ] || fail "the client library dropped $N2 deliveries"
exit 0
