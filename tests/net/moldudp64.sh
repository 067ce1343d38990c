#!/bin/sh
# MoldUDP64 across two network namespaces joined by a veth pair, over a
# lossy link: host A runs a synthetic channel (lossless, 1 M messages)
# and `mdsub --forward --retransmit`; host B runs mdpub's udp source.
# The loss is netem's (1 %) when the kernel has it, else a relay in A
# (net/relay) that drops every 100th packet carrying messages and counts
# exactly what it dropped; the output says which ran.
#   1. B asks A's re-request server for the gaps: every message arrives,
#      in order (the reader checks sequence continuity and the synthetic
#      invariants), the same as on A (checksum of both dumps), no gap
#      counted, and (relay) the messages recovered are exactly those the
#      relay dropped.
#   2. B without `retransmit`: the messages lost are exactly those the
#      relay dropped, in as many gaps as it dropped packets (netem: lost
#      + received = sent, and some were lost), and B's reader counts
#      exactly as many lost (the channel skips their numbers).
# On a machine too busy to keep up, a kernel may drop datagrams for a full
# socket buffer too (counted in /proc/net/snmp, RcvbufErrors): recovery
# must still be complete, but the exact comparisons with the relay's
# counts are then replaced by "at least" ones, and the output says so.
. "${top_srcdir:-.}/tests/net/helpers.sh"
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }
RELAY=$top_builddir/tests/net/relay
N=1000000
RATE=${MOLD_TEST_RATE:-100000}
DATA_PORT=47000
RTX_PORT=47001
RELAY_PORT=47002
netns_pair
mkdir -p "$MDBUS_DIR/a" "$MDBUS_DIR/b"

if $IN_A tc qdisc add dev "$DEV_A" root netem loss 1% 2>"$WORK/netem.err"; then
	METHOD=netem
	DEST=$ADDR_B:$DATA_PORT
else
	METHOD=relay
	DEST=127.0.0.1:$RELAY_PORT
fi
echo "loss method: $METHOD$( [ $METHOD = relay ] && echo " (netem not available: $(head -n 1 "$WORK/netem.err"))")"

# the messages relayed: src's FEED_UP, N messages, its FEED_DOWN
RELAYED=$((N + 2))

# one_run NAME [KEY=VALUE...]: the channel relayed from A to B with the
# udp source settings given; sets RELAY_OUT (relay's counts), leaves the
# logs in $WORK
one_run() {
	run=$1
	shift
	rm -rf "$MDBUS_DIR/a"/* "$MDBUS_DIR/b"/*
	channel "dst$run.conf" dst "dir=$MDBUS_DIR/b" mode=lossless source=udp \
		"listen=$ADDR_B:$DATA_PORT" "sender=$ADDR_A" rcvbuf=33554432 \
		timestamps=sender "$@"
	channel "src$run.conf" src "dir=$MDBUS_DIR/a" mode=lossless \
		slot_size=128 slots_per_block=4096 block_count=64 \
		source=synthetic "rate=$RATE" "count=$N" seed=7
	$IN_B "$MDPUB" -c "$WORK/dst$run.conf" >"$WORK/dst$run.log" 2>&1 &
	DST=$!
	PIDS="$PIDS $DST"
	wait_log "dst$run" "publishing from sequence"
	if [ $METHOD = relay ]; then
		$IN_A "$RELAY" 127.0.0.1 $RELAY_PORT "$ADDR_B" $DATA_PORT 100 \
			>"$WORK/relay$run.out" 2>&1 &
		RELAY_PID=$!
		PIDS="$PIDS $RELAY_PID"
	fi
	MDBUS_DIR=$MDBUS_DIR/b "$READER" --until "$UNTIL" --timeout 60 \
		--synthetic --dump dst >"$WORK/dst$run.out" 2>"$WORK/dstread$run.log" &
	DREAD=$!
	PIDS="$PIDS $DREAD"
	MDBUS_DIR=$MDBUS_DIR/a $IN_A "$MDSUB" --wait-for-channel --from oldest \
		-n $RELAYED --forward "udp://$DEST" \
		--retransmit="$ADDR_A:$RTX_PORT" --retransmit-allow="$ADDR_B" \
		--retransmit-depth=500000 \
		--retransmit-bytes=67108864 --linger=3 src \
		>"$WORK/fwd$run.log" 2>&1 &
	FWD=$!
	PIDS="$PIDS $FWD"
	sleep 0.2
	$IN_A "$MDPUB" -c "$WORK/src$run.conf" >"$WORK/src$run.log" 2>&1 &
	SRC=$!
	PIDS="$PIDS $SRC"
	until [ -e "$MDBUS_DIR/a/mdbus.src" ]; do sleep 0.01; done
	MDBUS_DIR=$MDBUS_DIR/a "$READER" --from oldest --until $RELAYED \
		--timeout 60 --dump src >"$WORK/src$run.out" 2>&1 ||
		fail "src reader: $(tail -n 3 "$WORK/src$run.out")"
	wait "$SRC" || fail "src mdpub exited $?"
	wait "$FWD" || fail "mdsub --forward exited $?: $(cat "$WORK/fwd$run.log")"
	if [ $METHOD = relay ]; then
		kill -TERM "$RELAY_PID"
		wait "$RELAY_PID" || fail "relay exited $?"
		RELAY_OUT=$(cat "$WORK/relay$run.out")
		echo "run $run: relay: $RELAY_OUT"
	fi
	cat "$WORK/fwd$run.log"
}

# rcvbuf_errors: datagrams the kernels of A and B dropped for a full
# socket buffer (the relay's, the receiver's)
rcvbuf_errors() {
	for ns in "$NS_A" "$NS_B"; do
		ip netns exec "$ns" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++)
			if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp
	done | awk '{ n += $1 } END { print n + 0 }'
}

# counts DST-LOG: "IN LOST GAPS" of the channel's stats line (SIGUSR1)
counts() {
	sed -n 's/.*channel dst: in \([0-9]*\) out [0-9]* malformed 0 gaps \([0-9]*\) (lost \([0-9]*\)).*/\1 \3 \2/p' \
		"$WORK/$1.log" | tail -n 1
}

