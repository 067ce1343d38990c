#!/bin/sh
# The nats source on core NATS: messages made by hand in the NATS protocol
# (a repeat, a gap, a forged jump far ahead, a new session, and malformed
# ones: no or absurd headers, a subject that does not match the payload, a payload larger
# than a slot, a message without headers) are published, dropped or
# counted exactly; then a synthetic channel relayed by `mdsub --forward
# nats://` arrives complete and in order, and a second channel that takes
# only the trades (a wildcard filter) gets every trade.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

nats_start n1
RAW_PORT=$(nats_port n1)
URL=nats://127.0.0.1:$RAW_PORT

# bad settings are refused, naming the fix
channel bad1.conf bad1 source=nats 'subject=x.>'
status 1 "$MDPUB" -T -c "$WORK/bad1.conf" 2>"$WORK/bad1.log"
grep -q "source nats needs url = nats://HOST:PORT and subject" "$WORK/bad1.log" ||
	fail "missing url not refused: $(cat "$WORK/bad1.log")"
channel bad2.conf bad2 source=nats url=nats://127.0.0.1:0 subject=x
status 1 "$MDPUB" -T -c "$WORK/bad2.conf" 2>"$WORK/bad2.log"
grep -q "is not nats://HOST:PORT" "$WORK/bad2.log" || fail "port 0 not refused"
channel bad3.conf bad3 source=nats "url=$URL" subject=x durable=d
status 1 "$MDPUB" -T -c "$WORK/bad3.conf" 2>"$WORK/bad3.log"
grep -q "durable = d needs stream = NAME" "$WORK/bad3.log" || fail "durable without stream"
# a plain nats:// server on a port of this host that any local user may
# listen on while nats-server does not (mdpub.conf(5), url): warned by -T
# (and at start, the channel h below); not a port below
# net.ipv4.ip_unprivileged_port_start, another host's, or tls:// (the
# server shows a certificate). Before, nothing warned; then not the
# unspecified address (0.0.0.0: a connection to it reaches this host),
# nor a url with credentials (USER:PASSWORD@, TOKEN@: sent to whoever
# listens), which the warning names without them; and a nats:// url
# with tls = yes, or in a list with a tls:// one, connects with TLS
# (common/nats_conn.c): warned about, not now.
START=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) ||
	START=1024
if [ "$START" -gt 1 ] && [ "$START" -le 40000 ]; then
	w="any local user may take this port while nats-server does not listen on it"
	for u in nats://127.0.0.1:40000 "nats://127.0.0.1:$((START - 1))" \
		nats://198.51.100.7:40000 tls://127.0.0.1:40000 \
		nats://198.51.100.7:4222,nats://127.0.0.1:40000 \
		nats://0.0.0.0:40000 nats://u:secret@127.0.0.1:40000 \
		nats://198.51.100.7:4222,nats://secret@127.0.0.1:40000 \
		"nats://127.0.0.1:40000 tls=yes" \
		nats://127.0.0.1:40000,tls://198.51.100.7:4222; do
		# shellcheck disable=SC2086 # a setting after the url, or none
		channel w.conf w source=nats "url=${u%% *}" 'subject=x.>' \
			${u#"${u%% *}"}
		status 0 "$MDPUB" -T -c "$WORK/w.conf" 2>"$WORK/w.log"
		case $u in
		*nats://127.0.0.1:40000|*@127.0.0.1:40000) d=127.0.0.1:40000 ;;
		nats://0.0.0.0:40000) d=0.0.0.0:40000 ;;
		*) d= ;;
		esac
		warned_once "url $u" "$WORK/w.log" "$w" "${d:+channel w: url $d: $w}"
	done
fi

# credentials in a url never reach the log: a start that cannot connect
# names the servers nats://***@HOST:PORT, and so does the channel h's
# start (its server takes any user). Before, the whole url went there,
# password and all, to syslog with -b.
channel cred.conf cred source=nats url=nats://u:secret@127.0.0.1:1 \
	'subject=x.>'
status 1 "$MDPUB" -c "$WORK/cred.conf" 2>"$WORK/cred.log"
grep -q "channel cred: nats://\*\*\*@127.0.0.1:1: " "$WORK/cred.log" ||
	fail "cred: $(cat "$WORK/cred.log")"
grep -q secret "$WORK/cred.log" && fail "cred: password logged: $(cat "$WORK/cred.log")"

