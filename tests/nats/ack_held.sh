#!/bin/sh
# JetStream acknowledgements under back-pressure (mdpub.conf(5), source
# nats): mdpub's nats source acknowledges a message of its durable
# consumer only once the message is in the ring. A lossless ring of 128
# held full by a registered reader that stopped reading holds one message
# queued by back-pressure when mdpub is stopped:
#  1. the reader stays stopped: after the stop's 2 s wait the message and
#     the FEED_DOWN are dropped (2 dropped), the message is not
#     acknowledged, and mdpub started again with the same durable
#     publishes it: every upstream message is in the ring once, in order;
#  2. the reader reads on within the wait: what was held is published and
#     acknowledged, and mdpub started again publishes nothing twice;
#  3. as 1, the channel restarted by a reload (SIGHUP) instead;
#  4. mdpub started on a ring held full from the start acknowledges
#     nothing: the next run publishes all, from the stream's first;
#  5. as 1, with a delivery gap (the consumer made again) while held;
#     then a third run with nothing left starts.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

# second_run C NAME OUT1 READER: mdpub NAME (pid $PID), its channel Cd
# started again with the reader READER (pid $RD) reading it, takes what
# stream C has left once the upstream is done and is stopped; the first
# run of Cd published OUT1: every one of the $PUB is published once
second_run() {
	upstream_done "$1"
	took "$2" "$1d" $((PUB - $3))
	stop "$PID"
	wait "$RD" || fail "reader $4: $(cat "$WORK/$4.err")"
	out2=$(stats "$2" "$1d" out)
	[ $(($3 + out2)) -eq "$PUB" ] && [ "$(stats "$2" "$1d" dropped)" -eq 0 ] ||
		fail "$2: out $out2 after $3, not $PUB in all: $(counters "$2" "$1d")"
	grep "channel $1d: source nats: " "$WORK/$2.log" | tail -n 1 |
		grep -q ": duplicate 0 session 0 malformed 0" ||
		fail "$2: $(grep 'source nats' "$WORK/$2.log" | tail -n 1)"
}

# 1. the reader stays stopped through the stop: the held message is
# dropped, not acknowledged, and published by the next run
upstream s1
held_full s1 r1
stop "$PID"
grep -q "channel s1d: 2 messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them\$" "$WORK/s1a.log" ||
	fail "no drop at stop of 2 logged: $(counters s1a s1d)"
in1=$(stats s1a s1d in)
out1=$(stats s1a s1d out)
[ "$(stats s1a s1d dropped)" -eq 2 ] && [ $((in1 - out1)) -eq 1 ] ||
	fail "s1a: $(counters s1a s1d)"
echo "first run: in $in1 out $out1, 1 message and the FEED_DOWN dropped at stop"
start s1b -c "$WORK/s1d.conf"
wait_log s1b "channel s1d: publishing from"
kill -CONT "$RD"
second_run s1 s1b "$out1" r1
exactly_once s1 r1

# 2. the reader reads on within the stop's wait: the held message is
# published and acknowledged, the next run does not publish it again
upstream s2
held_full s2 r2a
kill -TERM "$PID"
sleep 0.5
kill -CONT "$RD"
wait "$PID" || fail "mdpub exited $? after SIGTERM"
wait "$RD" || fail "reader r2a: $(cat "$WORK/r2a.err")"
in1=$(stats s2a s2d in)
out1=$(stats s2a s2d out)
[ "$(stats s2a s2d dropped)" -eq 0 ] && [ "$in1" -eq "$out1" ] ||
	fail "s2a: $(counters s2a s2d)"
grep -q "dropped at stop" "$WORK/s2a.log" && fail "$(grep "dropped at stop" "$WORK/s2a.log")"
echo "first run: in $in1 out $out1, nothing dropped at stop"
stalled_reader s2d r2b # registered at the next message: the next run's first
kill -CONT "$RD"
start s2b -c "$WORK/s2d.conf"
second_run s2 s2b "$out1" r2b
exactly_once s2 r2a r2b

# 3. as 1, the channel restarted by a reload (SIGHUP, a setting changed)
upstream s3
held_full s3 r3
sed -i 's/^heartbeat = 10$/heartbeat = 9/' "$WORK/s3d.conf"
kill -HUP "$PID"
wait_log s3a "reload: channel s3d changed: restarting"
wait_log s3a "channel s3d: stopped at sequence"
last1=$(grep -A 1 "channel s3d: 2 messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them\$" "$WORK/s3a.log" |
	grep "channel s3d: in ")
