#!/bin/sh
# Refused connections are rate-limited apart from the feeder's own
# connection lines (mdpub(8), LOGGING): 100 connections refused (50 over
# peer_connections from the feeder's address, 50 from an address not
# allowed) leave the warnings of the feeder's 4 connections reset just
# after them logged, each; the count of the refusals not logged says
# "connections refused", and the refusals logged plus those counts are
# the 100 the source counted. Before, refusals and the feeder's lines
# shared one limiter: the refusals used up its ten lines, the feeder's
# resets, a second after, were one line and a count labelled "input ends
# and connection errors".
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

listener refused peer_connections=4 allow=127.0.0.1

# the feeder's 4 connections, each sending a quote (their ends are the
# feeder's, not those of connections without an accepted message), then
# 100 refused (10 ms apart: the listen backlog is 16), then, once
# $WORK/go exists, the feeder's connections reset (mdpub reads
# ECONNRESET)
python3 -c "$(py_conn)
import os, struct
feeder = [conn('127.0.0.1') for i in range(4)]
for s in feeder:
    s.sendall(b'Q,REAL,1,1,2,1\n')
for src in ['127.0.0.1'] * 50 + ['127.0.0.2'] * 50:
    conn(src).close()
while not os.path.exists('$WORK/go'):
    time.sleep(0.02)
for s in feeder:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
" >"$WORK/client.err" 2>&1 &
CLIENT=$!
PIDS="$PIDS $CLIENT"
counted refused "channel x: source lines: idle 0 evicted 0 peer_limit 50 not_allowed 50 accept_errors 0$"
touch "$WORK/go"
wait "$CLIENT" || fail "client: $(cat "$WORK/client.err")"
# each reset logged: the warning, then the end (60 s at most)
logged() { # logged TEXT: how many lines of refused.log end with TEXT
	grep -c "channel x: connection from 127\.0\.0\.1: $1\$" "$WORK/refused.log"
}
i=0
until [ "$(logged "end of input after 1 lines")" -eq 4 ]; do
	i=$((i + 1))
	[ $i -le 1200 ] || fail "the feeder's 4 ends: $(logged "end of input after 1 lines") logged"
	sleep 0.05
done
stop "$PID"
[ "$(logged "Connection reset by peer")" -eq 4 ] ||
	fail "the feeder's 4 resets: $(logged "Connection reset by peer") logged"
grep -q "channel x: connections refused: [0-9]* similar messages not logged$" \
	"$WORK/refused.log" || fail "no count of the refusals"
grep "similar messages not logged" "$WORK/refused.log" |
	grep -v "channel x: connections refused: " && fail "a count not of refusals"
said=$(awk '/channel x: connection from 127\.0\.0\.[12] refused: / { n++ }
	/channel x: connections refused: [0-9]* similar messages not logged$/ {
		n += $(NF - 4)
	}
	END { print n + 0 }' "$WORK/refused.log")
[ "$said" -eq 100 ] || fail "$said of 100 refusals said"
exit 0
