#!/bin/sh
# The udp source end to end: hand-made MoldUDP64 packets (bash's /dev/udp
# sends them) with a repeat, gaps (lost once jump_confirm packets continue
# what follows them), heartbeats, an end of session and malformed packets,
# counted exactly (the lost messages skipped in the channel: its readers
# count them lost); a forged packet with a far sequence
# number blinds nothing, nor do two forged packets that continue each
# other, nor one forged after every real one; a real jump that
# jump_confirm packets confirm is taken, counted as jumped and not lost,
# and every packet not taken is counted by reason; packets ahead are held
# (a forged one overtaken by the stream, a reordered one taken, two that
# contradict each other discarded); then, when mdsub is
# built, a channel relayed by `mdsub --forward` arrives complete, unicast
# and multicast. With `retransmit` set and no server answering, gaps wait
# for the timeout, or for the end of the session and a new one, and are
# then lost exactly. A channel with neither session nor sender is
# refused, naming the fix; `sender = any` starts with a warning (more
# cases that warn or are refused: udp_sender.sh), and then
# a forger who sends first shuts the feed out; with `sender`, one on
# another address is shut out before the feed and after its end of
# session, and the sender's next session is taken; an end of session out
# of sequence (repeated, or past jump_window) ends nothing.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/udp"; exit 77; }
UDPSEND=$top_builddir/tests/mdpub/udpsend

n=0
send() { # send SESSION SEQ COUNT [BLOCK-FILES...]: one datagram
	n=$((n + 1))
	f=$WORK/pkt$n
	mold "$f" "$@"
	bash -c "cat '$f' >/dev/udp/127.0.0.1/$PORT" || fail "send"
}
msg 9 a >"$WORK/m1"; msg 9 bb >"$WORK/m2"; msg 9 ccc >"$WORK/m3"; msg 9 dddd >"$WORK/m4"
msg 9 XXXXXXX >"$WORK/mx"

# read_back NAME WHAT LOST N...: the reader $READ of channel NAME ended
# having read, in order, the messages m<N> (type 9, N letters), and
# counted LOST lost
read_back() {
	rb=$1 what=$2 lost=$3
	shift 3
	wait "$READ" || fail "reader $what"
	grep '^M' "$WORK/$rb.out" >"$WORK/got"
	for m in "$@"; do echo "M 9 $m"; done >"$WORK/want"
	diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages $what"
	grep -q " lost $lost\$" "$WORK/$rb.out" ||
		fail "readers do not see the $lost lost: $(grep ' lost ' "$WORK/$rb.out")"
}

# an address not on this host: mdpub does not start, the reason logged once
channel nobind.conf nobind source=udp listen=192.0.2.1:1 sender=127.0.0.1
refused nobind "192.0.2.1:1: bind: Cannot assign requested address"

# a sender list with a port out of range: refused, naming it
channel badsender.conf badsender source=udp listen=127.0.0.1:0 \
	"sender=127.0.0.1 10.0.0.1:99999"
status 1 "$MDPUB" -c "$WORK/badsender.conf" 2>"$WORK/badsender.log"
grep -q "\[channel badsender\]: sender: '10.0.0.1:99999' is not an address" \
	"$WORK/badsender.log" || fail "bad sender not named"

# neither session nor sender: refused (-T and at start, exit 1, before
# any segment is made), the fix named; `sender = any` says so explicitly
channel open.conf open source=udp listen=127.0.0.1:0
OPEN="$WORK/open.conf:3: [channel open]: source udp with neither session nor sender: whoever can send to listen first could take the session and shut the feed out; set sender = ADDR[/BITS][:PORT] (the forwarder's --bind address), or sender = any or session = NAME to accept that"
"$MDPUB" -T -c "$WORK/open.conf" >"$WORK/open.out" 2>"$WORK/open.err"
rc=$?
[ $rc = 1 ] || fail "-T exited $rc, not 1: $(cat "$WORK/open.out" "$WORK/open.err")"
[ "$(wc -l <"$WORK/open.err")" = 1 ] || fail "-T: not one error: $(cat "$WORK/open.err")"
expect "$WORK/open.err" "mdpub: $OPEN"
[ -s "$WORK/open.out" ] && fail "-T printed OK for a udp channel trusting anyone"
timeout 60 "$MDPUB" -c "$WORK/open.conf" 2>"$WORK/open.err"
rc=$?
[ $rc = 1 ] || fail "start exited $rc, not 1: $(cat "$WORK/open.err")"
n=$(grep -c "mdpub\[err\]: " "$WORK/open.err")
[ "$n" = 1 ] || fail "start: $n errors, not 1: $(cat "$WORK/open.err")"
grep -qF "mdpub[err]: $OPEN" "$WORK/open.err" || fail "start: $(cat "$WORK/open.err")"
[ -z "$(ls "$MDBUS_DIR")" ] || fail "a segment was made: $(ls "$MDBUS_DIR")"

