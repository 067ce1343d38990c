#!/bin/sh
# The ends and read errors of accepted connections that never sent an
# accepted message (anyone who may connect has as many as they like:
# connect and close at once, or reset) are rate-limited apart from the
# input ends and connection errors, the feeder's (mdpub(8), LOGGING):
# 100 connections from 127.0.0.2 closed at once and 100 reset at once
# (SO_LINGER 0) leave the feeder's lines just after them logged, each:
# the ends of its 4 connections that sent a quote, 2 closed and 2 reset,
# and the 2 resets' errors; the only count says "ends, errors and closes
# of connections without an accepted message", and the lines of
# 127.0.0.2 logged plus those counts are the 300 (100 ends, 100 errors
# and their 100 ends). Before, they shared the feeder's limiter: the 300
# used up its ten lines, and the feeder's 6 came out as one line a second
# and a count labelled "input ends and connection errors".
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

listener ended peer_connections=64

# the feeder's 4 connections, each sending a quote, then 200 from
# 127.0.0.2 that send nothing, every other one closed and the others
# reset at once (10 ms apart: the listen backlog is 16); once $WORK/go
# exists, the feeder's 2 first connections close and its 2 others reset
python3 -c "$(py_conn)
import os, struct
def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
feeder = [conn('127.0.0.1') for i in range(4)]
for s in feeder:
    s.sendall(b'Q,REAL,1,1,2,1\n')
for i in range(100):
    conn('127.0.0.2').close()
    reset(conn('127.0.0.2'))
while not os.path.exists('$WORK/go'):
    time.sleep(0.02)
for s in feeder[:2]:
    s.close()
for s in feeder[2:]:
    reset(s)
" >"$WORK/client.err" 2>&1 &
CLIENT=$!
PIDS="$PIDS $CLIENT"
said() { # said ADDRS [LABEL]: the ends and errors of connections from
	# 127.0.0.ADDRS logged, plus the counts (labelled LABEL; any)
	awk -v addrs="$1" -v label="${2:-}" '
	$0 ~ "channel x: connection from 127\\.0\\.0\\." addrs ": (end of input after [0-9]+ lines|Connection reset by peer)$" { n++ }
	index($0, label ": ") && / similar messages not logged$/ { n += $(NF - 4) }
	END { print n + 0 }' "$WORK/ended.log"
}
# said() waits until counted ones are logged (a second after the last
# line logged of their kind at the latest), 60 s at most each
until_said() { # until_said ADDRS N: until said ADDRS is N
	i=0
	until [ "$(said "$1")" -eq "$2" ]; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "$(said "$1") of $2 ends and errors said"
		sleep 0.05
	done
}
until_said 2 300
touch "$WORK/go"
wait "$CLIENT" || fail "client: $(cat "$WORK/client.err")"
until_said "[12]" 306
stop "$PID"
logged() { # logged TEXT: how many lines of ended.log end with TEXT
	grep -c "channel x: connection from 127\.0\.0\.1: $1\$" "$WORK/ended.log"
}
[ "$(logged "end of input after 1 lines")" -eq 4 ] ||
	fail "the feeder's 4 ends: $(logged "end of input after 1 lines") logged"
[ "$(logged "Connection reset by peer")" -eq 2 ] ||
	fail "the feeder's 2 resets: $(logged "Connection reset by peer") logged"
label="channel x: ends, errors and closes of connections without an accepted message"
grep -q "$label: [0-9]* similar messages not logged$" "$WORK/ended.log" ||
	fail "no count of the ends and errors of 127.0.0.2"
grep "similar messages not logged" "$WORK/ended.log" |
	grep -v "$label: " && fail "a count not of 127.0.0.2's"
[ "$(said 2 "$label")" -eq 300 ] || fail "$(said 2 "$label") of 300 said"
exit 0