# relay_field WORD: the number before WORD on the relay's line
# ("relayed P packets dropped D packets M messages failed F")
relay_field() {
	echo "$RELAY_OUT" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"
}

# 1. with retransmission: the reader waits for every message (and dst's
# own FEED_UP)
drops=$(rcvbuf_errors)
UNTIL=$((RELAYED + 1))
one_run 1 "retransmit=$ADDR_A:$RTX_PORT" retransmit_timeout=3 \
	retransmit_buffer=134217728
wait "$DREAD" || fail "dst reader: $(cat "$WORK/dstread1.log")"
kill -USR1 "$DST"
wait_log dst1 "channel dst: in "
wait_log dst1 "source udp: duplicate "
grep "channel dst: \(in\|source\)" "$WORK/dst1.log" | tail -n 2
set -- $(counts dst1)
[ "$1" = $RELAYED ] && [ "$2" = 0 ] && [ "$3" = 0 ] ||
	fail "with retransmission: in $1 lost $2 gaps $3, want in $RELAYED lost 0 gaps 0"
stop "$DST"
grep '^[QT]' "$WORK/src1.out" | cksum >"$WORK/want.sum"
grep '^[QT]' "$WORK/dst1.out" | cksum >"$WORK/got.sum"
[ "$(grep -c '^[QT]' "$WORK/dst1.out")" = $N ] || fail "dst has not $N messages"
grep -q ' lost 0$' "$WORK/dst1.out" || fail "the reader lost messages: $(grep ' lost ' "$WORK/dst1.out")"
cmp -s "$WORK/want.sum" "$WORK/got.sum" || fail "messages differ from the source's"
echo "checksum of $N messages: $(cat "$WORK/got.sum")"
REQ=$(sed -n 's/.* requests \([0-9]*\) recovered \([0-9]*\) .*/\1/p' "$WORK/dst1.log" | tail -n 1)
REC=$(sed -n 's/.* requests \([0-9]*\) recovered \([0-9]*\) .*/\2/p' "$WORK/dst1.log" | tail -n 1)
[ "${REQ:-0}" -gt 0 ] || fail "no re-request was sent"
grep -q "retransmission: [1-9][0-9]* requests served" "$WORK/fwd1.log" ||
	fail "no re-request served"
grep -q "), 0 refused" "$WORK/fwd1.log" || fail "re-requests refused"
drops=$(($(rcvbuf_errors) - drops))
if [ $METHOD = relay ]; then
	[ "${RELAY_OUT##*failed }" = 0 ] || fail "the relay failed to send some"
	[ "$(relay_field messages)" -gt 0 ] || fail "the relay dropped nothing"
	if [ "$drops" = 0 ]; then
		[ "$REC" = "$(relay_field messages)" ] ||
			fail "recovered $REC messages, the relay dropped $(relay_field messages)"
	else
		echo "run 1: the kernels dropped $drops datagrams too (busy machine): recovered >= dropped by the relay"
		[ "$REC" -ge "$(relay_field messages)" ] ||
			fail "recovered $REC messages, the relay dropped $(relay_field messages)"
	fi
fi
echo "run 1: $RELAYED relayed, $REQ re-requests, $REC messages recovered, none lost"

# 2. without retransmission: the reader, until a FEED_DOWN (src's, or
# dst's own at its stop), counts lost what mdpub lost (skipped numbers)
drops=$(rcvbuf_errors)
UNTIL=down
one_run 2
sleep 0.5 # the end of session has come
kill -USR1 "$DST"
wait_log dst2 "channel dst: in "
set -- $(counts dst2)
stop "$DST"
wait "$DREAD" || fail "dst reader: $(cat "$WORK/dstread2.log")"
echo "run 2: in $1 lost $2 gaps $3; the reader: $(grep ' lost ' "$WORK/dst2.out")"
grep -q " lost $2\$" "$WORK/dst2.out" || fail "the reader did not count the $2 lost"
drops=$(($(rcvbuf_errors) - drops))
[ $(($1 + $2)) = $RELAYED ] || fail "in $1 + lost $2 is not $RELAYED"
[ "$2" -gt 0 ] || fail "nothing lost"
if [ $METHOD = relay ] && [ "$drops" != 0 ]; then
	echo "run 2: the kernels dropped $drops datagrams too (busy machine): lost >= dropped by the relay"
	[ "$2" -ge "$(relay_field messages)" ] || fail "lost $2, the relay dropped $(relay_field messages)"
elif [ $METHOD = relay ]; then
	[ "$2" = "$(relay_field messages)" ] ||
		fail "lost $2, the relay dropped $(relay_field messages) messages"
	[ "$3" = "$(echo "$RELAY_OUT" | sed -n 's/.* dropped \([0-9]*\) packets.*/\1/p')" ] ||
		fail "gaps $3, not the packets the relay dropped: $RELAY_OUT"
fi
exit 0
