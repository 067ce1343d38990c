#!/bin/sh
# An -ERR that the client library does not know closes its connection
# for good (libnats 3.4.1 reconnects only after a stale connection): a
# listener on nats-server's port while the server is down
# (tests/nats/no_pong.py err) ends the handshake, then sends one. mdpub's
# nats source says so (a line each time, at most one in 2 s) and makes a
# new connection 2 s later, which relays again once nats-server is back;
# `mdsub --forward` ends its run (exit 1) naming it, as when a connection
# cannot come back. Before,
# the source read nothing more, for ever, logging "Connection Closed
# (retrying)", and mdsub forwarded nothing, for ever, failing each
# message (attack run).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

flip_setup
nats_kill n1 KILL
no_pong r "$PORT" err
CLOSED="the client library closed the connection for good (not known to the client library)"
wait_for grep -qF "channel dst: $CLOSED: making a new connection" "$WORK/dst.log"
ended_within "$F" 30
[ "$rc" -eq 1 ] || fail "mdsub: exit $rc, not 1 in 30 s: $(tail -n 3 "$WORK/f.log")"
grep -qF "mdsub: nats: $URL: $CLOSED: nothing would be forwarded until mdsub starts again" \
	"$WORK/f.log" || fail "mdsub: $(tail -n 3 "$WORK/f.log")"
kill "$FPID"
wait "$FPID" 2>/dev/null
nats_start n1 -p "$PORT" -m -1
forward_again
took dst dst $((was + 1))
wait_for grep -q "channel dst: connected anew to $URL" "$WORK/dst.log"
n=$(grep -c "channel dst: $CLOSED" "$WORK/dst.log")
echo "closed for good: mdsub ended (exit 1), mdpub connected anew and relays again ($n lines)"
