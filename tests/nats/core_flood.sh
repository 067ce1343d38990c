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

nats_start ncf -m -1
PORT=$(nats_port ncf)
RAW_PORT=$PORT
URL=nats://127.0.0.1:$PORT

printf '[global]\nstats_interval = 0.1\n[channel cf]\n' >"$WORK/cf.conf"
printf '%s\n' "source = nats" "url = $URL" "subject = mdbus.cf.>" \
	"mode = lossless" "queue = $QUEUE" "slot_size = 64" \
	"slots_per_block = 64" "block_count = 2" >>"$WORK/cf.conf"
# ASan's quarantine would keep the dropped messages' memory
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
	run_channel cf
MP=$PID
stalled_reader cf cf --from latest --until $V --timeout 300

S="Mdbus-Session: 00000000000000aa"
i=0
while [ $i -lt $V ]; do
	hpub "$WORK/valid.proto" mdbus.cf.raw.% "v$i" "Mdbus-Seq: $i" \
		"Mdbus-Ts: 1" "$S"
	i=$((i + 1))
done
raw_pub "$WORK/valid.proto"
# held: the ring full behind the stopped reader
i=0
until [ "$(dir_write_num "$MDBUS_DIR" cf)" = $CAP ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "the ring did not fill: $(dir_write_num "$MDBUS_DIR" cf)"
	sleep 0.05
done

# mdpub's connection: every message the server had for it written to it
delivered_all() {
	monitor ncf /connz | tr -d ' \n' >"$WORK/connz"
	grep -q "\"out_msgs\":$1," "$WORK/connz"
}
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$MP/status"; }
i=0
until delivered_all $V; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "mdpub was not sent the $V messages: $(cat "$WORK/connz")"
	sleep 0.05
done
before=$(rss)

python3 - "$PORT" "$F" "$SIZE" <<'PY' || fail "the flood"
import socket, sys
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false}\r\n')
body = b"f" * size
for i in range(n):
    s.sendall(b"PUB mdbus.cf.raw.x %d\r\n" % size + body + b"\r\n")
s.sendall(b"PING\r\n")
while f.readline().strip() != b"PONG":
    pass
PY
i=0
until delivered_all $((V + F)); do
	i=$((i + 1)); [ $i -le 1200 ] || fail "mdpub was not sent the flood: $(cat "$WORK/connz")"
	sleep 0.05
done
sleep 0.5 # the client library's read loop: past the socket's buffers
after=$(rss)
grown=$(((after - before) / 1024))
echo "mdpub's memory grew by $grown MB with a flood of $((F * SIZE / 1000000)) MB"
# (TSan's shadow memory grows with what is kept: judged by the count below)
grep -q libtsan "/proc/$MP/maps" || [ "$grown" -lt 130 ] ||
	fail "a flood of $F x $SIZE bytes held back grew mdpub by $grown MB (no pending limits on the subscription)"

# src_stat FIELD: FIELD of the source's last counter line
src_stat() {
	grep "channel cf: source nats: " "$WORK/cf.log" | tail -n 1 |
		tr ' ' '\n' | sed -n "/^$1\$/{n;p;}"
}
kill -CONT "$RD"
i=0
until [ $(($(stats cf cf malformed) + $(src_stat dropped))) -eq $F ] 2>/dev/null &&
	[ "$(stats cf cf in)" = $V ]; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "not all taken: $(grep 'channel cf: ' "$WORK/cf.log" | tail -n 2)"
	sleep 0.05
done
dropped=$(src_stat dropped)
echo "dropped by the client library: $dropped, malformed $(stats cf cf malformed)"
[ "$dropped" -ge 1 ] || fail "nothing dropped"
# what was kept fits the limits: 64 MiB of messages of SIZE bytes
kept=$(stats cf cf malformed)
[ "$kept" -le $((64 * 1048576 / SIZE)) ] ||
	fail "$kept messages of $SIZE bytes kept: more than 64 MiB"
# the forwarder's messages in order: none missing, none a duplicate
[ "$(stats cf cf gaps)" = 0 ] && [ "$(src_stat duplicate)" = 0 ] ||
	fail "$(grep 'channel cf: ' "$WORK/cf.log" | tail -n 2)"
grep -q "channel cf: the client library dropped [0-9]* messages" \
	"$WORK/cf.log" || fail "drops not logged: $(grep 'channel cf' "$WORK/cf.log")"
wait "$RD" || fail "reader: $(cat "$WORK/cf.err")"
stop "$MP"
n=$(grep -c '^M 0 ' "$WORK/cf.out")
[ "$n" -eq $V ] || fail "the reader got $n messages, not $V: $(head -n 3 "$WORK/cf.out")"
exit 0
