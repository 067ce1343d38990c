#!/bin/sh
# A listener on a NATS server's port whose INFO asks for TLS
# (tests/nats/no_pong.py tls), put there while nats-server is down, turns
# the client library (libnats 3.4.1, src/conn.c _checkForSecure()) to TLS
# for the connection's whole life: when nats-server is back on its plain
# port, every reconnection is refused. Before, nothing said so: mdsub
# --forward went on reading its channel and mdpub's nats source went
# silent, both for ever. Now mdsub exits 1 naming it and the fix, and mdpub
# logs it as an error and makes a new connection (common/nats_conn.c,
# look_tls_forced(); daemons/src_nats.c, reconnect()).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
CUTS_EXPECTED=yes # the listener's TLS handshake, after 4 s

channel src.conf src source=synthetic rate=2000
run_channel src
SRC=$PID
nats_start n1
PORT=$(nats_port n1)
URL=nats://127.0.0.1:$PORT
channel dst.conf dst source=nats "url=$URL" 'subject=mdbus.src.>'
run_channel dst
DST=$PID
"$MDSUB" --forward "$URL" src >"$WORK/f.log" 2>&1 &
F=$!
PIDS="$PIDS $F"
forwarding "$F" src
wait_for test "$(dir_write_num "$MDBUS_DIR" dst)" -gt 0

nats_kill n1 KILL
no_pong r "$PORT" tls
TLS_CUT="TLS handshake not done in 4.0 s"
wait_for grep -q "$TLS_CUT" "$WORK/f.log"
wait_for grep -q "$TLS_CUT" "$WORK/dst.log"
kill "$FPID"
wait "$FPID" 2>/dev/null
nats_start n1 -p "$PORT" -m -1

WHY="nats://127.0.0.1:$PORT: reconnection refused 1 time: the client library now wants TLS of this connection"
ended_within "$F" 30
[ "$rc" -eq 1 ] || fail "mdsub: exit $rc, not 1 in 30 s: $(cat "$WORK/f.log")"
grep -qF "mdsub: nats: $WHY" "$WORK/f.log" || fail "mdsub: $(cat "$WORK/f.log")"
grep -q "offers none: nothing would be forwarded until mdsub starts again (run nats-server on a port below 1024, or with TLS and --nats-ca)$" \
	"$WORK/f.log" || fail "mdsub: no fix named: $(cat "$WORK/f.log")"
wait_for grep -qF "mdpub[err]: channel dst: $WHY" "$WORK/dst.log"
grep -q "making a new connection (run nats-server on a port below 1024, or with TLS and ca)$" \
	"$WORK/dst.log" || fail "mdpub: $(grep refused "$WORK/dst.log")"
# mdpub makes a new connection, plain, and relays again once a
# forwarder publishes again (started anew, as a supervisor would)
wait_for grep -q "channel dst: connected anew to $URL$" "$WORK/dst.log"
was=$(dir_write_num "$MDBUS_DIR" dst)
"$MDSUB" --forward "$URL" src >"$WORK/f2.log" 2>&1 &
F2=$!
PIDS="$PIDS $F2"
i=0
until [ "$(dir_write_num "$MDBUS_DIR" dst)" -gt "$was" ]; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "nothing relayed in 60 s on the new connection: $(tail -n 5 "$WORK/dst.log")"
	sleep 0.1
done
[ "$(grep -c "reconnection refused" "$WORK/dst.log")" -eq 1 ] ||
	fail "mdpub: $(grep "reconnection refused" "$WORK/dst.log")"
kill -TERM "$F2"
ended_within "$F2" 30
[ "$rc" -eq 0 ] || fail "the second forwarder: exit $rc: $(cat "$WORK/f2.log")"
stop "$DST"
stop "$SRC"
exit 0