S1=Mdbus-Session:0000000000000001
channel h.conf h source=nats "url=nats://u:secret@127.0.0.1:$RAW_PORT" \
	'subject=mdbus.h.>'
start h -c "$WORK/h.conf"
wait_log h "channel h: publishing from"
grep -q "channel h: reading mdbus.h.> from nats://\*\*\*@127.0.0.1:$RAW_PORT$" \
	"$WORK/h.log" || fail "h: $(head -n 5 "$WORK/h.log")"
grep -q secret "$WORK/h.log" && fail "h: password logged"
if [ "$RAW_PORT" -ge "$START" ]; then
	grep -q "channel h: url 127.0.0.1:[0-9]*: any local user may take this port" \
		"$WORK/h.log" || fail "url not warned about at start: $(head -n 5 "$WORK/h.log")"
fi
"$READER" --until 6 --dump h >"$WORK/h.out" & # from the oldest: no race
READ=$!
f=$WORK/msgs
: >"$f"
hpub "$f" mdbus.h.raw.% one "Mdbus-Seq: 0" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.h.raw.% two "Mdbus-Seq: 1" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.h.raw.% two "Mdbus-Seq: 1" "Mdbus-Ts: 1" "$S1"     # duplicate
hpub "$f" mdbus.h.raw.% three "Mdbus-Seq: 5" "Mdbus-Ts: 1" "$S1"   # 2..4 lost
hpub "$f" mdbus.h.raw.% x "Mdbus-Ts: 1" "$S1"                        # no sequence
hpub "$f" mdbus.h.raw.% x "Mdbus-Seq: 99999999999999999999" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.h.raw.% x "Mdbus-Seq: 9223372036854775808" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.h.raw.% x "Mdbus-Seq: -1" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.h.raw.% x "Mdbus-Seq: 6" "Mdbus-Ts: 1" "Mdbus-Session: xyz"
hpub "$f" mdbus.h.raw.% x "Mdbus-Seq: 6" "Mdbus-Ts: abc" "$S1"
hpub "$f" mdbus.h.quote.AB short "Mdbus-Seq: 6" "Mdbus-Ts: 1" "$S1" # wrong size
hpub "$f" mdbus.h.bogus.% x "Mdbus-Seq: 6" "Mdbus-Ts: 1" "$S1"     # no such type
hpub "$f" mdbus.h.raw.AB x "Mdbus-Seq: 6" "Mdbus-Ts: 1" "$S1"      # a symbol for raw
big=$(printf '%0300d' 0)
hpub "$f" mdbus.h.raw.% "$big" "Mdbus-Seq: 6" "Mdbus-Ts: 1" "$S1"  # > slot payload
hpub "$f" mdbus.h.raw.% noheaders                                    # plain PUB
hpub "$f" mdbus.h.raw.% x "Mdbus-Seq: 4611686018427387904" "Mdbus-Ts: 1" "$S1" # forged jump
hpub "$f" mdbus.h.raw.% four "Mdbus-Seq: 6" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.h.raw.% five "Mdbus-Seq: 0" "Mdbus-Ts: 1" \
	"Mdbus-Session: 0000000000000002"                                   # new session
raw_pub "$f"
wait "$READ" || fail "reader of h"
grep '^M' "$WORK/h.out" >"$WORK/got"
printf 'M 0 3\nM 0 3\nM 0 5\nM 0 4\nM 0 4\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages published"
kill -USR1 "$PID"
wait_log h "channel h: in 5 out 5 malformed 11 gaps 1 (lost 3) "
wait_log h "channel h: source nats: duplicate 1 session 1 malformed 11 errors 0 resets 0 jump 1 dropped 0$"
grep -q "channel h: gap: upstream messages 2..4 lost" "$WORK/h.log" || fail "gap not logged"
grep -q "channel h: message on 'mdbus.h.quote.AB': its subject is not" "$WORK/h.log" ||
	fail "malformed subject not logged"
stop "$PID"

# a message forged in another session, then one of the real session far
# ahead (anyone who may publish on the subjects reads the session from
# the headers): every real message after them is a duplicate, dropped,
# and that is logged, not silent (attack run, helper)
channel j.conf j source=nats "url=$URL" 'subject=mdbus.j.>' jump_window=100
start j -c "$WORK/j.conf"
wait_log j "channel j: publishing from"
f=$WORK/jmsgs
: >"$f"
hpub "$f" mdbus.j.raw.% one "Mdbus-Seq: 0" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.j.raw.% two "Mdbus-Seq: 1" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.j.raw.% x "Mdbus-Seq: 0" "Mdbus-Ts: 1" \
	"Mdbus-Session: 00000000000000ff"                                   # forged
