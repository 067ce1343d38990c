#!/bin/sh
# --forward udp://127.0.0.1:PORT: MoldUDP64 packets carrying every message
# (numbered ring sequence + 1) in batches, heartbeats when idle, an end of
# session at exit; mdpub's udp source reproduces the messages.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

# recv_start CHANNEL OUT [GROUP]: a receiver in the background
recv_start() {
	rm -f "$WORK/port"
	"$TOOL" udprecv "$1" "$WORK/port" ${3:-} >"$WORK/$2" &
	receiver=$!
	i=0
	until [ -s "$WORK/port" ] || ! kill -0 $receiver 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 1200 ] || fail "receiver did not start"
		sleep 0.05
	done
	port=$(cat "$WORK/port" 2>/dev/null)
}

pub feed 14
status 0 "$MDSUB" -o raw --from oldest -u feed >"$WORK/raw"

# small batches: several packets, every message once, in order
recv_start feed udp1
status 0 "$MDSUB" --forward "udp://127.0.0.1:$port" --batch-bytes 200 \
	--from oldest -u feed
wait $receiver || fail "receiver 1"
grep -v '^heartbeat \|^end ' "$WORK/udp1" >"$WORK/got1"
same "$WORK/raw" "$WORK/got1" "forwarded messages"
grep -qx 'end 15' "$WORK/udp1" || fail "end of session: $(tail -n 1 "$WORK/udp1")"

# --from 5 and a filter: numbering follows the ring
recv_start feed udp2
status 0 "$MDSUB" --forward "udp://localhost:$port" -t quote --from 5 -u feed
wait $receiver || fail "receiver 2"
grep '^feed [0-9]* [0-9]* 1 ' "$WORK/raw" | tail -n +2 >"$WORK/want2"
grep -v '^heartbeat \|^end ' "$WORK/udp2" >"$WORK/got2"
same "$WORK/want2" "$WORK/got2" "filtered forward"

# idle: heartbeats carrying the next number, then the end (1 s of them:
# 3 of the 10 even when a loaded machine stalls the forwarder a while)
recv_start feed udp3
status 0 "$MDSUB" --forward "udp://127.0.0.1:$port" --heartbeat 0.1 -d 1 feed
wait $receiver || fail "receiver 3"
[ "$(grep -c '^heartbeat 15$' "$WORK/udp3")" -ge 3 ] || fail "heartbeats: $(cat "$WORK/udp3")"

# multicast on the loopback interface, TTL 0 (this host only)
group=239.255.0.77
recv_start feed udp4 $group
if [ -n "$port" ]; then
	status 0 "$MDSUB" --forward "udp://$group:$port" --interface 127.0.0.1 \
		--ttl 0 --from oldest -u feed
	wait $receiver || fail "multicast receiver"
	grep -v '^heartbeat \|^end ' "$WORK/udp4" >"$WORK/got4"
	same "$WORK/raw" "$WORK/got4" "multicast forward"
else
	wait $receiver
	echo "SKIP (part): cannot join a multicast group on lo"
fi

# mdpub's udp source reproduces the messages
if [ ! -x "${MDPUB:-}" ]; then
	echo "SKIP (part): mdpub not built, udp source not checked"
	exit 0
fi
port=$((20000 + $$ % 20000))
# as root, the forwarder sends from a privileged port, which no other
# local user can take (else mdpub warns of sender = 127.0.0.1 with any
# port: mdpub.conf(5))
start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) ||
	start=1024
sender=127.0.0.1
bind=
if [ "$(id -u)" -eq 0 ] && [ "$start" -gt 100 ]; then
	sender=127.0.0.1:$((start - 1 - $$ % 50))
	bind=--bind=$sender
fi
cat >"$WORK/udp.conf" <<CONF
[channel relayed]
source = udp
listen = 127.0.0.1:$port
sender = $sender
timestamps = sender
CONF
"$MDPUB" -c "$WORK/udp.conf" 2>"$WORK/mdpub.log" &
mdpub=$!
trap 'kill $mdpub 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_for "$MDSUB" --status relayed # its socket is bound before
status 0 "$MDSUB" --forward "udp://127.0.0.1:$port" $bind --from oldest -u feed
wait_for sh -c "\"$MDSUB\" --list | grep -q '^relayed .* 1[5-9] '"
kill -TERM $mdpub
wait $mdpub
status 0 "$MDSUB" -o raw --from oldest -u relayed >"$WORK/relayed"
payloads "$WORK/raw" >"$WORK/a"
payloads "$WORK/relayed" >"$WORK/b"
same "$WORK/a" "$WORK/b" "messages relayed through mdpub"
if [ -n "$bind" ] && grep -q "whoever can send" "$WORK/mdpub.log"; then
	fail "mdpub warned of sender = $sender: $(cat "$WORK/mdpub.log")"
fi

# a destination on a port of this host that any local user may bind
# while the receiver is not running (mdsub(1), --forward): warned, for
# udp:// and a plain nats:// server of a list, and for the unspecified
# address (0.0.0.0, [::]: datagrams and connections to it reach this
# host); a port below net.ipv4.ip_unprivileged_port_start and tls://
# not (loopback only: the test sends nowhere else). Before, nothing
# warned, and then not the unspecified address, nor a nats:// server
# with credentials (USER:PASSWORD@: sent to whoever listens), which the
# warning names without them; and with --nats-tls, a nats:// server
# (TLS then) was warned about, not now; 127.1 (127.0.0.1 to
# getaddrinfo()) was not.
START=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) ||
	START=1024
if [ "$START" -gt 1 ] && [ "$START" -le 40000 ]; then
	w="any local user may take this port while its receiver is not running"
	for u in udp://127.0.0.1:40000 "udp://127.0.0.1:$((START - 1))" \
		udp://0.0.0.0:40000 "udp://[::]:40000" udp://127.1:40000 \
		"nats://127.0.0.1:$((START - 1)),nats://127.0.0.1:40000" \
		tls://127.0.0.1:40000 nats://u:secret@127.0.0.1:40000 \
		"nats://127.0.0.1:40000 --nats-tls"; do
		case $u in nats*|tls*) [ "${MDBUS_NATS_BUILT:-no}" = yes ] || continue ;; esac
		# shellcheck disable=SC2086 # an option after the url, or none
		timeout 10 "$MDSUB" --forward "${u%% *}" ${u#"${u%% *}"} \
			--from oldest -u feed >/dev/null 2>"$WORK/w.err"
		case $u in
		tls*|*:$((START - 1))|*--nats-tls) d= ;;
		*,nats://127.0.0.1:40000|nats://*@127.0.0.1:40000)
			d=nats://127.0.0.1:40000 ;;
		*) d=$u ;;
		esac
		warned_once "--forward $u" "$WORK/w.err" "$w" \
			"${d:+mdsub: feed: --forward $d: $w, and then gets what is forwarded; forward to a port below $START, or to another host (mdsub(1))}"
	done
fi
exit 0
