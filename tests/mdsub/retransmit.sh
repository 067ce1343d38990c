#!/bin/sh
# --retransmit: the re-request server of --forward against hostile
# requesters (mdsub/requester), counted exactly in mdsub's summary: a
# request for 65535 messages gets one packet of at most --batch-bytes;
# one for numbers not sent yet (the next, 2^64 - 1) a heartbeat numbered
# with the next; another session and a datagram that is no request are
# refused; a flood from one address is
# cut to the per-requester rate, and one from 300 addresses (more than
# the requester table holds) to 4 times it; no answer is wrong (the
# requester checks each). The default allow list is the destination's
# address, and loopback only when that is an address of this host; a list
# that admits every local user is warned about.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"
REQ=$top_builddir/tests/mdsub/requester
RATE=20000
BURST=2856 # two answers of 1400 bytes + 28 of headers (> RATE / 20)

pub feed 100 -t
"$MDSUB" --forward udp://127.0.0.1:9 --from oldest --session HOSTILE \
	--retransmit=127.0.0.1:0 --retransmit-rate=$RATE --linger=0 feed \
	2>"$WORK/fwd.err" &
fwd=$!
trap 'kill -KILL $fwd 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
port=$(rtx_port "$WORK/fwd.err")

# field NAME: the number after NAME in $out
field() { echo "$out" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }

out=$("$REQ" "$port" HOSTILE 1 65535 1) || fail "requester: $out"
[ "$(field answers)" = 1 ] || fail "65535 asked: $out"
[ "$(field largest)" -le 1400 ] || fail "an answer over --batch-bytes: $out"
first=$(field messages)
out=$("$REQ" "$port" HOSTILE 18446744073709551615 65535 1) || fail "$out"
[ "$(field answers)" = 0 ] && [ "$(field heartbeats)" = 1 ] ||
	fail "not a heartbeat for 2^64-1: $out"
out=$("$REQ" "$port" HOSTILE 101 1 1) || fail "$out"
[ "$(field answers)" = 0 ] && [ "$(field heartbeats)" = 1 ] ||
	fail "not a heartbeat for a message not sent: $out"
out=$("$REQ" "$port" SPOOFED 1 10 1) || fail "$out"
[ "$(field answers)" = 0 ] || fail "an answer to another session: $out"
"$REQ" "$port" --short || fail "short datagram"
sleep 1.5 # the bucket is full again

# a flood from one address: at most the bucket and the rate
out=$("$REQ" "$port" HOSTILE 1 65535 200) || fail "$out"
one=$(field answers)
max=$(awk -v s="$(field seconds)" "BEGIN { print int($BURST + $RATE * s) }")
[ "$one" -ge 1 ] && [ "$(field bytes)" -le "$max" ] ||
	fail "flood from one address: $out (at most $max bytes)"
echo "one address, 200 requests: $out"
sleep 1.5

# from 300 addresses: at most 4 times that in total
out=$("$REQ" "$port" HOSTILE 1 65535 300 300) || fail "$out"
many=$(field answers)
max=$(awk -v s="$(field seconds)" "BEGIN { print int(4 * ($BURST + $RATE * s)) }")
[ "$many" -ge 1 ] && [ "$(field bytes)" -le "$max" ] ||
	fail "flood from 300 addresses: $out (at most $max bytes)"
echo "300 addresses, 300 requests: $out"

kill -TERM $fwd
wait $fwd || fail "mdsub exited $?: $(cat "$WORK/fwd.err")"
served=$((1 + one + many))
rate=$((200 - one + 300 - many))
line="mdsub: udp://127.0.0.1:9: retransmission: $((served + 2)) requests served ($((first * served)) messages), $((rate + 2)) refused (allow 0, rate $rate, session 1, malformed 1), 0 out of range (before the session 0, filtered out 0), 0 read from the archive (readers opened 0, messages skipped 0)"
grep -qxF "$line" "$WORK/fwd.err" || fail "summary: $(cat "$WORK/fwd.err"), want $line"

# --retransmit-allow: a request from 127.0.0.1 gets no answer and is
# counted; those from 127.0.1.1 and 127.0.1.2 are answered (fwd.err
# emptied first: the last forwarder's closed port, still in it until the
# shell opens it for this one, gets no answer)
: >"$WORK/fwd.err"
"$MDSUB" --forward udp://127.0.0.1:9 --from oldest --session HOSTILE \
	--retransmit=127.0.0.1:0 --retransmit-allow=127.0.1.0/24 --linger=0 \
	feed 2>"$WORK/fwd.err" &