[ -n "$last1" ] || fail "no drop at stop of 2 logged at the reload: $(grep 'dropped at stop' "$WORK/s3a.log")"
in1=$(echo "$last1" | sed -n 's/.* in \([0-9]*\) out .*/\1/p')
out1=$(echo "$last1" | sed -n 's/.* out \([0-9]*\) malformed .*/\1/p')
[ $((in1 - out1)) -eq 1 ] || fail "s3a before the reload: $last1"
echo "before the reload: in $in1 out $out1, 1 message and the FEED_DOWN dropped"
wait_log s3a "reload: .* loaded, 1 channel running"
kill -CONT "$RD"
second_run s3 s3a "$out1" r3
exactly_once s3 r3

# 4. mdpub started on a ring still held full by a reader of the last run
# of the channel: its FEED_UP waits, so it publishes and acknowledges
# nothing its new durable delivered (acknowledgement floor 0); stopped,
# then started again with the reader reading on: every one of the $PUB
# is published, from stream sequence 1
upstream s4
held_from_start s4 r4
start s4a -c "$WORK/s4d.conf"
wait_log s4a "channel s4d: in 0 out 0 .* backpressure 1 "
i=0
until monitor ns4 "/jsz?consumers=true" | tr -d ' \n' | grep -q '"num_ack_pending":[1-9]'; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "consumer s4: nothing delivered: $(monitor ns4 "/jsz?consumers=true")"
	sleep 0.05
done
stop "$PID"
[ "$(stats s4a s4d in)" -eq 0 ] || fail "s4a: $(counters s4a s4d)"
echo "first run: in 0, its FEED_UP held throughout"
kill -CONT "$RD"
start s4b -c "$WORK/s4d.conf"
wait_log s4b "channel s4d: publishing from"
second_run s4 s4b 0 r4
grep -q "channel s4d: consumer s4: [1-9][0-9]* deliveries not acknowledged: made again from stream sequence 1\$" "$WORK/s4b.log" ||
	fail "s4b: $(grep 'consumer s4' "$WORK/s4b.log")"

# 5. as 1, with a delivery gap while back-pressure holds (the durable
# deleted and made again by another client: its first delivery is not
# the one expected): the source makes its consumer again, from the
# held message, not from after the last one it queued: what is held
# and queued is delivered again, and after the stop the next run
# publishes it, each message once
upstream s5
held_full s5 r5
upstream_done s5
durable_again s5
i=0
until monitor ns5 "/jsz?consumers=true&config=true" | tr -d ' \n' | grep -q '"opt_start_seq":[1-9]'; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "consumer s5 not made again: $(monitor ns5 "/jsz?consumers=true&config=true")"
	sleep 0.05
done
stop "$PID"
grep -q "channel s5d: 2 messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them\$" "$WORK/s5a.log" ||
	fail "no drop at stop of 2 logged: $(counters s5a s5d)"
out1=$(stats s5a s5d out)
echo "first run: out $out1, consumer made again after a gap"
start s5b -c "$WORK/s5d.conf"
wait_log s5b "channel s5d: publishing from"
kill -CONT "$RD"
took s5b s5d $((PUB - out1))
stop "$PID"
wait "$RD" || fail "reader r5: $(cat "$WORK/r5.err")"
out2=$(stats s5b s5d out)
[ $((out1 + out2)) -eq "$PUB" ] && [ "$(stats s5b s5d dropped)" -eq 0 ] ||
	fail "s5b: out $out2 after $out1, not $PUB in all: $(counters s5b s5d)"
grep "channel s5d: source nats: " "$WORK/s5a.log" | tail -n 1 | grep -q " resets 1 " ||
	fail "s5a: $(grep 'source nats' "$WORK/s5a.log" | tail -n 1)"
exactly_once s5 r5
# the durable, made again from a stream sequence, all acknowledged: a
# third run starts (binding it as configured, deliver = all, the server
# refuses) and has nothing more to publish
start s5c -c "$WORK/s5d.conf"
wait_log s5c "channel s5d: publishing from"
stop "$PID"
[ "$(stats s5c s5d in)" -eq 0 ] || fail "s5c: $(counters s5c s5d)"
exit 0
