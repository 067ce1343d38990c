#!/bin/sh
# Acknowledgements made while the NATS connection is down go out when it
# comes back (the client library writes what it kept at the
# reconnection): a stop after the connection went away again must not
# wait 5 s for them, nor say they are lost (mdpub.conf(5), source nats).
# As in tests/nats/ack_down.sh, nats-server is killed while a ring held
# full by a stopped reader holds back what mdpub fetched, and mdpub
# publishes it all meanwhile (acknowledged while away); then nats-server
# is started again on its port and store, mdpub reconnects and the
# acknowledgement reaches it (the durable's floor at the stream's last),
# nats-server is killed again, and mdpub is stopped (SIGTERM): it exits
# 0 in less than 4.5 s (its flush waits 2 s for a server that is not
# there) without the warning; started again with the same durable (the
# server back) it has nothing to publish. Before the fix: 5 s, and the
# warning.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

away b1
nats_start nb1 -js -m -1 -p "$port"
i=0
until [ "$(consumer b1 floor)" -eq "$PUB" ] 2>/dev/null; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "consumer b1: floor not $PUB: $(cat "$WORK/b1.jsz")"
	sleep 0.05
done
sleep 1 # the source sees the connection back (its reader: 0.5 s at most)
nats_kill nb1
kill -TERM "$A"
wait "$A" || fail "mdpub exited $? after SIGTERM"
ms=$(stop_ms b1a)
wait "$RD" || fail "reader b1r: $(cat "$WORK/b1r.err")"
grep -q "$LOST" "$WORK/b1a.log" && fail "b1a: $(grep "$LOST" "$WORK/b1a.log") (stop in $ms ms)"
[ "$ms" -lt 4500 ] || fail "b1a: stop in $ms ms"
echo "acknowledged away, reconnected, away again: stop in $ms ms, no warning"
nats_start nb1 -js -m -1 -p "$port"
second b1 0
exactly_once b1 b1r
exit 0
