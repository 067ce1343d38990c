#!/bin/sh
# Connections closed idle or evicted before they sent an accepted message
# (anyone who may connect has as many as they like) are rate-limited
# apart from the lines of the feeder's connections (mdpub(8), LOGGING):
# 100 such connections from 127.0.0.2, each evicted for a newcomer or
# closed idle, leave the feeder's own lines logged, each: the close of its
# connection that went quiet after a quote (trouble with the feed) and
# the ends of its 4 others just after the 100; the count of the closes not
# logged says "ends, errors and closes of connections without an accepted
# message", and the closes logged plus those counts are the 100. Before,
# they shared the feeder's limiter: the closes used up its ten lines, and
# the feeder's lines came out as one line a second and a count labelled
# "input ends and connection errors".
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

listener closed peer_connections=64 idle_timeout=6

# the feeder's connection that sends one quote and then nothing, its 4
# others that send a quote every 0.5 s, then 100 connections from
# 127.0.0.2 that send nothing (10 ms apart: the listen backlog is 16):
# those past the 64 open evict the oldest of them, the rest are closed
# idle; once $WORK/go exists, the 4 end their input
python3 -c "$(py_conn)
import os
def quote(s):
    s.sendall(b'Q,REAL,1,1,2,1\n')
quiet = conn('127.0.0.1')
quote(quiet)
feeder = [conn('127.0.0.1') for i in range(4)]
last = 0
def beat():
    global last
    if time.monotonic() - last >= 0.5:
        for s in feeder:
            quote(s)
        last = time.monotonic()
peers = []
for i in range(100):
    beat()
    peers.append(conn('127.0.0.2'))
while not os.path.exists('$WORK/go'):
    beat()
    time.sleep(0.02)
for s in feeder:
    s.close()
" >"$WORK/client.err" 2>&1 &
CLIENT=$!
PIDS="$PIDS $CLIENT"
counters() { # the last "idle I evicted E" of the source, as "I E"
	sed -n 's/.*channel x: source lines: idle \([0-9]*\) evicted \([0-9]*\) peer_limit 0 not_allowed 0 accept_errors 0$/\1 \2/p' \
		"$WORK/closed.log" | tail -n 1
}
# the 101 closes (the quiet feeder's too) counted, 60 s at most
i=0
until kill -USR1 "$PID" && sleep 0.1 &&
	[ "$(counters | awk '{ print $1 + $2 }')" = 101 ]; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "101 closes: $(counters) (idle, evicted)"
done
touch "$WORK/go"
wait "$CLIENT" || fail "client: $(cat "$WORK/client.err")"
logged() { # logged TEXT: how many lines of closed.log end with TEXT
	grep -c "channel x: connection from 127\.0\.0\.$1\$" "$WORK/closed.log"
}
ends="1: end of input after [0-9]* lines"
i=0
until [ "$(logged "$ends")" -eq 4 ]; do
	i=$((i + 1))
	[ $i -le 1200 ] || fail "the feeder's 4 ends: $(logged "$ends") logged"
	sleep 0.05
done
stop "$PID"
quiet="1 closed: no accepted message for 6 s"
[ "$(logged "$quiet")" -eq 1 ] || fail "the feeder's quiet connection: $(logged "$quiet") closes logged"
set -- $(counters)
[ "$1" -gt 1 ] && [ "$2" -gt 0 ] || fail "idle $1, evicted $2: not both kinds"
label="channel x: ends, errors and closes of connections without an accepted message"
grep -q "$label: [0-9]* similar messages not logged$" "$WORK/closed.log" ||
	fail "no count of the closes"
grep "similar messages not logged" "$WORK/closed.log" |
	grep -v "$label: " && fail "a count not of the closes"
said=$(awk -v label="$label" '
	/channel x: connection from 127\.0\.0\.2 closed(: no accepted message for 6 s| for a connection from 127\.0\.0\.2: 64 connections open; .* \(none since it connected\))$/ { n++ }
	index($0, label ": ") && / similar messages not logged$/ { n += $(NF - 4) }
	END { print n + 0 }' "$WORK/closed.log")
[ "$said" -eq 100 ] || fail "$said of 100 closes said"
exit 0
