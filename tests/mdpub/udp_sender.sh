#!/bin/sh
# The udp source's `sender` and `session` against local users (attack
# review; mdpub.conf(5), sender): a rule that admits every local user (an
# address of this host with no port or an unprivileged one) or every
# address (/0), `sender = any`, and `session` without `sender` are
# accepted with one warning, the same from -T and at start; a privileged
# port or another host's address gets none. A rule of a family the listen
# socket never receives, and a repeated key, are refused naming the fix
# (-T and at start, exit 1, no segment). An IPv4-mapped rule matches its
# IPv4 sender. A `retransmit` server on an unprivileged port of this host
# is warned about too (whoever binds it answers the re-requests), after
# the sender's warning on the same line when both apply. As root with a
# user nobody: after the forwarder's end of
# session, nobody takes the next one from its unprivileged port, and with
# `session` alone publishes a message in place of the real one (what the
# warning says); from a privileged port nobody cannot send, and its
# packets from another port are counted as sender.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/udp"; exit 77; }
UDPSEND=$top_builddir/tests/mdpub/udpsend
START=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) ||
	START=1024
NOSECRET=" (session is a filter, not a secret: ps, the config and every packet show it)"

# warning WHO [SESSION-CLAUSE]: the text after "channel NAME: "
warning() {
	echo "$1: whoever can send to listen can publish messages in place of the feed's, take the session before it or after an end of session, and shut the feed out${2:-}; set sender = the forwarder's --bind address on another host, or here with a port below $START (mdpub.conf(5))"
}

# warns NAME TEXT KEY=VALUE...: a channel NAME receiving on 127.0.0.1
# with these keys: -T says OK and prints "channel NAME: TEXT" as its only
# line on stderr; at start it is logged once (TEXT empty: -T prints
# nothing on stderr and start logs no such warning)
warns() {
	name=$1
	text=$2
	shift 2
	channel "$name.conf" "$name" source=udp listen=127.0.0.1:0 "$@"
	status 0 "$MDPUB" -T -c "$WORK/$name.conf" >"$WORK/$name.out" \
		2>"$WORK/$name.err"
	expect "$WORK/$name.out" "$WORK/$name.conf: OK, 1 channel"
	if [ -n "$text" ]; then
		[ "$(wc -l <"$WORK/$name.err")" = 1 ] || fail "-T $name: $(cat "$WORK/$name.err")"
		expect "$WORK/$name.err" "mdpub: channel $name: $text"
	else
		[ -s "$WORK/$name.err" ] && fail "-T $name warned: $(cat "$WORK/$name.err")"
	fi
	start "$name" -c "$WORK/$name.conf"
	wait_log "$name" "publishing from sequence"
	stop "$PID"
	n=$(grep -c -e "channel $name: .*whoever can send to listen" \
		-e "channel $name: retransmit .*any local user may take" "$WORK/$name.log")
	want=0
	[ -z "$text" ] || want=1
	[ "$n" = $want ] || fail "start $name: warned $n times, not $want"
	[ -z "$text" ] || grep -qF "]: channel $name: $text" "$WORK/$name.log" ||
		fail "start $name: $(grep 'whoever\|any local user' "$WORK/$name.log")"
}

warns lo "$(warning "sender 127.0.0.1 admits every local user (an address of this host, any port)")" \
	sender=127.0.0.1
warns lonet "$(warning "sender 127.0.0.2 admits every local user (an address of this host, any port)")" \
	"sender=198.51.100.7:$START 127.0.0.2"
warns all "$(warning "sender 0.0.0.0/0 admits every address, as sender = any")" \
	sender=0.0.0.0/0
warns all80 "$(warning "sender 0.0.0.0/0:80 admits every address, as sender = any")" \
	sender=0.0.0.0/0:80
warns mapped "$(warning "sender 127.0.0.1 admits every local user (an address of this host, any port)")" \
	sender=::ffff:127.0.0.1
warns sess "$(warning "no sender" "$NOSECRET")" session=ABC
warns anysess "$(warning "sender = any" "$NOSECRET")" sender=any session=ABC
warns any "$(warning "sender = any")" sender=any
warns far "" sender=198.51.100.7
warns farmapped "" sender=::ffff:198.51.100.7 session=ABC
if [ "$START" -le 40000 ]; then
	warns unpriv "$(warning "sender 127.0.0.1:40000 admits every local user (an address of this host, port 40000 not below net.ipv4.ip_unprivileged_port_start $START: free to bind once the forwarder is gone)" "$NOSECRET")" \
		sender=127.0.0.1:40000 session=ABC
fi
if [ "$START" -gt 1 ]; then
	warns priv "" "sender=127.0.0.1:$((START - 1))"