# `sender = any` (no session): starts, warns once, and whoever sends
# first has the session: a forged one taken before the feed holds every
# real packet as a session change that one forged heartbeat among them
# resets (mdpub.conf(5)): the forged message out, none of the real ones
channel any.conf any source=udp listen=127.0.0.1:0 sender=any
start any -c "$WORK/any.conf"
PORT=$(port_of any)
wait_log any "publishing from sequence" # the segment exists
START=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) ||
	START=1024
n=$(grep -c "channel any: sender = any: whoever can send to listen can publish messages in place of the feed's, take the session before it or after an end of session, and shut the feed out; set sender = the forwarder's --bind address on another host, or here with a port below $START (mdpub.conf(5))$" "$WORK/any.log")
[ "$n" = 1 ] || fail "sender = any: warned $n times, not once"
send EVIL 1 1 "$WORK/mx"          # first: the session
send FEED 1 1 "$WORK/m1"          # the real feed: held...
send FEED 2 1 "$WORK/m2"
send EVIL 2 0                     # ...and dropped by a forged heartbeat
send FEED 3 1 "$WORK/m1"
send FEED 4 1 "$WORK/m2"
send EVIL 2 0
counted any "channel any: in 1 out 1 malformed 0 gaps 0 (lost 0) "
counted any "channel any: source udp: duplicate 0 session 4 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
grep -q "channel any: session 'EVIL      '$" "$WORK/any.log" || fail "the forged session not taken"
stop "$PID"

# `sender` only: a forger on another address is shut out before the feed
# and after its end of session, while a new session from the sender is
# taken at once
channel s.conf s source=udp listen=127.0.0.1:0 sender=127.0.0.1
receive s
forge() { # forge SESSION SEQ COUNT [BLOCK-FILES...]: from 127.0.0.2
	mold "$WORK/forged" "$@"
	"$UDPSEND" -b 127.0.0.2 127.0.0.1 "$PORT" "$WORK/forged" || fail "udpsend"
}
forge EVIL 1 1 "$WORK/mx"         # before the feed
send A 1 1 "$WORK/m1"
send A 2 65535                    # end of session
forge EVIL 1 1 "$WORK/mx"         # after it
forge A 2 1 "$WORK/mx"
send B 1 1 "$WORK/m2"             # the sender's new session
send B 2 65535
wait_log s "session 'B         ' ended"
counted s "channel s: in 2 out 2 malformed 0 gaps 0 (lost 0) "
counted s "channel s: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 3 discarded 0 refuted 0 overflow 0$"
grep -q "EVIL" "$WORK/s.log" && fail "the forged session was seen"
stop "$PID"
wait "$READ" || fail "reader of s"
grep '^M' "$WORK/s.out" >"$WORK/got"
printf 'M 9 1\nM 9 2\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages with sender"

# an end of session out of sequence does not end it: one repeated (at a
# message taken already) and one past jump_window are not believed, so
# another session is held as any, and the stream goes on. Before, either
# ended the session, and the next packet of any other session was taken
# at once (fuzzing)
channel e.conf e source=udp listen=127.0.0.1:0 sender=127.0.0.1 jump_window=1000
receive e
send A 1 1 "$WORK/m1"
send A 2 1 "$WORK/m2"
send A 3 1 "$WORK/m3"
send A 1 65535                    # an end of session at message 1: repeated
send B 1 1 "$WORK/mx"             # held, not taken
send A 9999 65535                 # one far ahead: held
send C 1 1 "$WORK/mx"             # held, not taken
send A 4 1 "$WORK/m4"             # the stream goes on
send A 5 65535                    # its end, in sequence
wait_log e "session 'A         ' ended"
counted e "channel e: in 4 out 4 malformed 0 gaps 0 (lost 0) "
[ "$(grep -c "session 'A         ' ended" "$WORK/e.log")" = 1 ] ||
	fail "ended more than once: $(grep ended "$WORK/e.log")"
