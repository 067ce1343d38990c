#!/bin/sh
# The udp source's port is its own: another local user (nobody, when the
# test runs as root; else this user) who binds the same address and port
# with SO_REUSEADDR, as Linux allows between two sockets that both set it,
# gets EADDRINUSE, and every datagram sent to the port still reaches mdpub
# (3 of 3 published). Before, mdpub set SO_REUSEADDR on its udp socket:
# the second socket bound, the kernel handed it every unicast datagram,
# and mdpub published none, whatever `sender` and `session` said.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/udp"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
as_other=
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 &&
	command -v runuser >/dev/null; then
	as_other="runuser -u nobody --"
fi

channel own.conf own source=udp listen=127.0.0.1:0 session=OWNPORT1 \
	sender=127.0.0.1
receive own

# the thief: SO_REUSEADDR, then bind; prints the errno name or "bound"
cat >"$WORK/thief.py" <<'PY'
import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
    sys.exit(0)
print("bound", flush=True)
s.settimeout(3)
try:
    s.recv(2048)
    print("stole a datagram")
except socket.timeout:
    pass
PY
chmod 644 "$WORK/thief.py"
chmod 755 "$WORK"
$as_other python3 "$WORK/thief.py" "$PORT" >"$WORK/thief.out" 2>&1 &
THIEF=$!
wait_for test -s "$WORK/thief.out" # the datagrams once it bound or failed to
for seq in 1 2 3; do
	msg 9 "m$seq" >"$WORK/b$seq"
	mold "$WORK/p$seq" OWNPORT1 "$seq" 1 "$WORK/b$seq"
	bash -c "cat '$WORK/p$seq' >/dev/udp/127.0.0.1/$PORT" || fail "send"
done
wait "$THIEF"
[ "$(cat "$WORK/thief.out")" = EADDRINUSE ] ||
	fail "a second socket on mdpub's port (${as_other:-same user}): $(cat "$WORK/thief.out")"
counted own "channel own: in 3 " # mdpub took the 3 before its stop
stop "$PID"
wait "$READ"
grep -q "channel own: in 3 out 3 " "$WORK/own.log" ||
	fail "mdpub did not take 3 of 3: $(grep 'channel own: in' "$WORK/own.log")"
n=$(grep -c '^M ' "$WORK/own.out")
[ "$n" -eq 3 ] || fail "published $n of 3 datagrams: $(cat "$WORK/own.out")"
echo "udp port: ${as_other:-same user} refused (EADDRINUSE), 3 of 3 published"
