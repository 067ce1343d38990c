#!/bin/sh
# A message that another client publishes to the nats source's pull
# inbox (learnt from a pull request's reply subject, as a client that may
# read that subject, or the server's /connz, can), with a reply subject
# of its choosing, is no delivery of the source's consumer: it is judged
# as any message (here malformed) and never acknowledged. Before, mdpub
# published "+ACK" to that reply subject on its own connection (attack
# run). The stream's own messages are still all taken and acknowledged.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

S=5
js_filled fg $S

# the spy: learns the inbox from the first pull request, publishes one
# message there with the reply subject forged.reply, then counts for 5 s
# what comes to forged.>
python3 - "$PORT" "$WORK/spy" <<'PY' &
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false}\r\nSUB $JS.API.CONSUMER.MSG.NEXT.> 1\r\n'
          b'SUB forged.> 2\r\nPING\r\n')
while f.readline().strip() != b"PONG":
    pass
open(out + ".ready", "w").close()
while True:
    line = f.readline().split()
    if line and line[0] == b"MSG" and line[2] == b"1" and len(line) == 5:
        inbox = line[3]
        f.readline()
        break
    if line and line[0] == b"PING":
        s.sendall(b"PONG\r\n")
s.sendall(b"PUB " + inbox + b" forged.reply 4\r\njunk\r\n")
s.settimeout(0.2)
got, end = 0, time.time() + 5
buf = b""
while time.time() < end:
    try:
        buf += s.recv(65536)
    except socket.timeout:
        continue
    got += buf.count(b"MSG forged.reply 2 ")
    buf = buf[buf.rfind(b"\n") + 1:]
with open(out, "w") as o:
    o.write("%d\n" % got)
PY
SPY=$!
spy_ready

pull_conf fg
start fa -c "$WORK/fg.conf"
wait "$SPY" || fail "spy: no pull request seen"
[ "$(cat "$WORK/spy")" = 0 ] ||
	fail "mdpub answered the forged message's reply subject $(cat "$WORK/spy") times"
# every stream message taken (the 1-byte ones are malformed for mdpub),
# the forged one too, and the stream's acknowledged
all_taken fa fg $((S + 1))
stop "$PID"
echo "forged message on the inbox: taken as malformed, not acknowledged; $S stream messages acknowledged"