grep -q "channel e: session '[BC]" "$WORK/e.log" && fail "another session taken"
stop "$PID"
read_back e "around ends out of sequence" 0 1 2 3 4

channel u.conf u source=udp listen=127.0.0.1:0 session=TEST1
start u -c "$WORK/u.conf"
PORT=$(port_of u)
wait_log u "publishing from sequence" # the segment exists
"$READER" --until 6 --dump u >"$WORK/u.out" &
READ=$!
send TEST1 1 2 "$WORK/m1" "$WORK/m2"
send TEST1 3 1 "$WORK/m3"
send TEST1 3 1 "$WORK/m3"        # repeated: skipped
send TEST1 6 1 "$WORK/m4"        # 4 and 5 missing: held...
send TEST1 7 0                            # ...continued by heartbeats...
send TEST1 7 0
send TEST1 7 0                            # ...3 times: 4 and 5 lost
send TEST1 9 0                            # heartbeat: 7 and 8 missing
send TEST1 9 0
send TEST1 9 0
send TEST1 9 0                            # continued 3 times: lost
printf 'short' >"$WORK/short"
bash -c "cat '$WORK/short' >/dev/udp/127.0.0.1/$PORT"
send TEST1 9 2 "$WORK/m1"        # first block taken, second missing
{ be 3 2; printf abc; } >"$WORK/m5"
send TEST1 10 1 "$WORK/m5"                # message under 12 bytes
send TEST1 11 65535                       # end of session
wait_log u "session 'TEST1     ' ended"
wait "$READ" || fail "reader"
grep '^M' "$WORK/u.out" >"$WORK/got"
printf 'M 9 1\nM 9 2\nM 9 3\nM 9 4\nM 9 1\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages"
grep -q ' lost 4$' "$WORK/u.out" || fail "readers do not see the 4 lost: $(grep ' lost ' "$WORK/u.out")"
counted u "channel u: in 5 out 5 malformed 3 gaps 2 (lost 4) "
counted u "channel u: source udp: duplicate 1 session 0 malformed 3 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
grep -q "gap: messages 4..5 lost" "$WORK/u.log" || fail "gap not logged"
stop "$PID"

# one forged packet numbered 2^62 in the live session, then the real
# stream: every real message is published; a jump of 94 that the next 3
# packets continue (jump_confirm, by default) is taken, jumped and not lost
channel f.conf f source=udp listen=127.0.0.1:0 session=FEED jump_window=50
start f -c "$WORK/f.conf"
PORT=$(port_of f)
wait_log f "publishing from sequence" # the segment exists
"$READER" --until 10 --dump f >"$WORK/f.out" &
READ=$!
send FEED 1 2 "$WORK/m1" "$WORK/m2"
send FEED 4611686018427387904 1 "$WORK/mx" # forged: held, never taken
send FEED 3 1 "$WORK/m3"
send FEED 3 1 "$WORK/m3"                    # duplicate
send OTHER 4 1 "$WORK/mx"                   # another session
send FEED 4 2 "$WORK/m4" "$WORK/m1"
send FEED 6 0                               # heartbeat, in order
send FEED 100 1 "$WORK/m2"                  # a real jump: held...
send FEED 101 1 "$WORK/m3"                  # ...continued...
send FEED 102 0                             # ...(a heartbeat too)...
send FEED 102 1 "$WORK/m4"                  # ...and confirmed
send FEED 103 1 "$WORK/m1"
send FEED 104 65535
wait_log f "session 'FEED      ' ended"
wait "$READ" || fail "reader after the forged packet"
grep '^M' "$WORK/f.out" >"$WORK/got"
printf 'M 9 1\nM 9 2\nM 9 3\nM 9 4\nM 9 1\nM 9 2\nM 9 3\nM 9 4\nM 9 1\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages after the forged packet"
counted f "channel f: in 9 out 9 malformed 0 gaps 0 (lost 0) "
counted f "channel f: source udp: duplicate 1 session 1 malformed 0 jump 4 adopted 1 jumped 94 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
grep -q "channel f: packet of sequence 4611686018427387904 while 3 is expected: a jump beyond jump_window, held until 3 packets continue it" \
	"$WORK/f.log" || fail "forged jump not logged"
grep -q "channel f: sequence jumps from 6 to 100, confirmed by 3 packets continuing it" \
	"$WORK/f.log" || fail "confirmed jump not logged"
grep -q "gap: messages" "$WORK/f.log" && fail "an adopted jump logged as a gap"
stop "$PID"

