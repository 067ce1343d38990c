#!/bin/sh
# mdsub --forward --retransmit against a requester that alternates
# requests for two far-apart old numbers of a large archive file (one
# file of 2000000 records): each such request opens a reader that reads
# the file from its start to the number asked (archive files have no
# index), and the walk is charged to the requester (64 bytes a message
# read past, clients/retransmit.c) after the read, its bucket going into
# debt: the records walked stay within what its --retransmit-rate pays
# for, and the live feed forwarded meanwhile arrives whole. Before, each
# request paid one packet whatever it walked: every one of them was read
# (12 reads and readers for 12 requests, 6 walks of 1000000 records).
# The forwarder starts at the archive's first record: numbers from
# before the session's first are not answered (mdpub/rtx_filter.sh); its
# receiver sleeps through that replay (its socket keeps what fits), and
# the live feed after it must arrive whole.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }
REQ=$top_builddir/tests/mdsub/requester
AR=$WORK/ar
OLD=2000000      # records of the archive file before the feed
FAR=1000001      # MoldUDP64 number of ring sequence 1000000
ROUNDS=6         # requests for 1, then FAR, from one address
RATE=100000      # --retransmit-rate: bytes per second and requester
SKIP_COST=64     # bucket bytes per message read past

# field NAME: the number after NAME in $out
field() { echo "$out" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }

channel old.conf wk source=synthetic rate=0 count=$OLD mode=lossless \
	slots_per_block=1024 block_count=4 archive="$AR"
status 0 "$MDPUB" -c "$WORK/old.conf" 2>"$WORK/old.log"
[ "$(ls "$AR" | grep -c '\.rec$')" -eq 1 ] || fail "archive: $(ls "$AR")"
# the live feed goes on until stop_forwarding stops it, however long the
# requests take (with a count it ended by itself, before the requests did
# on CI's loaded TSan stage, and the stop found mdpub gone)
channel wk.conf wk source=synthetic rate=20000 count=0 mode=lossless \
	slots_per_block=1024 block_count=4 archive="$AR"

# a receive buffer that holds the live feed through the receiver's
# stalls on a loaded box (CI's TSan stage once lost 202 messages, 10 ms of
# feed, with the default 208 KiB); of the replay it keeps what fits
export TESTTOOL_RCVBUF=8388608
udp_receiver wk
kill -STOP $receiver
: >"$WORK/fwd.err"
"$MDSUB" --forward "udp://127.0.0.1:$(cat "$WORK/port")" --from 0 \
	--session WALK --retransmit=127.0.0.1:0 --retransmit-depth=100 \
	--retransmit-rate=$RATE --linger=0 wk 2>"$WORK/fwd.err" &
fwd=$!
PIDS="$PIDS $fwd"
port=$(rtx_port "$WORK/fwd.err")
i=0 # until it has read (and forwarded) the old records: out of the replay
until "$MDSUB" --status -o json wk | grep -q "\"position\":$((OLD + 2))"; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "old records not forwarded in 60 s: $("$MDSUB" --status wk)"
	sleep 0.05
done
kill -CONT $receiver
# the live feed starts once the receiver has taken what its socket kept
# of the replay (rx_queue 0 in /proc/net/udp), so that it has the whole
# buffer for the feed
hexport=$(printf '%04X' "$(cat "$WORK/port")")
i=0
while awk -v p=":$hexport" '$2 ~ p"$" { split($5, q, ":"); if (q[2] != "00000000") f = 1 }
	END { exit !f }' /proc/net/udp; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "receiver did not drain its socket in 60 s"
	sleep 0.05
done
start wk -c "$WORK/wk.conf"
wait_log wk "channel wk: publishing from sequence "
first=$(sed -n 's/.*channel wk: publishing from sequence \([0-9]*\),.*/\1/p' "$WORK/wk.log")
[ "$first" -eq $((OLD + 2)) ] || fail "resumed at $first"

# the hostile requester, while the feed goes on
t0=$(date +%s.%N)
answers=0
r=0
while [ $r -lt $ROUNDS ]; do
	for seq in 1 $FAR; do
		out=$("$REQ" "$port" WALK $seq 1 1) || fail "requester: $out"
		answers=$((answers + $(field answers)))
	done
	r=$((r + 1))
done
t1=$(date +%s.%N)

stop_forwarding wk
# the live feed: messages first .. n - 1, each once, in order (what the
# receiver's socket kept of the replay before it left out)
awk -v f="$first" '$1 != "wk" || $2 >= f' "$WORK/udp" >"$WORK/live"
mv "$WORK/live" "$WORK/udp"
forwarded_whole "$first" "$n"

# the bound: what it walked beyond the one read that went into debt (at
# most one file) is within what its bucket (RATE bytes/s, holding RATE/20
# or two packets of at most 65535 bytes) gave over the run
walked=$(sed -n 's/.*retransmission: .*messages skipped \([0-9]*\))$/\1/p' "$WORK/fwd.err")
[ -n "$walked" ] || fail "no count of messages skipped: $(cat "$WORK/fwd.err")"
awk -v w="$walked" -v last="$((FAR - 1))" -v c=$SKIP_COST -v r=$RATE \
	-v t0="$t0" -v t1="$t1" 'BEGIN {
	paid = r * (t1 - t0) + (r / 20 > 2 * 65563 ? r / 20 : 2 * 65563)
	printf "walked %d records in %.1f s: %d past the last read, %d paid for\n",
		w, t1 - t0, w - last, paid / c
	exit !((w - last) * c <= paid) }' || fail "walked more than paid for"
# exactly: 1 (ring sequence 0, the file's first record) and FAR are paid
# for and read; FAR's walk (1000000 records) puts the requester 64000000
# bytes in debt, 640 s of its rate: every later request is refused unread
requests=$((2 * ROUNDS))
# (the requester listens 300 ms after its request: on a slow build, TSan,
# the answer to the far one, a walk of 1000000 records, comes later; the
# server's own count below is exact)
[ $answers -ge 1 ] && [ $answers -le 2 ] ||
	fail "$answers answers, want 2: $(cat "$WORK/fwd.err")"
line="mdsub: udp://127.0.0.1:$(cat "$WORK/port"): retransmission: 2 requests served (2 messages), $((requests - 2)) refused (allow 0, rate $((requests - 2)), session 0, malformed 0), 0 out of range (before the session 0, filtered out 0), 2 read from the archive (readers opened 2, messages skipped $((FAR - 1)))"
grep -qxF "$line" "$WORK/fwd.err" ||
	fail "summary: $(cat "$WORK/fwd.err"), want $line"
echo "forwarded $((n - first)) messages whole; $requests requests, 2 read"
exit 0
