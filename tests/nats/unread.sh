#!/bin/sh
# Whatever answers at a nats source's url (tests/nats/no_pong.py pings:
# the handshake and the subscription answered, then nothing read and
# PINGs sent) holds the client library's reading thread in the send of
# a PONG, with the connection's lock, once the socket is full: the
# handshake guard (common/nats_guard.h) cuts a connection whose server
# took none of what it had to send for 10 s, the library reconnects, and
# mdpub, its synthetic channel with it, stops on SIGTERM. Before, the
# channel read nothing more, saying nothing, and mdpub never ended
# (attack run).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
CUTS_EXPECTED=yes

no_pong u 0 pings
channel un.conf other source=synthetic rate=100
printf '%s\n' "[channel un]" "source = nats" \
	"url = nats://127.0.0.1:$(cat "$WORK/u.port")" "subject = mdbus.un.>" \
	>>"$WORK/un.conf"
start un -c "$WORK/un.conf"
wait_log un "channel un: publishing from"
wait_for grep -q "connection cut, as the client library would wait for ever" "$WORK/un.log"
grep -q "NATS server 127.0.0.1:$(cat "$WORK/u.port"): it read nothing sent to it for 10 s: connection cut" \
	"$WORK/un.log" || fail "not cut as unread: $(grep 'cut' "$WORK/un.log")"
kill -TERM "$PID"
ended_within "$PID" 30
[ "$rc" -eq 0 ] || fail "mdpub: exit $rc after SIGTERM, not 0 within 30 s"
echo "a server that read nothing: cut after 10 s, mdpub stopped"