fwd=$!
port=$(rtx_port "$WORK/fwd.err")
out=$("$REQ" "$port" HOSTILE 1 1 1) || fail "requester: $out"
[ "$(field answers)" = 0 ] || fail "an answer to an address not allowed: $out"
out=$("$REQ" "$port" HOSTILE 1 1 2 2) || fail "requester: $out"
[ "$(field answers)" = 2 ] || fail "allowed addresses not answered: $out"
kill -TERM $fwd
wait $fwd || fail "mdsub exited $?: $(cat "$WORK/fwd.err")"
line="mdsub: udp://127.0.0.1:9: retransmission: 2 requests served (2 messages), 1 refused (allow 1, rate 0, session 0, malformed 0), 0 out of range (before the session 0, filtered out 0), 0 read from the archive (readers opened 0, messages skipped 0)"
grep -qxF "$line" "$WORK/fwd.err" || fail "summary: $(cat "$WORK/fwd.err"), want $line"

grep -qF "mdsub: feed: warning: --retransmit-allow 127.0.1.0/24 admits every local user (an address of this host)" \
	"$WORK/fwd.err" || fail "no warning for a loopback allow list: $(cat "$WORK/fwd.err")"

# without --retransmit-allow, a destination on another host: its address
# only. Before, loopback too, and any local user who knew the session got
# the channel re-sent, whatever its file mode (attack run). Run in a
# network namespace of its own (root), whose veth link holds 10.9.9.1/24:
# the destination, 10.9.9.2, is no address of this host, and nothing
# leaves the namespace
if [ "$(id -u)" = 0 ] && command -v nsenter >/dev/null &&
	unshare -n sh -c 'ip link add v0 type veth peer name v1' 2>/dev/null; then
	: >"$WORK/fwd.err"
	unshare -n sh -c 'ip link set lo up && ip link add v0 type veth peer name v1 &&
		ip addr add 10.9.9.1/24 dev v0 && ip link set v0 up &&
		ip link set v1 up || exit 99
		exec "$0" --forward udp://10.9.9.2:9 --from oldest --session HOSTILE \
			--retransmit=127.0.0.1:0 --linger=0 feed' "$MDSUB" 2>"$WORK/fwd.err" &
	fwd=$!
	port=$(rtx_port "$WORK/fwd.err")
	out=$(nsenter -t $fwd -n "$REQ" "$port" HOSTILE 1 1 1) || fail "requester: $out"
	[ "$(field answers)" = 0 ] || fail "an answer on loopback for another host's receiver: $out"
	kill -TERM $fwd
	wait $fwd || fail "mdsub in a network namespace exited $?: $(cat "$WORK/fwd.err")"
	grep -q "1 refused (allow 1," "$WORK/fwd.err" || fail "not refused: $(cat "$WORK/fwd.err")"
	grep -q "warning: --retransmit-allow" "$WORK/fwd.err" &&
		fail "a warning for another host's address: $(cat "$WORK/fwd.err")"
	echo "another host's receiver: loopback refused"
fi

# a bad list, a --bind that is no numeric ADDR:PORT: usage errors
status 64 "$MDSUB" --forward udp://127.0.0.1:9 --retransmit=127.0.0.1:0 \
	--retransmit-allow=10.0.0.0/33 feed 2>"$WORK/bad.err"
grep -q "^mdsub: --retransmit-allow: '10.0.0.0/33' is not an address" "$WORK/bad.err" ||
	fail "bad --retransmit-allow: $(cat "$WORK/bad.err")"
status 64 "$MDSUB" --forward udp://127.0.0.1:9 --bind=localhost:5 feed \
	2>"$WORK/bad.err"
grep -q "invalid --bind address" "$WORK/bad.err" || fail "bad --bind: $(cat "$WORK/bad.err")"

# without it, a multicast destination is refused: its receivers are not
# known
status 1 "$MDSUB" --forward udp://239.255.0.1:9 --from oldest \
	--retransmit=127.0.0.1:0 feed 2>"$WORK/mc.err"
grep -q "needs --retransmit-allow" "$WORK/mc.err" ||
	fail "multicast without --retransmit-allow: $(cat "$WORK/mc.err")"
exit 0
