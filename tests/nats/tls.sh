#!/bin/sh
# The bridge over TLS with client certificates: a CA, a server and a
# client certificate made by openssl for the test; nats-server requires
# TLS and verifies clients. mdsub (--nats-ca, --nats-cert, --nats-key)
# and mdpub's nats source (ca, cert, key) relay a channel complete and in
# order; without the CA mdsub is refused naming the certificate problem,
# as it is by a server whose certificate the CA signed for another name;
# without a client certificate the server refuses it; a FIFO as the CA
# file is refused at once, as (run by root) a CA file another user owns,
# who could choose which servers mdsub trusts. The client key is
# read by mdbus with the checks of every private key: mode 0640 or a
# symbolic link refused.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v openssl >/dev/null || { echo "SKIP: needs openssl (Debian package openssl)"; exit 77; }

T=$WORK/tls
mkdir "$T" || fail "mkdir"
cert() { # cert NAME SUBJECT [EXT]: NAME.key, NAME.pem signed by the CA
	openssl req -newkey rsa:2048 -nodes -keyout "$T/$1.key" -subj "$2" \
		-out "$T/$1.csr" 2>/dev/null || fail "openssl req $1"
	printf '%s\n' "${3:-}" >"$T/$1.ext"
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
		-CAcreateserial -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" \
		2>/dev/null || fail "openssl x509 $1"
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -days 2 \
	-subj /CN=mdbus-test-ca -out "$T/ca.pem" 2>/dev/null || fail "openssl CA"
cert server /CN=127.0.0.1 "subjectAltName=IP:127.0.0.1"
cert client /CN=mdbus-client "extendedKeyUsage=clientAuth"
chmod 600 "$T"/*.key

nats_start t1 --tls --tlscert "$T/server.pem" --tlskey "$T/server.key" \
	--tlscacert "$T/ca.pem" --tlsverify
URL=tls://127.0.0.1:$(nats_port t1)

channel src.conf src source=synthetic rate=20000 count=2000 mode=lossless
channel dst.conf dst source=nats "url=$URL" 'subject=mdbus.src.>' \
	"ca=$T/ca.pem" "cert=$T/client.pem" "key=$T/client.key"
start dst -c "$WORK/dst.conf"
DST=$PID
wait_log dst "channel dst: publishing from"
"$READER" --until down --dump dst >"$WORK/dst.out" &
RD=$!
start src -c "$WORK/src.conf"
SRC=$PID
wait_log src "channel src: publishing from"
# no CA: the server's certificate is not trusted
status 1 "$MDSUB" --forward "$URL" --nats-cert "$T/client.pem" \
	--nats-key "$T/client.key" src 2>"$WORK/noca.log"
grep -q "certificate" "$WORK/noca.log" || fail "no CA: $(cat "$WORK/noca.log")"
# a server whose certificate the CA signed for another name: refused
# (the library checks the name against the url's host), else anyone
# holding any certificate of that CA could pose as the server
cert other /CN=other.example "subjectAltName=DNS:other.example"
chmod 600 "$T/other.key"
nats_start t2 --tls --tlscert "$T/other.pem" --tlskey "$T/other.key"
status 1 "$MDSUB" --until-caught-up --forward "tls://127.0.0.1:$(nats_port t2)" \
	--nats-ca "$T/ca.pem" src 2>"$WORK/othername.log"
grep -q "mismatch" "$WORK/othername.log" ||
	fail "another name's certificate: $(cat "$WORK/othername.log")"
# no client certificate: the server refuses the connection
status 1 "$MDSUB" --forward "$URL" --nats-ca "$T/ca.pem" src 2>"$WORK/nocert.log"
grep -q "mdsub: tls://127.0.0.1:" "$WORK/nocert.log" || fail "no client certificate: $(cat "$WORK/nocert.log")"
# a FIFO as the CA file: refused at once, naming it. Before, the client
# library opened it by name and mdsub blocked there until a signal
mkfifo "$T/fifo.pem" || fail "mkfifo"
status 1 timeout -s KILL 30 "$MDSUB" --forward "$URL" --nats-ca "$T/fifo.pem" \
	--nats-cert "$T/client.pem" --nats-key "$T/client.key" src 2>"$WORK/fifo.log"
grep -qF "$T/fifo.pem: not a regular file" "$WORK/fifo.log" ||
	fail "a FIFO as the CA file: $(cat "$WORK/fifo.log")"
if [ "$(id -u)" = 0 ]; then
	cp "$T/ca.pem" "$T/theirs.pem" && chown nobody "$T/theirs.pem" || fail "chown"
	status 1 timeout -s KILL 30 "$MDSUB" --until-caught-up --forward "$URL" --nats-ca "$T/theirs.pem" \
		--nats-cert "$T/client.pem" --nats-key "$T/client.key" src 2>"$WORK/theirs.log"
	grep -qF "$T/theirs.pem: owned by uid $(id -u nobody), neither this user (0) nor root" \
		"$WORK/theirs.log" || fail "another user's CA file: $(cat "$WORK/theirs.log")"
fi
"$READER" --until down --dump src >"$WORK/src.out" || fail "reader of src"
"$MDSUB" --from oldest --until-caught-up --forward "$URL" --nats-ca "$T/ca.pem" \
	--nats-cert "$T/client.pem" --nats-key "$T/client.key" src \
	>"$WORK/fwd.log" 2>&1 || fail "mdsub over TLS: $(cat "$WORK/fwd.log")"
wait "$SRC"
# dst stopped once it has all that mdsub published
PID=$DST
counted dst "channel dst: in $(sed -n 's/^mdsub: nats: \([0-9]*\) published.*/\1/p' "$WORK/fwd.log") "
stop "$DST"
wait "$RD" || fail "reader of dst"
same_market_data "$WORK/src.out" "$WORK/dst.out"
# the client key is a private key: read once by mdsub itself, with the
# checks of the creds and seed files (the library used to open it by name
# whatever its mode): readable by others, or a symbolic link, refused
cp "$T/client.key" "$T/open.key"
chmod 640 "$T/open.key"
status 1 "$MDSUB" --from oldest --until-caught-up --forward "$URL" \
	--nats-ca "$T/ca.pem" --nats-cert "$T/client.pem" --nats-key "$T/open.key" \
	src 2>"$WORK/openkey.log"
grep -q "open.key: it holds a private key, but others may read or write it (mode 0640): chmod 600" \
	"$WORK/openkey.log" || fail "key mode 0640: $(cat "$WORK/openkey.log")"
ln -s client.key "$T/link.key"
status 1 "$MDSUB" --from oldest --until-caught-up --forward "$URL" \
	--nats-ca "$T/ca.pem" --nats-cert "$T/client.pem" --nats-key "$T/link.key" \
	src 2>"$WORK/linkkey.log"
grep -q "link.key: a symbolic link" "$WORK/linkkey.log" ||
	fail "key through a symbolic link: $(cat "$WORK/linkkey.log")"
exit 0
