#!/bin/sh
# The lines source's `connect` to a feeder whose host dies without a word:
# host B's feeder sends one line and holds the connection; B's link goes
# (the veth pair deleted, nothing sent) and a new host C with B's address
# comes up with a feeder of its own. With keepalive = 1, mdpub sees the
# old connection fail (C answers its probe with a reset, or the probes go
# unanswered) and connects again: C's line is published. Before, mdpub
# never wrote to the feeder, so the connection stayed ESTABLISHED for good
# and the channel waited on a dead host (attack run, 2026-12-06).
. "${top_srcdir:-.}/tests/net/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
NS_C=mdbus-t$$-c
DEV_C=mdbt$$c
PORT=9000
trap 'net_cleanup; ip netns del "$NS_C" 2>/dev/null' EXIT
netns_pair

# feeder NS SYM: in NS, a feeder on $ADDR_B:$PORT that sends one line for
# symbol SYM to the first connection and holds it open (its pid in PIDS)
feeder() {
	rm -f "$WORK/listening"
	ip netns exec "$1" python3 -c "
import socket, time
s = socket.socket()
s.bind(('$ADDR_B', $PORT))
s.listen(1)
open('$WORK/listening', 'w').write('1')
c, _ = s.accept()
c.sendall(b'Q,$2,1,1,2,1\n')
time.sleep(300)
" &
	PIDS="$PIDS $!"
	written "$WORK/listening" "feeder in $1"
}

feeder "$NS_B" K1
channel ka.conf ka source=lines "connect=$ADDR_B:$PORT" reconnect=0.5 keepalive=1
$IN_A "$MDPUB" -c "$WORK/ka.conf" >"$WORK/ka.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_log ka "channel ka: connected to $ADDR_B:$PORT" # its signals handled
counted ka "channel ka: in 1 out 1 "

# B dies: its link goes, with nothing sent; C comes up at B's address
ip -n "$NS_A" link del "$DEV_A" || fail "link del"
ip netns add "$NS_C" || fail "ip netns add $NS_C"
ip link add "$DEV_A" netns "$NS_A" type veth peer name "$DEV_C" netns "$NS_C" ||
	fail "veth pair to C"
$IN_A ip addr add "$ADDR_A/24" dev "$DEV_A" || fail "address A"
ip -n "$NS_C" addr add "$ADDR_B/24" dev "$DEV_C" || fail "address C"
ip -n "$NS_C" link set lo up || fail "lo up in C"
$IN_A ip link set "$DEV_A" up || fail "$DEV_A up"
ip -n "$NS_C" link set "$DEV_C" up || fail "$DEV_C up"
feeder "$NS_C" K2
counted ka "channel ka: in 2 out 2 "
[ "$(grep -c "channel ka: connected to $ADDR_B:$PORT" "$WORK/ka.log")" -eq 2 ] ||
	fail "not connected twice: $(grep 'channel ka' "$WORK/ka.log")"
stop "$PID"
echo "the dead feeder's connection ended: $(grep 'channel ka: .*:[0-9]*: ' "$WORK/ka.log" | grep -v connected | head -n 1 | sed 's/.*mdpub//')"
exit 0
