#!/bin/sh
# A listener on a NATS server's port that sends INFO and never answers
# CONNECT and PING (tests/nats/no_pong.py), as any local user may while
# nats-server is down: the client library (libnats 3.4.1) would loop for
# ever in that handshake, holding a CPU and its lock, and grow the
# process's memory (nats-io/nats.c issue 706); the handshake guard
# (common/nats_guard.h) cuts it once the library's 2 s are past.
#  1. At the start: `mdsub --forward` and mdpub's nats source (this
#     listener streaming bytes without a newline: cut once it has sent
#     64 KiB) exit 1 naming it.
#     Before, both ran on until killed. So does mdsub when the listener
#     asks for TLS and does not answer the TLS handshake, in which the
#     library waits with no timeout (cut after 4 s: nats_guard.h).
#  2. At a reconnection: nats-server killed under a forwarder and a nats
#     source and the listener put on its port: both try again and again
#     (before: one attempt each, for ever; now 2 s apart after a cut),
#     say so once, and relay again when nats-server is back; both end on
#     SIGTERM.
#  3. The forwarder runs with NATS_DEFAULT_LIB_WRITE_DEADLINE set, which
#     would keep a connected socket non-blocking, as the guard takes a
#     handshake: its connection is not cut (nats_conn_open() sets none).
#  4. The mdpub with the nats source has a lines channel too, fed for 3 s
#     on a TCP connection, non-blocking as mdpub's own sockets are: the
#     guard watches only the NATS servers' addresses, the 20 lines all
#     arrive (before, the feeder was cut after 2 s, 10 lines).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
CUTS_EXPECTED=yes
CUT="no answer to CONNECT in 2.0 s (nats-io/nats.c issue 706): connection cut"

# failed_at_start NAME WHO [WHY]: the program $PID (its output in
# $WORK/NAME.log), connecting to no_pong NAME at its start, exits 1
# within 30 s with the line "WHO: nats://...: WHY..." (default: no
# answer to CONNECT in 2.0 s); the guard's own line, which its thread
# writes as the program exits, at most once
failed_at_start() {
	ended_within "$PID" 30
	[ "$rc" -eq 1 ] || fail "$1: exit $rc, not 1 in 30 s"
	u=nats://127.0.0.1:$(cat "$WORK/$1.port")
	why=${3:-"no answer to CONNECT in 2.0 s (nats-io/nats.c issue 706)"}
	grep -qF "$2: $u: $why: is a NATS server there?" "$WORK/$1.log" ||
		fail "$1: $(cat "$WORK/$1.log")"
	[ "$(grep -c "connection cut" "$WORK/$1.log")" -le 1 ] ||
		fail "$1: the cut told more than once: $(cat "$WORK/$1.log")"
}

# 1. at the start
channel src.conf src source=synthetic rate=2000
run_channel src
SRC=$PID
no_pong q 0
"$MDSUB" --forward "nats://127.0.0.1:$(cat "$WORK/q.port")" src \
	>"$WORK/q.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
failed_at_start q mdsub
no_pong t 0 tls
"$MDSUB" --forward "nats://127.0.0.1:$(cat "$WORK/t.port")" src \
	>"$WORK/t.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
failed_at_start t mdsub "TLS handshake not done in 4.0 s"
no_pong s 0 stream
channel s.conf s source=nats "url=nats://127.0.0.1:$(cat "$WORK/s.port")" \
	'subject=mdbus.x.>'
start s -c "$WORK/s.conf"
failed_at_start s "channel s" "more than 64 KiB and no answer to CONNECT"

# 2. at a reconnection; 3. with a write deadline in the environment;
# 4. beside a lines channel fed over TCP
nats_start n1
PORT=$(nats_port n1)
URL=nats://127.0.0.1:$PORT
channel dst.conf dst source=nats "url=$URL" 'subject=mdbus.src.>'
printf '%s\n' "[channel ln]" "source = lines" "format = csv" \
	"listen = 127.0.0.1:0" >>"$WORK/dst.conf"
run_channel dst
DST=$PID
LN_PORT=$(port_of dst)
python3 - "$LN_PORT" <<'PY' || fail "the lines feeder"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(20):
    s.sendall(b"Q,F%d,%d,1,2,1\n" % (i, i))
    time.sleep(0.15)
s.close()
PY
wait_log dst "channel ln: connection from 127.0.0.1[^ ]*: end of input after"
grep -q "channel ln: connection from 127.0.0.1[^ ]*: end of input after 20 lines" \
	"$WORK/dst.log" || fail "the lines feeder: $(grep 'channel ln' "$WORK/dst.log")"
NATS_DEFAULT_LIB_WRITE_DEADLINE=5000 "$MDSUB" --forward "$URL" src \
	>"$WORK/f2.log" 2>&1 &
F2=$!
PIDS="$PIDS $F2"
forwarding "$F2" src
wait_for test "$(dir_write_num "$MDBUS_DIR" dst)" -gt 0
sleep 5 # past the guard's 2 s, and 4 s for a blocking socket
grep -q "connection cut" "$WORK/f2.log" "$WORK/dst.log" &&
	fail "a connection with a write deadline was cut: $(grep -h 'connection cut' "$WORK/f2.log" "$WORK/dst.log")"

nats_kill n1 KILL
no_pong r "$PORT"
i=0
until [ "$(grep -c . "$WORK/r.conns")" -ge 4 ]; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "$(grep -c . "$WORK/r.conns") handshakes in 60 s, not 4: the first never ended"
	sleep 0.1
done
kill -0 "$F2" || fail "mdsub ended: $(cat "$WORK/f2.log")"
kill -0 "$DST" || fail "mdpub ended: $(cat "$WORK/dst.log")"
wait_for grep -q "$CUT" "$WORK/f2.log"
wait_for grep -q "$CUT" "$WORK/dst.log"
warned_once "mdsub reconnecting" "$WORK/f2.log" "$CUT" \
	"mdsub: nats: NATS server 127.0.0.1:$PORT: $CUT"
warned_once "mdpub reconnecting" "$WORK/dst.log" "$CUT" \
	"mdpub[warning]: NATS server 127.0.0.1:$PORT: $CUT"
kill "$FPID"
wait "$FPID" 2>/dev/null
PID=$DST
took dst dst 1
was=$(stats dst dst in) # (not the ring's count: idle heartbeats)
nats_start n1 -p "$PORT" -m -1
took dst dst $((was + 1))
# both connections back, and not cut again (blocking, up: 4 s and more)
varz() { monitor n1 /varz | tr -d ' ,' | sed -n "s/^\"$1\":\([0-9]*\)\$/\1/p"; }
wait_for test "$(varz connections)" = 2
made=$(varz total_connections)
sleep 5
[ "$(varz total_connections)" = "$made" ] && [ "$(varz connections)" = 2 ] ||
	fail "connections cut after the reconnection: $made, then $(varz total_connections) made, $(varz connections) up"
kill -TERM "$F2"
ended_within "$F2" 30
[ "$rc" -eq 0 ] || fail "mdsub after SIGTERM: exit $rc: $(cat "$WORK/f2.log")"
stop "$DST"
stop "$SRC"
echo "$(grep -c . "$WORK/r.conns") handshakes cut while nats-server was down; $was messages taken before, $(stats dst dst in) at the end"
exit 0
