#!/bin/sh
# Core NATS and a server that stops reading (SIGSTOP mid-stream): the
# forwarder's publishes fill the socket, then its window of 64, and then
# --nats-stall bounds its waits. With --nats-full=skip it reads the ring
# on while the server is stopped (a lossless channel: its publisher would
# wait for it otherwise), and every message it skips is one the receiver
# counts lost: sent = delivered + skipped, exactly. After SIGCONT delivery
# resumes in order, through to the channel's last message. With
# --nats-full=wait a forwarder told to stop while the server is stopped
# exits within its bound (4 x --nats-ack-wait), saying how many messages
# it could not publish.
. "${top_srcdir:-.}/tests/nats/helpers.sh"

nats_start s1
URL=nats://127.0.0.1:$(nats_port s1)
SPID=$(cat "$WORK/s1.pid")

channel src.conf src source=synthetic rate=50000 mode=lossless
channel dst.conf dst source=nats "url=$URL" 'subject=mdbus.src.>'
run_channel dst
DST=$PID
dump_channel dst
RD=$RPID
run_channel src
SRC=$PID
dump_channel src
RS=$RPID
"$MDSUB" --from oldest --forward "$URL" --nats-max-pending 64 \
	--nats-stall 20 --nats-full skip src >"$WORK/fwd.log" 2>&1 &
FWD=$!
PIDS="$PIDS $FWD"
forwarding "$FWD" src
sleep 0.2
kill -STOP "$SPID"
stopped_at=$(dir_write_num "$MDBUS_DIR" src)
# the forwarder reads on (the lossless publisher goes on) and skips,
# once the socket's buffers (their size is the kernel's) and the window
# are full
i=0
until grep -q "mdsub: nats: the server is slow: [1-9][0-9]* messages skipped" \
	"$WORK/fwd.log"; do
	i=$((i + 1))
	[ $i -le 1200 ] || { kill -CONT "$SPID"; fail "no skips while the server is stopped: $(cat "$WORK/fwd.log")"; }
	sleep 0.05
done
now=$(dir_write_num "$MDBUS_DIR" src)
[ "$now" -gt "$stopped_at" ] ||
	{ kill -CONT "$SPID"; fail "src stood still at $now while the server was stopped"; }
sleep 0.3
kill -CONT "$SPID"
sleep 0.5
stop "$SRC"
wait "$RS" || fail "reader of src"
# the forwarder has read them all (its consumer position), then stops
read_all "$FWD" src
kill -TERM "$FWD"
wait "$FWD" || fail "mdsub: $(cat "$WORK/fwd.log")"
summary=$(grep "^mdsub: nats: [0-9]* published" "$WORK/fwd.log")
skipped=$(echo "$summary" | sed -n 's/.* \([0-9]*\) skipped, .*/\1/p')
published=$(echo "$summary" | sed -n 's/^mdsub: nats: \([0-9]*\) published.*/\1/p')
[ "${skipped:-0}" -gt 0 ] || fail "nothing skipped: $summary"
[ $((published + skipped)) -eq "$sent" ] ||
	fail "sent $sent, but published $published + skipped $skipped"
echo "$summary" | grep -q " 0 errors, 0 resent, $skipped skipped, [1-9][0-9]* stalls, 0 unacknowledged" ||
	fail "summary: $summary"
delivered=$((sent - skipped))
i=0
until kill -USR1 "$DST" && sleep 0.1 &&
	grep -q "channel dst: in $delivered out $delivered malformed 0 gaps [0-9]* (lost $skipped) " \
		"$WORK/dst.log"; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "dst: not $delivered in and $skipped lost: $(grep 'channel dst: in' "$WORK/dst.log" | tail -n 1)"
done
stop "$DST"
wait "$RD" || fail "reader of dst"
# delivery resumed: the last message (after SIGCONT) arrived, and the
# ones that did came in order (a subsequence of the sent ones)
[ "$(grep '^[QT] ' "$WORK/src.out" | tail -n 1)" = "$(grep '^[QT] ' "$WORK/dst.out" | tail -n 1)" ] ||
	fail "the last message did not arrive"
grep '^[QT] ' "$WORK/src.out" >"$WORK/src.qt"
grep '^[QT] ' "$WORK/dst.out" >"$WORK/dst.qt"
awk 'NR == FNR { want[FNR] = $0; n = FNR; next }
	{ while (i < n && want[++i] != $0) ; if (want[i] != $0) bad = 1 }
	END { exit bad }' "$WORK/src.qt" "$WORK/dst.qt" ||
	fail "dst's messages are not those of src in order"
echo "server stopped: sent $sent = $delivered delivered + $skipped skipped; $summary"

# wait mode: stopped while the server is, the forwarder exits within
# 4 x --nats-ack-wait, counting what it could not publish
channel w.conf w source=synthetic rate=50000 mode=lossless
run_channel w
W=$PID
"$MDSUB" --from oldest --forward "$URL" --nats-max-pending 64 \
	--nats-stall 20 --nats-full wait --nats-ack-wait 200 w \
	>"$WORK/wfwd.log" 2>&1 &
WF=$!
PIDS="$PIDS $WF"
forwarding "$WF" w
kill -STOP "$SPID"
# the socket's buffers and the window full: the forwarder waits for room
# and reads the ring no more, its position holds for a second (a fixed
# 1.5 s may not fill them on a loaded machine under a sanitizer: then
# the publisher hands all over, and mdsub exits 0)
i=0
held=
until p=$(position "$WF" w) && [ -n "$p" ] && [ "$p" = "$held" ]; do
	held=$p
	i=$((i + 1))
	[ $i -le 60 ] || { kill -CONT "$SPID"; fail "wait mode: the forwarder reads on while the server is stopped (at $p): $(cat "$WORK/wfwd.log")"; }
	sleep 1
done
kill -TERM "$WF"
t0=$(date +%s)
wait "$WF"
rc=$?
t1=$(date +%s)
kill -CONT "$SPID"
[ "$rc" -eq 1 ] || fail "wait mode, stopped: exit $rc: $(cat "$WORK/wfwd.log")"
[ $((t1 - t0)) -le 5 ] || fail "wait mode: $((t1 - t0)) s to stop"
grep -q " 0 skipped, [1-9][0-9]* stalls, [1-9][0-9]* unacknowledged" "$WORK/wfwd.log" ||
	fail "wait mode: $(cat "$WORK/wfwd.log")"
grep -q "mdsub: nats: the server did not read for 800 ms: [1-9][0-9]* messages not published" \
	"$WORK/wfwd.log" || fail "wait mode: $(cat "$WORK/wfwd.log")"
echo "server stopped, wait mode, SIGTERM: $(tr "\n" " " <"$WORK/wfwd.log")"
stop "$W"
exit 0
