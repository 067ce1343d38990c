#!/bin/sh
# `make bench`, section relay: a channel relayed over MoldUDP64 on
# loopback, as between two hosts: mdpub (synthetic, lossless) -> mdsub
# --forward --retransmit -> UDP -> mdpub udp source (retransmit on,
# lossless, timestamps = sender) -> mdsub reading it.
#   throughput  N messages offered at each RATE; delivered msg/s =
#               messages read / (first publish .. last read), with the
#               re-requests, messages recovered and lost (when some were
#               lost the reader is stopped 5 s after the forwarder, and
#               the row says so)
#   latency     one-way, publish on the first channel to read on the
#               second (the same clock): 20000 msg/s for 4 s, p50 p99
#               p99.9 max of the third second, from mdsub --stats (the
#               first second has the backlog of the forwarder's start)
# Environment: top_builddir; arguments: N RATE... (default 1000000 and
# 250000 500000 1000000 2000000). Loopback only: what the stack costs, not a
# wire.
set -u
: "${top_builddir:?top_builddir is not set}"
MDPUB=$top_builddir/daemons/mdpub
MDSUB=$top_builddir/clients/mdsub
N=${1:-1000000}
[ $# -gt 0 ] && shift
RATES=${*:-250000 500000 1000000 2000000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdbench-relay.XXXXXX") || exit 1
MDBUS_DIR=$(mktemp -d /dev/shm/mdbench-relay.XXXXXX) || exit 1
export MDBUS_DIR
PIDS=
trap 'for p in $PIDS; do kill -KILL $p 2>/dev/null; done; rm -rf "$WORK" "$MDBUS_DIR"' EXIT
PORT=$((47200 + $$ % 500))

conf() { # conf FILE NAME KEY=VALUE...
	f=$WORK/$1
	printf '[global]\nstats_interval = 0\n[channel %s]\n' "$2" >"$f"
	shift 2
	for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$f"; done
}

now() { date +%s.%N; }

# one COUNT RATE: relays COUNT messages at RATE; prints one line
one() {
	rm -f "$MDBUS_DIR"/*
	conf d.conf d source=udp "listen=127.0.0.1:$PORT" sender=127.0.0.1 \
		rcvbuf=33554432 timestamps=sender mode=lossless \
		"retransmit=127.0.0.1:$((PORT + 1))"
	conf s.conf s mode=lossless slot_size=128 slots_per_block=8192 \
		block_count=64 source=synthetic "rate=$2" "count=$1"
	"$MDPUB" -c "$WORK/d.conf" 2>"$WORK/d.log" &
	dst=$!
	PIDS="$PIDS $dst"
	sleep 0.3
	"$MDSUB" --stats=1 -n $(($1 + 3)) -d 60 --from oldest d \
		>"$WORK/stats.txt" &
	rd=$!
	"$MDSUB" --wait-for-channel --from oldest -n $(($1 + 2)) -d 60 \
		--forward "udp://127.0.0.1:$PORT" \
		--retransmit="127.0.0.1:$((PORT + 1))" --linger=0.3 s \
		2>"$WORK/f.txt" &
	fwd=$!
	PIDS="$PIDS $rd $fwd"
	sleep 0.2
	t0=$(now)
	"$MDPUB" -c "$WORK/s.conf" 2>"$WORK/s.log"
	# the reader ends with the last message; when some were lost it is
	# stopped 5 s after the forwarder
	i=0
	while kill -0 $rd 2>/dev/null; do
		kill -0 $fwd 2>/dev/null || i=$((i + 1))
		[ $i -lt 500 ] || break
		sleep 0.01
	done
	t1=$(now)
	note=
	kill $rd 2>/dev/null && note=" incomplete: the reader was stopped"
	wait $rd
	wait $fwd
	kill -USR1 $dst
	sleep 0.2
	kill -TERM $dst
	wait $dst
	rtx=$(sed -n 's/.* requests \([0-9]*\) recovered \([0-9]*\)$/\1 \2/p' "$WORK/d.log" | tail -n 1)
	lost=$(sed -n 's/.*channel d: in [0-9]* out [0-9]* malformed [0-9]* gaps [0-9]* (lost \([0-9]*\)).*/\1/p' "$WORK/d.log" | tail -n 1)
	awk -v n="$1" -v r="$2" -v t0="$t0" -v t1="$t1" -v rtx="$rtx" -v lost="$lost" \
		-v note="$note" 'BEGIN {
		split(rtx, a, " ")
		printf "  offered %-8s %8.0f msg/s delivered  (%d re-requests, %d recovered, %s lost)%s\n",
			r, (n - lost) / (t1 - t0), a[1], a[2], lost, note
	}'
}

echo "relay: MoldUDP64 over loopback, $N messages of the synthetic source per row"
for r in $RATES; do
	one "$N" "$r"
done

# latency: 4 s at 20000 msg/s, the third second
one 80000 20000 >/dev/null
sed -n '3s/.*latency/  one-way latency (publish to read, 20000 msg\/s):/p' "$WORK/stats.txt"