# two forged packets that continue each other (10^12, 10^12 + 1) are not
# taken, nor is a forged packet sent after every real one: every real
# message is published, none forged, and no gap is counted
channel g.conf g source=udp listen=127.0.0.1:0 session=FEED
start g -c "$WORK/g.conf"
PORT=$(port_of g)
wait_log g "publishing from sequence" # the segment exists
"$READER" --until 6 --dump g >"$WORK/g.out" &
READ=$!
send FEED 1 1 "$WORK/m1"
send FEED 1000000000000 1 "$WORK/mx"
send FEED 1000000000001 1 "$WORK/mx"
send FEED 2 1 "$WORK/m2"
send FEED 1000000000002 1 "$WORK/mx"
send FEED 3 1 "$WORK/m3"
send FEED 1000000000003 1 "$WORK/mx"
send FEED 4 1 "$WORK/m4"
send FEED 1000000000004 1 "$WORK/mx"
send FEED 5 1 "$WORK/m1"
send FEED 1000000000005 1 "$WORK/mx"
send FEED 6 65535
wait_log g "session 'FEED      ' ended"
wait "$READ" || fail "reader after the forged packets"
grep '^M' "$WORK/g.out" >"$WORK/got"
printf 'M 9 1\nM 9 2\nM 9 3\nM 9 4\nM 9 1\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages among forged packets"
counted g "channel g: in 5 out 5 malformed 0 gaps 0 (lost 0) "
counted g "channel g: source udp: duplicate 0 session 0 malformed 0 jump 6 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
stop "$PID"

# packets ahead are held, not believed: one forged at the number the
# stream then reaches is overtaken by the real one; a reordered real
# packet is taken once 3 packets continue it, nothing lost; two packets
# that claim one number with other bytes are both discarded, and the gap
# they leave is lost once 3 packets (a heartbeat among them) confirm it
channel h.conf h source=udp listen=127.0.0.1:0 session=FEED
receive h
send FEED 1 1 "$WORK/m1"
send FEED 3 1 "$WORK/mx"         # forged, ahead: held
send FEED 2 1 "$WORK/m2"         # the stream reaches it: suspect
send FEED 3 1 "$WORK/m3"         # the real one: taken, the forged discarded
send FEED 5 1 "$WORK/m1"         # 4 comes late: held
send FEED 4 1 "$WORK/m4"         # the stream reaches it: suspect
send FEED 6 1 "$WORK/m2"         # continued...
send FEED 7 1 "$WORK/m3"
send FEED 8 1 "$WORK/m4"         # ...3 times: taken, nothing lost
send FEED 10 1 "$WORK/m1"        # 9 missing: held
send FEED 10 1 "$WORK/mx"        # 10 again, other bytes: both discarded
send FEED 11 1 "$WORK/m2"
send FEED 12 1 "$WORK/m3"
send FEED 13 1 "$WORK/m4"
send FEED 14 0                   # continued 3 times: 9 and 10 lost
send FEED 14 65535
wait_log h "session 'FEED      ' ended"
counted h "channel h: in 11 out 11 malformed 0 gaps 1 (lost 2) "
counted h "channel h: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 3 refuted 0 overflow 0$"
grep -q "gap: messages 9..10 lost" "$WORK/h.log" || fail "gap 9..10 not logged"
stop "$PID"
read_back h "among held packets" 2 1 2 3 4 1 2 3 4 2 3 4

# two gaps close together (2, then 4), jump_confirm packets continuing
# the second run: both lost at once, everything else published. Before,
# only the first held packets' run could confirm: the channel published
# nothing more until the held list was full and the feed jump_window
# ahead, then took a jump that readers did not see as a loss
channel k.conf k source=udp listen=127.0.0.1:0 session=FEED
receive k
send FEED 1 1 "$WORK/m1"
send FEED 3 1 "$WORK/m3"         # 2 missing: held
send FEED 5 1 "$WORK/m1"         # 4 missing: held
send FEED 6 1 "$WORK/m2"         # continued...
send FEED 7 1 "$WORK/m3"
send FEED 8 1 "$WORK/m4"         # ...3 times: 2 and 4 lost
send FEED 9 1 "$WORK/m1"         # the stream, in order
counted k "channel k: in 7 out 7 malformed 0 gaps 2 (lost 2) "
counted k "channel k: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
grep -q "gap: messages 2..2 lost" "$WORK/k.log" || fail "gap 2 not logged"
grep -q "gap: messages 4..4 lost" "$WORK/k.log" || fail "gap 4 not logged"
send FEED 10 65535
wait_log k "session 'FEED      ' ended"
stop "$PID"
read_back k "around two gaps" 2 1 3 1 2 3 4 1

