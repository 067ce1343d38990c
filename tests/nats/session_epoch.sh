#!/bin/sh
# mdsub --forward nats:// labels each message's Mdbus-Session with the
# epoch of the segment it read it from. The segment is replaced between
# the forwarder's open and the start of its forwarding (mdsub/open_hook.c
# runs the replacement there, and holds the reattach 1 s): the first
# segment's 40 messages carry its epoch, the new segment's 60 the new
# one's. Before, the forwarder took the epoch the name held at open: the
# first segment's messages carried the new one's epoch, and the new
# one's that + 1, no segment's.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
TOOL=$top_builddir/tests/mdsub/testtool
HOOK=$top_builddir/tests/mdsub/.libs/open_hook.so
[ -f "$HOOK" ] || { echo "SKIP: $HOOK not built"; exit 77; }

# epoch CHANNEL: the epoch of the segment under the name (mdsub --status
# says it in decimal), in 16 hex digits as Mdbus-Session has it
epoch() {
	e=$("$MDSUB" --status "$1" | sed -n 's/.*, epoch \([0-9]*\).*/\1/p')
	[ -n "$e" ] && python3 -c "print('%016x' % $e)"
}

nats_start n1
PORT=$(nats_port n1)
# a subscriber to mdbus.>: one line "SESSION SEQ" a message, from the
# headers; $WORK/sub.ready once the server has its subscription
python3 - "$PORT" "$WORK/sub.ready" >"$WORK/sub.out" <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(60)
s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB mdbus.> 1\r\nPING\r\n')
buf = b""
def line():
    global buf
    while b"\r\n" not in buf:
        buf += s.recv(65536)
    l, buf = buf.split(b"\r\n", 1)
    return l
def take(n):
    global buf
    while len(buf) < n + 2:
        buf += s.recv(65536)
    d, buf = buf[:n], buf[n + 2:]
    return d
got = 0
while got < 100:
    l = line()
    if l == b"PING":
        s.sendall(b"PONG\r\n")
    elif l == b"PONG":
        open(sys.argv[2], "w").close()
    elif l.startswith(b"HMSG"):
        f = l.split()
        hdr = take(int(f[-1]))[:int(f[-2])].decode()
        h = dict(x.split(": ", 1) for x in hdr.split("\r\n")[1:] if ": " in x)
        print(h["Mdbus-Session"], h["Mdbus-Seq"], flush=True)
        got += 1
PY
SUB=$!
PIDS="$PIDS $SUB"
wait_for test -e "$WORK/sub.ready"

"$TOOL" pub two 40 -t || fail "publisher"
first=$(epoch two)
env LD_PRELOAD="$HOOK" HOOK_REOPEN_S=1 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	HOOK_AFTER_OPEN="'$TOOL' pub two 60 -t -R -g 16:4" \
	"$MDSUB" --forward "nats://127.0.0.1:$PORT" --from oldest two \
	2>"$WORK/fwd.err" &
F=$!
PIDS="$PIDS $F"
wait "$SUB" || fail "subscriber: $(cat "$WORK/sub.out")"
second=$(epoch two)
[ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ] ||
	fail "epochs '$first' '$second'"
kill -TERM "$F"
wait "$F" || fail "mdsub exited $?: $(cat "$WORK/fwd.err")"
{
	i=0; while [ $i -lt 40 ]; do echo "$first $i"; i=$((i + 1)); done
	i=0; while [ $i -lt 60 ]; do echo "$second $i"; i=$((i + 1)); done
} >"$WORK/want"
diff -u "$WORK/want" "$WORK/sub.out" >&2 ||
	fail "Mdbus-Session: not the epoch of each message's segment"
exit 0