fi
# the re-request server on a port of this host that any local user may
# bind: whoever binds it while the server is down gets mdpub's requests
# (with the session) and answers them with messages the channel takes
if [ "$START" -le 40000 ] && [ "$START" -gt 1 ]; then
	for rtx in 127.0.0.1:40000 "[::1]:40000"; do
		warns rtx "retransmit $rtx: any local user may take this port while the re-request server is not running, and then gets the re-requests (with the session) and answers them with messages the channel publishes; run the server (mdsub --retransmit) on a port below $START, or on another host (mdpub.conf(5))" \
			sender=127.0.0.1:$((START - 1)) retransmit=$rtx
	done
	# both: one line, the sender's warning, then the server's
	warns rtxany "$(warning "sender = any"). Also retransmit 127.0.0.1:40000: any local user may take this port while the re-request server is not running, and then gets the re-requests (with the session) and answers them with messages the channel publishes; run the server (mdsub --retransmit) on a port below $START, or on another host (mdpub.conf(5))" \
		sender=any retransmit=127.0.0.1:40000
	warns rtxpriv "" sender=127.0.0.1:$((START - 1)) \
		retransmit=127.0.0.1:$((START - 1))
	warns rtxfar "" sender=198.51.100.7 retransmit=198.51.100.7:40000
fi
HOSTADDR=$(ip -4 -o addr show scope global 2>/dev/null | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1)
if [ -n "$HOSTADDR" ]; then
	warns host "$(warning "sender $HOSTADDR admits every local user (an address of this host, any port)")" \
		"sender=$HOSTADDR"
fi

