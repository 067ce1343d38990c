#!/bin/sh
# tests/nats/tls_flip.sh with a second server in the url list, one that is
# down: the client library's refusals for TLS are not seen then (the
# down server's failure clears the error the reconnect-delay handler
# looks at), and mdpub's nats source, away for 30 s with several
# servers, makes a new connection anyway (daemons/src_nats.c,
# look_away()), which relays again. Before, it read nothing more, saying
# nothing (found by the race review). mdsub --forward with such a list
# cannot tell either; it says at 30 s that no server is back, naming
# what a listener may have done (common/nats_conn.c, look_away()), and,
# stopped so, how many messages the client library's buffer drops.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
CUTS_EXPECTED=yes # the listener's TLS handshake, after 4 s

DOWN=nats://127.0.0.1:$(free_ports 1)
flip_setup "$DOWN"
"$MDSUB" --forward "$URL,$DOWN" src >"$WORK/fl.log" 2>&1 &
FL=$!
PIDS="$PIDS $FL"
forwarding "$FL" src
flip_to_tls "$WORK/f.log" "$WORK/dst.log" "$WORK/fl.log"
# the forwarder, with one server, says so and ends; started again
ended_within "$F" 30
[ "$rc" -eq 1 ] || fail "mdsub: exit $rc, not 1 in 30 s: $(cat "$WORK/f.log")"
forward_again
wait_for grep -qF "channel dst: $URL,$DOWN: no server back for 30 s (the client library keeps trying): making a new connection" \
	"$WORK/dst.log"
took dst dst $((was + 1))
AWAY="$URL,$DOWN: no server back for 30 s (the client library keeps trying): what is forwarded meanwhile waits in it (64 MB at most) or the window; a listener that asked for TLS meanwhile keeps it away until mdsub starts again (mdsub(1), BUGS)"
wait_for grep -qxF "mdsub: nats: $AWAY" "$WORK/fl.log"
kill -0 "$FL" || fail "mdsub with a list ended: $(cat "$WORK/fl.log")"
# stopped with no server back: what waits in the client library is
# dropped, and said (exit 1)
kill -TERM "$FL"
ended_within "$FL" 30
[ "$rc" -eq 1 ] && grep -q "^mdsub: nats: no server back at exit: the last [1-9][0-9]* messages published waited in the client library's reconnect buffer and are dropped$" \
	"$WORK/fl.log" || fail "mdsub with a list, stopped: exit $rc: $(cat "$WORK/fl.log")"
grep -qF "channel dst: connected anew to $URL (of $URL,$DOWN)" "$WORK/dst.log" ||
	fail "mdpub: $(tail -n 5 "$WORK/dst.log")"
forwarder_done "$F2" "$WORK/f2.log" >/dev/null
stop "$DST"
stop "$SRC"
exit 0
