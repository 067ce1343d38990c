#!/bin/sh
# mdsub --forward --retransmit flooded with re-requests for a message only
# its archive hook can read (clients/rtx_archive.c) while it forwards a
# live feed: each request is paid for as a full packet before anything is
# read, so the channel is read (and a reader opened) exactly once per
# answer the rate let through, the rest refused by rate without a read;
# the reads are done without the lock the forwarder takes for every
# packet, and the feed arrives whole: every message once, in order.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }
REQ=$top_builddir/tests/mdsub/requester
AR=$WORK/ar
ROUNDS=3
FLOOD=200

# field NAME: the number after NAME in $out
field() { echo "$out" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }

channel fl.conf fl source=synthetic rate=20000 mode=lossless \
	slots_per_block=1024 block_count=4 archive="$AR" archive_size=100000

# the receiver and the forwarder wait for the feed: no burst to catch up
# with (the receiver would drop datagrams); 8 MiB of receive buffer for
# the bursts a sanitizer's slowdown still makes (TSan CI: 'message 2007
# is 2207', ASan once: 'message 1572 is 1691')
export TESTTOOL_RCVBUF=8388608
udp_receiver fl
: >"$WORK/fwd.err"
"$MDSUB" --forward "udp://127.0.0.1:$(cat "$WORK/port")" --from 0 \
	--wait-for-channel --session FLOOD --retransmit=127.0.0.1:0 \
	--retransmit-depth=100 --retransmit-rate=20000 --linger=0 fl \
	2>"$WORK/fwd.err" &
fwd=$!
PIDS="$PIDS $fwd"
start fl -c "$WORK/fl.conf"
wait_log fl "channel fl: archive $AR from sequence 0"
port=$(rtx_port "$WORK/fwd.err")

# rounds of 200 requests for message 1 (ring sequence 0) from one
# address, while the feed goes on
answers=0
messages=0
r=0
while [ $r -lt $ROUNDS ]; do
	out=$("$REQ" "$port" FLOOD 1 65535 $FLOOD) || fail "requester: $out"
	[ "$(field answers)" -ge 1 ] && [ "$(field answers)" -lt $FLOOD ] ||
		fail "round $r: $out"
	answers=$((answers + $(field answers)))
	messages=$((messages + $(field messages)))
	r=$((r + 1))
done
echo "$((ROUNDS * FLOOD)) requests for message 1: $answers answers"

stop_forwarding fl

# the live feed: messages 0 .. n - 1, each once, in order
forwarded_whole 0 "$n"
grep -qx "end $((n + 1))" "$WORK/udp" || fail "end of session: $(tail -n 1 "$WORK/udp")"

refused=$((ROUNDS * FLOOD - answers))
line="mdsub: udp://127.0.0.1:$(cat "$WORK/port"): retransmission: $answers requests served ($messages messages), $refused refused (allow 0, rate $refused, session 0, malformed 0), 0 out of range (before the session 0, filtered out 0), $answers read from the archive (readers opened $answers, messages skipped 0)"
grep -qxF "$line" "$WORK/fwd.err" ||
	fail "summary: $(cat "$WORK/fwd.err"), want $line"
echo "forwarded $n messages whole; read $answers times for $answers answers"
exit 0