# refuses NAME TEXT KEY=VALUE...: -T and start exit 1 with "FILE:TEXT"
# as their one error, and make no segment
refuses() {
	name=$1
	text="$WORK/$name.conf:$2"
	shift 2
	rm -rf "${MDBUS_DIR:?}"/*
	channel "$name.conf" "$name" source=udp "$@"
	status 1 "$MDPUB" -T -c "$WORK/$name.conf" >"$WORK/$name.out" \
		2>"$WORK/$name.err"
	[ -s "$WORK/$name.out" ] && fail "-T $name said OK"
	[ "$(wc -l <"$WORK/$name.err")" = 1 ] || fail "-T $name: $(cat "$WORK/$name.err")"
	expect "$WORK/$name.err" "mdpub: $text"
	status 1 timeout 60 "$MDPUB" -c "$WORK/$name.conf" 2>"$WORK/$name.err"
	[ "$(grep -c "mdpub\[err\]: " "$WORK/$name.err")" = 1 ] || fail "start $name: $(cat "$WORK/$name.err")"
	sed 's/^[^ ]* //' "$WORK/$name.err" | grep -qxF "mdpub[err]: $text" ||
		fail "start $name: $(cat "$WORK/$name.err")"
	[ -z "$(ls "$MDBUS_DIR")" ] || fail "$name: a segment was made"
}

refuses v6on4 "3: [channel v6on4]: sender: '::/0' is IPv6 and listen = 127.0.0.1:0 receives IPv4 only: it would never match, and the feed would be dropped; give the forwarder's IPv4 address" \
	listen=127.0.0.1:0 "sender=127.0.0.1:80 ::/0"
refuses v4on6 "3: [channel v4on6]: sender: '127.0.0.1:80' is IPv4 and listen = [::1]:0 receives IPv6 only: it would never match, and the feed would be dropped; give the forwarder's IPv6 address, or listen = [::]:PORT" \
	"listen=[::1]:0" sender=127.0.0.1:80
refuses twice "7: key 'sender' set twice in [channel twice], at line 6 and line 7: keep one" \
	listen=127.0.0.1:0 sender=127.0.0.1:80 sender=any
refuses twicesess "8: key 'session' set twice in [channel twicesess], at line 6 and line 8: keep one" \
	listen=127.0.0.1:0 session=ABC sender=127.0.0.1:80 session=DEF

msg 9 a >"$WORK/m1"; msg 9 bb >"$WORK/m2"; msg 9 XXXXXXX >"$WORK/mx"
n=0
packet() { # packet SESSION SEQ COUNT [BLOCK-FILES...]: $WORK/pktN, in $P
	n=$((n + 1))
	P=$WORK/pkt$n
	mold "$P" "$@"
}

# an IPv4-mapped rule takes its IPv4 sender's packets (before: counted as
# sender and dropped)
channel m.conf m source=udp listen=127.0.0.1:0 sender=::ffff:127.0.0.1
start m -c "$WORK/m.conf"
PORT=$(port_of m)
packet MAP 1 1 "$WORK/m1"
bash -c "cat '$P' >/dev/udp/127.0.0.1/$PORT" || fail "send"
packet MAP 2 65535
bash -c "cat '$P' >/dev/udp/127.0.0.1/$PORT" || fail "send"
wait_log m "session 'MAP       ' ended"
counted m "channel m: in 1 out 1 malformed 0 gaps 0 (lost 0) "
counted m "channel m: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
stop "$PID"

if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1 ||
	! command -v runuser >/dev/null; then
	echo "SKIP (part): another user's packets need root and a user nobody"
	exit 0
fi
chmod 711 "$WORK" # nobody reads the packets, not the directory

# as ROOT (the forwarder) or NOBODY, from 127.0.0.1:LPORT (0: any port),
# SESSION SEQ COUNT [BLOCK-FILES...]: one packet; its exit status
as() {
	who=$1
	lport=$2
	shift 2
	packet "$@"
	chmod 644 "$P"
	set -- "$UDPSEND" -b 127.0.0.1
	[ "$lport" = 0 ] || set -- "$@" -p "$lport"
	if [ "$who" = NOBODY ]; then
		runuser -u nobody -- "$@" 127.0.0.1 "$PORT" "$P" 2>"$WORK/as.err"
	else
		"$@" 127.0.0.1 "$PORT" "$P" 2>"$WORK/as.err"
	fi
}

# an unprivileged sender port: once the forwarder's session has ended,
# nobody binds that port and takes the next session; the forwarder's
# next one is then held as a session change
if [ "$START" -le 40000 ]; then
	LPORT=$((40000 + $$ % 20000))
	channel up.conf up source=udp listen=127.0.0.1:0 "sender=127.0.0.1:$LPORT"
	start up -c "$WORK/up.conf"
	PORT=$(port_of up)
	grep -qF "channel up: $(warning "sender 127.0.0.1:$LPORT admits every local user (an address of this host, port $LPORT not below net.ipv4.ip_unprivileged_port_start $START: free to bind once the forwarder is gone)")" \
		"$WORK/up.log" || fail "up: no warning"
	as ROOT "$LPORT" A 1 1 "$WORK/m1" || fail "forwarder: $(cat "$WORK/as.err")"
	as ROOT "$LPORT" A 2 65535 || fail "forwarder: $(cat "$WORK/as.err")"
	wait_log up "session 'A         ' ended"
	as NOBODY "$LPORT" EVIL 1 1 "$WORK/mx" || fail "nobody: $(cat "$WORK/as.err")"
	wait_log up "session 'EVIL      '"
	as ROOT "$LPORT" B 1 1 "$WORK/m2" || fail "forwarder: $(cat "$WORK/as.err")"
	wait_log up "packet of session 'B         ' while 'EVIL      ' is not ended"
	counted up "channel up: in 2 out 2 malformed 0 gaps 0 (lost 0) "
	counted up "channel up: source udp: duplicate 0 session 1 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
	stop "$PID"
fi

# session alone: nobody, knowing the name, sends the next number first:
# its message is published, the real one dropped as a duplicate, and its
# end of session taken
channel so.conf so source=udp listen=127.0.0.1:0 session=ABC
start so -c "$WORK/so.conf"
PORT=$(port_of so)
grep -qF "channel so: $(warning "no sender" "$NOSECRET")" "$WORK/so.log" ||
	fail "so: no warning"
as ROOT 0 ABC 1 1 "$WORK/m1" || fail "forwarder: $(cat "$WORK/as.err")"
as NOBODY 0 ABC 2 1 "$WORK/mx" || fail "nobody: $(cat "$WORK/as.err")"
as ROOT 0 ABC 2 1 "$WORK/m2" || fail "forwarder: $(cat "$WORK/as.err")"
as NOBODY 0 ABC 3 65535 || fail "nobody: $(cat "$WORK/as.err")"
wait_log so "session 'ABC       ' ended"
counted so "channel so: in 2 out 2 malformed 0 gaps 0 (lost 0) "
counted so "channel so: source udp: duplicate 1 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
stop "$PID"

# a privileged sender port (no warning): nobody cannot bind it, and its
# packets from another port are counted as sender, before and after the
# end of session; the forwarder's next session is taken at once
[ "$START" -gt 100 ] || { echo "SKIP (part): no privileged ports"; exit 0; }
LPORT=$((START - 1 - $$ % 50))
channel pp.conf pp source=udp listen=127.0.0.1:0 "sender=127.0.0.1:$LPORT"
start pp -c "$WORK/pp.conf"
PORT=$(port_of pp)
as NOBODY 0 EVIL 1 1 "$WORK/mx" || fail "nobody: $(cat "$WORK/as.err")"
as ROOT "$LPORT" A 1 1 "$WORK/m1" || fail "forwarder: $(cat "$WORK/as.err")"
as ROOT "$LPORT" A 2 65535 || fail "forwarder: $(cat "$WORK/as.err")"
wait_log pp "session 'A         ' ended"
as NOBODY "$LPORT" EVIL 1 1 "$WORK/mx" && fail "nobody sent from port $LPORT"
grep -q "Permission denied" "$WORK/as.err" || fail "nobody: $(cat "$WORK/as.err")"
as NOBODY 0 EVIL 1 1 "$WORK/mx" || fail "nobody: $(cat "$WORK/as.err")"
as ROOT "$LPORT" B 1 1 "$WORK/m2" || fail "forwarder: $(cat "$WORK/as.err")"
wait_log pp "session 'B         '"
counted pp "channel pp: in 2 out 2 malformed 0 gaps 0 (lost 0) "
counted pp "channel pp: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 2 discarded 0 refuted 0 overflow 0$"
grep -q "whoever can send" "$WORK/pp.log" && fail "pp: warned"
grep -q "EVIL" "$WORK/pp.log" && fail "pp: the forged session was seen"
exit 0
