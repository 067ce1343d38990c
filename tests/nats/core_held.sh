#!/bin/sh
# mdsub --forward nats:// (core NATS) hands what it forwards while the
# server is away to the client library's reconnect buffer, which the
# next connection sends and a close drops. Stopped with no server back,
# mdsub says how many were dropped so, exactly, and exits 1; messages
# held while the server was away once before, and sent when it came
# back, are not among them, nor those sent when it comes back during the
# final flush. Before, its summary counted them all as published and it
# exited 0.
. "${top_srcdir:-.}/tests/nats/helpers.sh"

# the ring's messages stand still while the source is stopped: every
# one read is published (no skip: the window has room)
read_stopped() {
	kill -STOP "$SRC"
	read_all "$F" src
}

channel src.conf src source=synthetic rate=2000
run_channel src
SRC=$PID
nats_start n1 -m -1
PORT=$(nats_port n1)
URL=nats://127.0.0.1:$PORT
"$MDSUB" --forward "$URL" src >"$WORK/f.log" 2>&1 &
F=$!
PIDS="$PIDS $F"
forwarding "$F" src

# away, and back before the stop: what was held is sent
read_stopped
nats_kill n1 KILL
sleep 1 # the library lost the connection: publishes go to its buffer
kill -CONT "$SRC"
sleep 0.3
read_stopped
nats_start n1 -p "$PORT" -m -1
i=0
until monitor n1 /connz | grep -q '"num_connections": 1'; do
	i=$((i + 1)); [ $i -le 200 ] || fail "mdsub is not back: $(monitor n1 /connz)"
	sleep 0.05
done

# away at the stop: the messages forwarded since are dropped, and said
before=$(position "$F" src)
nats_kill n1 KILL
sleep 1
kill -CONT "$SRC"
sleep 0.3
read_stopped
after=$(position "$F" src)
[ "$after" -gt "$before" ] || fail "nothing forwarded while away ($before, $after)"
kill -TERM "$F"
ended_within "$F" 30
[ "$rc" -eq 1 ] || fail "mdsub: exit $rc, not 1: $(cat "$WORK/f.log")"
cat "$WORK/f.log"
grep -q "^mdsub: nats: no server back at exit: the last $((after - before)) messages published waited in the client library's reconnect buffer and are dropped$" \
	"$WORK/f.log" ||
	fail "not $((after - before)) dropped: $(cat "$WORK/f.log")"

# away at the stop, back during the final flush (its wait widened): what
# was held is sent, nothing is said dropped, exit 0
nats_start n1 -p "$PORT" -m -1
"$MDSUB" --forward "$URL" --nats-ack-wait=8000 src >"$WORK/f3.log" 2>&1 &
F=$!
PIDS="$PIDS $F"
kill -CONT "$SRC"
forwarding "$F" src
nats_kill n1 KILL
sleep 1
read_stopped
kill -TERM "$F"
sleep 0.5
kill -CONT "$SRC"
nats_start n1 -p "$PORT" -m -1
ended_within "$F" 30
[ "$rc" -eq 0 ] || fail "mdsub, the server back at its stop: exit $rc: $(cat "$WORK/f3.log")"
grep -q "dropped" "$WORK/f3.log" && fail "said dropped: $(cat "$WORK/f3.log")"
stop "$SRC"
exit 0