hpub "$f" mdbus.j.raw.% x "Mdbus-Seq: 1000000000" "Mdbus-Ts: 1" "$S1" # forged
hpub "$f" mdbus.j.raw.% three "Mdbus-Seq: 2" "Mdbus-Ts: 1" "$S1"
hpub "$f" mdbus.j.raw.% four "Mdbus-Seq: 3" "Mdbus-Ts: 1" "$S1"
raw_pub "$f"
counted j "channel j: source nats: duplicate 2 session 2 "
grep -q "channel j: upstream seq 2 is 999999999 behind the expected 1000000001: dropped as seen already" \
	"$WORK/j.log" || fail "duplicates far behind not logged: $(grep 'channel j' "$WORK/j.log")"
stop "$PID"

# a new session at every message (anyone who may publish on the subjects
# can): each after the first counted, the notice rate-limited (one a message before:
# 9999 lines for 10000 messages, attack run)
channel k.conf k source=nats "url=$URL" 'subject=mdbus.k.>'
start k -c "$WORK/k.conf"
wait_log k "channel k: publishing from"
f=$WORK/kmsgs
: >"$f"
i=0
while [ $i -lt 300 ]; do
	hpub "$f" mdbus.k.raw.% x "Mdbus-Seq: $i" "Mdbus-Ts: 1" \
		"Mdbus-Session: 000000000000000$((i % 2 + 1))"
	i=$((i + 1))
done
raw_pub "$f"
counted k "channel k: source nats: duplicate 0 session 299 "
said=$(grep -c "channel k: upstream session " "$WORK/k.log")
[ "$said" -ge 10 ] && [ "$said" -le 20 ] || fail "299 new sessions, $said notices"
stop "$PID"

# relay: synthetic -> mdsub --forward nats:// -> nats source -> reader;
# a second channel takes the trades only (no gap check: a filter skips)
channel src.conf src source=synthetic rate=20000 count=3000
channel dst.conf dst source=nats "url=$URL" 'subject=mdbus.src.>' \
	mode=lossless
channel tr.conf tr source=nats "url=$URL" 'subject=mdbus.src.trade.>' gaps=no
start dst -c "$WORK/dst.conf"
DST=$PID
start tr -c "$WORK/tr.conf"
TR=$PID
wait_log dst "channel dst: publishing from"
wait_log tr "channel tr: publishing from"
"$READER" --until down --dump dst >"$WORK/dst.out" &
RD=$!
"$READER" --until down --dump tr >"$WORK/tr.out" &
RT=$!
start src -c "$WORK/src.conf"
SRC=$PID
wait_log src "channel src: publishing from"
"$MDSUB" --wait-for-channel --from oldest --forward "$URL" src \
	>"$WORK/fwd.log" 2>&1 &
FWD=$!
PIDS="$PIDS $FWD"
"$READER" --until down --dump src >"$WORK/src.out" ||
	fail "reader of src"
wait "$SRC"
# the forwarder stopped once it has read all of src, the receivers once
# they have what it published (all, the trades)
read_all "$FWD" src
kill -TERM "$FWD"
wait "$FWD" || fail "mdsub --forward: $(cat "$WORK/fwd.log")"
published=$(sed -n 's/^mdsub: nats: \([0-9]*\) published.*/\1/p' "$WORK/fwd.log")
PID=$DST
counted dst "channel dst: in $published "
PID=$TR
counted tr "channel tr: in $(grep -c '^T ' "$WORK/src.out") "
stop "$DST"
stop "$TR"
wait "$RD" || fail "reader of dst"
wait "$RT" || fail "reader of tr"
same_market_data "$WORK/src.out" "$WORK/dst.out"
grep '^T ' "$WORK/src.out" >"$WORK/src.trades"
grep '^[QT] ' "$WORK/tr.out" >"$WORK/tr.qt"
cmp -s "$WORK/src.trades" "$WORK/tr.qt" || fail "the trade channel has not every trade alone, in order"
grep -q "mdsub: nats: [0-9]* published, 0 acknowledged, 0 duplicates, 0 errors" \
	"$WORK/fwd.log" || fail "forwarder summary: $(cat "$WORK/fwd.log")"
grep -q "gaps 0 (lost 0)" "$WORK/dst.log" || fail "dst counted gaps"
exit 0
