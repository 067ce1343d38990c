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

flip_setup
flip_to_tls "$WORK/f.log" "$WORK/dst.log"

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
forward_again
took dst dst $((was + 1))
[ "$(grep -c "reconnection refused" "$WORK/dst.log")" -eq 1 ] ||
	fail "mdpub: $(grep "reconnection refused" "$WORK/dst.log")"
forwarder_done "$F2" "$WORK/f2.log" >/dev/null
stop "$DST"
stop "$SRC"
exit 0