# retransmit to a server that never answers: a gap waits, held packets
# behind it; the end of the session and a new one give it up at once
# (lost, exact) and publish what was held; an end of session shows a
# gap, lost after the timeout
channel r.conf r source=udp listen=127.0.0.1:0 sender=127.0.0.1 \
	retransmit=127.0.0.1:9 retransmit_timeout=1
start r -c "$WORK/r.conf"
PORT=$(port_of r)
wait_log r "publishing from sequence"
"$READER" --until down --dump r >"$WORK/r.out" &
READ=$!
send RA 1 1 "$WORK/m1"
send RA 4 1 "$WORK/m4"           # 2 and 3 missing: held
send RA 5 1 "$WORK/m1"           # held
send RA 6 65535                  # end of session (held too)
send RB 1 1 "$WORK/m2"           # new session: 2 and 3 lost, 4 and 5 out
send RB 2 1 "$WORK/m3"
send RB 5 65535                  # end of session: 3 and 4 missing
wait_log r "gap: messages 3..4 lost"
counted r "channel r: in 5 out 5 malformed 0 gaps 2 (lost 4) "
counted r "channel r: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests [1-9][0-9]* recovered 0 sender 0 discarded 0 refuted 0 overflow 0$"
stop "$PID"
wait "$READ" || fail "reader with retransmit"
grep '^M' "$WORK/r.out" >"$WORK/got"
printf 'M 9 1\nM 9 4\nM 9 1\nM 9 2\nM 9 3\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages with retransmit"
grep -q ' lost 4$' "$WORK/r.out" || fail "readers do not see the 4 lost: $(grep ' lost ' "$WORK/r.out")"
grep -q "gap: messages 2..3 lost" "$WORK/r.log" || fail "first gap not lost"

# relay: synthetic channel -> mdsub --forward -> udp source -> reader
[ -x "${MDSUB:-}" ] || { echo "relay part skipped: mdsub not built"; exit 0; }
channel src.conf src source=synthetic rate=0 count=300
channel dst.conf dst source=udp listen=127.0.0.1:0 sender=127.0.0.1 \
	rcvbuf=4194304
status 0 "$MDPUB" -c "$WORK/src.conf" 2>"$WORK/src.log"
start dst -c "$WORK/dst.conf"
PORT=$(port_of dst)
wait_log dst "publishing from sequence" # the segment exists
"$READER" --until 303 --dump dst >"$WORK/dst.out" &
READ=$!
"$MDSUB" --from oldest --until-caught-up --forward "udp://127.0.0.1:$PORT" src \
	>"$WORK/fwd.log" 2>&1 || fail "mdsub --forward: $(cat "$WORK/fwd.log")"
wait "$READ" || fail "relay reader"
status 0 "$READER" --until down --dump src >"$WORK/src.out"
grep '^[QTS]' "$WORK/src.out" >"$WORK/want"
grep '^[QTS]' "$WORK/dst.out" | tail -n +2 >"$WORK/got" # dst's own FEED_UP
diff -u "$WORK/want" "$WORK/got" >/dev/null || fail "relayed messages differ"
stop "$PID"

# the same over multicast on the loopback interface
GROUP=239.255.77.$(($$ % 200 + 1))
channel mc.conf mc source=udp "listen=$GROUP:0" interface=127.0.0.1 \
	sender=127.0.0.1 rcvbuf=4194304
start mc -c "$WORK/mc.conf"
PORT=$(port_of mc)
wait_log mc "publishing from sequence" # the segment exists
"$READER" --until 303 --dump mc >"$WORK/mc.out" &
READ=$!
"$MDSUB" --from oldest --until-caught-up --interface 127.0.0.1 \
	--forward "udp://$GROUP:$PORT" src >"$WORK/fwd.log" 2>&1 ||
	fail "mdsub --forward multicast: $(cat "$WORK/fwd.log")"
wait "$READ" || fail "multicast reader"
grep '^[QTS]' "$WORK/mc.out" | tail -n +2 >"$WORK/got"
diff -u "$WORK/want" "$WORK/got" >/dev/null || fail "multicast messages differ"
stop "$PID"
exit 0
