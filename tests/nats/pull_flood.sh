#!/bin/sh
# Another client floods the nats source's pull inbox while the source's
# reader does not take (held by back-pressure; here by the interposer
# nats/pull_hold.c at its first delivery): the inbox holds at most its
# pending limits (daemons/src_nats.c pending_limits(): with batch 256, at
# least libnats's 64 MB), and the client library drops the rest, so the
# flood costs bounded memory. A spy subscribed to the pull requests'
# subject learns the inbox from the first request's reply subject (as a
# client that may read that subject, or the server's /connz, can) and
# publishes 100 messages of 1 MB to it. The hook counts what libnats
# dropped on the inbox: some (before, with no limits, 0: mdpub's memory
# grew by the whole flood); mdpub then takes every stream message and
# stops cleanly.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
hook pull_hold

S=10      # stream messages
F=100     # flood messages of SIZE bytes
SIZE=1000000

js_filled fl $S

# the spy: the first pull request's reply subject, then the flood to it
python3 - "$PORT" "$F" "$SIZE" "$WORK/spy" <<'PY' &
import socket, sys, os
port, n, size, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false}\r\nSUB $JS.API.CONSUMER.MSG.NEXT.> 1\r\nPING\r\n')
while f.readline().strip() != b"PONG":
    pass
open(out + ".ready", "w").close()
while True:
    line = f.readline().split()
    if line and line[0] == b"MSG" and len(line) == 5:
        inbox = line[3]
        break
    if line and line[0] == b"PING":
        s.sendall(b"PONG\r\n")
body = b"f" * size
for i in range(n):
    s.sendall(b"PUB " + inbox + b" %d\r\n" % size + body + b"\r\n")
s.sendall(b"PING\r\n")
while f.readline().strip() != b"PONG":
    pass
with open(out, "w") as o:
    o.write(inbox.decode() + "\n")
PY
SPY=$!
spy_ready

pull_conf fl
PULL_HOLD_COUNT=$F # held until the flood came (or 20 s)
export PULL_HOLD_COUNT
start_hooked fa "$HOOK" "PULL_HOLD_FILE=$WORK/hold" -c "$WORK/fl.conf"
wait "$SPY" || fail "spy: no pull request seen, or the flood failed"
echo "flooded inbox $(cat "$WORK/spy")"
# every stream message taken (the 1-byte ones are malformed for mdpub)
# and acknowledged
all_taken fa fl $S
stop "$PID"
hook_counts "$WORK/hold" fa
echo "reader held $N1 times; inbox messages the client library dropped: $N2"
[ "$N1" -eq 1 ] || fail "the reader was held $N1 times, not once"
[ "$N2" -ge 1 ] || fail "a flood of $F messages of $SIZE bytes was all kept (no pending limits on the inbox)"
exit 0
