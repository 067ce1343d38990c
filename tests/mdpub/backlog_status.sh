#!/bin/sh
# The FEED_UP and FEED_DOWN status messages on a lossless channel held
# full by a registered reader that does not read (mdpub(8), "Channel life
# cycle"): they go through the back-pressure queue in order with the
# data, never dropped while the reader comes back in time, and a stop
# waits for the reader 2 s at most (unless stall_evict evicts it first),
# then drops what is held, the FEED_DOWN among it, logged and counted
# exactly; a --replay --loop that dropped some at its stop exits 2, a
# --lines whose last line the stop's wait published exits 0.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

BOUND_MS=2000  # STOP_DRAIN_S of daemons/channel.c
MARGIN_MS=3000 # a loaded machine

# lossless CHANNEL [KEY = VALUE]...: $WORK/CHANNEL.conf, a lossless ring
# of 128 that fills in 64 ms; no heartbeat message, so that the reader's
# dump holds every message it read
lossless() {
	printf '[global]\nstats_interval = 0.1\n' >"$WORK/$1.conf"
	printf '[channel %s]\n' "$1" >>"$WORK/$1.conf"
	f=$WORK/$1.conf
	shift
	printf '%s\n' "source = synthetic" "rate = 2000" "mode = lossless" \
		"slot_size = 256" "slots_per_block = 64" "block_count = 2" \
		"heartbeat = 10" "$@" >>"$f"
}

# stopped_at NAME CHANNEL: the write count the channel stopped at
stopped_at() {
	sed -n "s/.*channel $2: stopped at sequence \([0-9]*\)\$/\1/p" "$WORK/$1.log"
}

# timed_stop PID: stop PID, the milliseconds it took in $MS
timed_stop() {
	t0=$(date +%s%N)
	stop "$1"
	MS=$((($(date +%s%N) - t0) / 1000000))
}

# reader_ok CHANNEL UP END: the reader of CHANNEL exited 0 having read
# every message up to END (a channel's stop) without a loss, UP FEED_UP
# and one FEED_DOWN, the last message; the dump has them all (no
# heartbeat message), with $FIRST its first message's sequence
reader_ok() {
	wait "$RD" || fail "reader of $1: $(cat "$WORK/$1.err")"
	FIRST=$(sed -n "s/^first \([0-9]*\) last $(($3 - 1)) up $2 down 1 bad 0\$/\1/p" "$WORK/$1.out")
	[ -n "$FIRST" ] || fail "reader of $1: $(tail -n 2 "$WORK/$1.out")"
	grep -q "^messages $(($3 - FIRST)) .* status $(($2 + 1)) heartbeat 0 other 0 lost 0\$" "$WORK/$1.out" ||
		fail "reader of $1: $(tail -n 2 "$WORK/$1.out")"
	[ "$(tail -n 3 "$WORK/$1.out" | head -n 1)" = "S 5 mdpub stopping" ] ||
		fail "reader of $1: the FEED_DOWN is not the last message: $(tail -n 3 "$WORK/$1.out")"
}

# held CHANNEL: waits until back-pressure held a message of CHANNEL (its
# backpressure counter in the segment)
held() {
	i=0
	until [ "$("$top_builddir/clients/mdsub" --status "$1" | awk '$1 == "backpressure" { print $2 }')" -ge 1 ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "$1 never met back-pressure"
		sleep 0.05
	done
}

# 1. a stop while the reader stalls: after 2 s the data held and the
# FEED_DOWN are dropped, logged and counted; mdpub exits within the bound
lossless sb
start a -c "$WORK/sb.conf"
wait_log a "channel sb: in [0-9]* out [1-9]"
stalled_reader sb
wait_log a "channel sb: .* backpressure 1 "
timed_stop "$PID"
echo "stop with a stalled reader: $MS ms"
[ "$MS" -ge $((BOUND_MS - 100)) ] && [ "$MS" -le $((BOUND_MS + MARGIN_MS)) ] ||
	fail "a stop behind a stalled reader took $MS ms, not the ${BOUND_MS} ms bound"
n=$(sed -n 's/.*channel sb: \([0-9]*\) messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them$/\1/p' "$WORK/a.log")
[ -n "$n" ] || fail "no drop at stop logged with the FEED_DOWN"
[ "$(stats a sb dropped)" -eq "$n" ] &&
	[ "$n" -eq $(($(stats a sb in) - $(stats a sb out) + 1)) ] ||
	fail "dropped $n at stop: $(grep 'channel sb: in ' "$WORK/a.log" | tail -n 1)"
grep -q "not published" "$WORK/a.log" && fail "$(grep "not published" "$WORK/a.log")"
up_at=$(stopped_at a sb)

# 2. mdpub again, the ring still held full by the same reader: its
# FEED_UP is queued, published once the reader reads on, right after
# the last run's messages and before this run's data
start b -c "$WORK/sb.conf"
wait_log b "channel sb: publishing from sequence $up_at,"
wait_log b "channel sb: .* backpressure 1 "
kill -CONT "$RD"
wait_log b "channel sb: in [0-9]* out [1-9][0-9][0-9]"
timed_stop "$PID"
echo "stop with a live reader: $MS ms"
[ "$MS" -lt "$BOUND_MS" ] || fail "a stop with nothing held took $MS ms"
reader_ok sb 1 "$(stopped_at b sb)"
[ "$(grep -c '^S ' "$WORK/sb.out")" -eq 2 ] || fail "status messages: $(grep '^S ' "$WORK/sb.out")"
[ "$(sed -n "$((up_at - FIRST + 1))p" "$WORK/sb.out")" = "S 4 mdpub started" ] ||
	fail "no FEED_UP at sequence $up_at: $(grep -n '^S ' "$WORK/sb.out")"
[ "$(stats b sb dropped)" -eq 0 ] && [ "$(stats b sb in)" -eq "$(stats b sb out)" ] ||
	fail "b: $(grep 'channel sb: in ' "$WORK/b.log" | tail -n 1)"
grep -q "dropped at stop" "$WORK/b.log" && fail "$(grep "dropped at stop" "$WORK/b.log")"

# 3. a stop while the reader stalls, the reader back within the bound:
# everything held is published, the FEED_DOWN last, nothing dropped
lossless sc
start c -c "$WORK/sc.conf"
wait_log c "channel sc: in [0-9]* out [1-9]"
stalled_reader sc
wait_log c "channel sc: .* backpressure 1 "
kill -TERM "$PID"
sleep 0.5
kill -CONT "$RD"
wait "$PID" || fail "mdpub exited $? after SIGTERM"
reader_ok sc 0 "$(stopped_at c sc)"
[ "$(stats c sc dropped)" -eq 0 ] && [ "$(stats c sc in)" -eq "$(stats c sc out)" ] ||
	fail "c: $(grep 'channel sc: in ' "$WORK/c.log" | tail -n 1)"
grep -q "dropped at stop" "$WORK/c.log" && fail "$(grep "dropped at stop" "$WORK/c.log")"

# 4. a reader stalled longer than stall_evict is evicted meanwhile: all
# that was held is published then, nothing dropped, before the bound
lossless sd "stall_evict = 1" "reap_interval = 60"
start d -c "$WORK/sd.conf"
wait_log d "channel sd: in [0-9]* out [1-9]"
stalled_reader sd
wait_log d "channel sd: .* backpressure 1 "
timed_stop "$PID"
echo "stop with a stalled reader, stall_evict 1: $MS ms"
[ "$MS" -lt "$BOUND_MS" ] || fail "a stop with stall_evict = 1 took $MS ms"
[ "$(stats d sd dropped)" -eq 0 ] && [ "$(stats d sd in)" -eq "$(stats d sd out)" ] &&
	[ "$(stopped_at d sd)" -eq $(($(stats d sd out) + 2)) ] ||
	fail "d: $(grep 'channel sd: in ' "$WORK/d.log" | tail -n 1)"
kill -KILL "$RD"

# 5. three channels, each held by a stalled reader: their waits overlap,
# the stop takes one bound, not three
printf '[global]\nstats_interval = 0.1\n' >"$WORK/three.conf"
for ch in se1 se2 se3; do
	lossless "$ch"
	sed 1,2d "$WORK/$ch.conf" >>"$WORK/three.conf"
done
start e -c "$WORK/three.conf"
readers=
for ch in se1 se2 se3; do
	wait_log e "channel $ch: in [0-9]* out [1-9]"
	stalled_reader "$ch"
	readers="$readers $RD"
done
for ch in se1 se2 se3; do
	wait_log e "channel $ch: .* backpressure 1 "
done
timed_stop "$PID"
echo "stop of three channels with stalled readers: $MS ms"
[ "$MS" -le $((BOUND_MS + MARGIN_MS)) ] || fail "three stalled channels took $MS ms to stop"
[ "$(grep -c "channel se[123]: [0-9]* messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them$" "$WORK/e.log")" -eq 3 ] ||
	fail "not 3 channels dropped at stop: $(grep "dropped at stop" "$WORK/e.log")"
kill -KILL $readers

# stalled_channels NAME CH...: mdpub NAME on the channels CH (from
# $WORK/NAME.conf), each held full by a stalled reader; their pids in
# $readers
stalled_channels() {
	name=$1
	shift
	printf '[global]\nstats_interval = 0.1\n' >"$WORK/$name.conf"
	for ch in "$@"; do
		lossless "$ch"
		sed 1,2d "$WORK/$ch.conf" >>"$WORK/$name.conf"
	done
	start "$name" -c "$WORK/$name.conf"
	readers=
	for ch in "$@"; do
		wait_log "$name" "channel $ch: in [0-9]* out [1-9]"
		stalled_reader "$ch"
		readers="$readers $RD"
	done
	for ch in "$@"; do
		wait_log "$name" "channel $ch: .* backpressure 1 "
	done
}

# reload_then_stop NAME: SIGHUP, then SIGTERM at once; the milliseconds
# from the SIGHUP to mdpub's exit in $MS
reload_then_stop() {
	t0=$(date +%s%N)
	kill -HUP "$PID"
	wait_log "$1" "SIGHUP: reloading"
	stop "$PID"
	MS=$((($(date +%s%N) - t0) / 1000000))
}

# 6. a reload that changes four channels, each held by a stalled reader,
# and a SIGTERM right after: the old channels' waits overlap, then the
# new ones' at the stop: two bounds, not one per channel
stalled_channels f sf1 sf2 sf3 sf4
sed -i 's/^rate = 2000$/rate = 1000/' "$WORK/f.conf"
reload_then_stop f
echo "reload changing four stalled channels, then stop: $MS ms"
[ "$(grep -c "reload: channel sf[1-4] changed: restarting" "$WORK/f.log")" -eq 4 ] ||
	fail "not 4 channels restarted: $(grep "reload" "$WORK/f.log")"
[ "$MS" -le $((2 * BOUND_MS + MARGIN_MS)) ] ||
	fail "a reload of four stalled channels and a stop took $MS ms"
kill -KILL $readers

# 7. a reload that removes four channels, each held by a stalled reader,
# and a SIGTERM right after: their waits overlap, one bound
stalled_channels g sg1 sg2 sg3 sg4
printf '[global]\nstats_interval = 0.1\n' >"$WORK/g.conf"
lossless sg0
sed 1,2d "$WORK/sg0.conf" >>"$WORK/g.conf"
reload_then_stop g
echo "reload removing four stalled channels, then stop: $MS ms"
[ "$(grep -c "reload: channel sg[1-4] removed" "$WORK/g.log")" -eq 4 ] ||
	fail "not 4 channels removed: $(grep "reload" "$WORK/g.log")"
[ "$MS" -le $((BOUND_MS + MARGIN_MS)) ] ||
	fail "a reload removing four stalled channels and a stop took $MS ms"
kill -KILL $readers

# 8. mdpub --replay --loop on a lossless channel held full by a stalled
# reader: what back-pressure holds at the stop is dropped, so not all of
# the input was published: exit status 2 (mdpub(8), EXIT STATUS)
{ header 65536; record 1 1000 a; record 2 2000 bb; record 3 3000 ccc; } >"$WORK/loop.rec"
start h --replay "$WORK/loop.rec" --loop --speed 0 --set mode=lossless
wait_log h "channel rec: publishing from sequence 0,"
stalled_reader rec
held rec
kill -TERM "$PID"
wait "$PID"
rc=$?
[ "$rc" -eq 2 ] || fail "mdpub --replay --loop exited $rc with messages dropped at stop, not 2"
grep -q "channel rec: [1-9][0-9]* messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them$" "$WORK/h.log" ||
	fail "no drop at stop logged: $(grep 'channel rec: in ' "$WORK/h.log")"
grep -q "mdpub stopped before all of its input was published$" "$WORK/h.log" ||
	fail "no partial stop logged"
kill -KILL "$RD"

# 9. mdpub --replay to its end into a lossless ring a stalled reader
# holds: the FEED_UP and the 127 records fill its 128 slots exactly, all
# of the input is published; the FEED_DOWN, mdpub's own, is held and
# dropped at the stop: exit status 0 all the same (mdpub(8), EXIT STATUS)
k=1 # not i: le() of common.sh has it
{ header 65536; while [ $k -le 127 ]; do record $k $((k * 1000)) q; k=$((k + 1)); done; } >"$WORK/full.rec"
printf '[global]\nstats_interval = 0\n[channel rec]\n' >"$WORK/mk.conf"
printf '%s\n' "source = synthetic" "count = 1" "mode = lossless" "slot_size = 256" \
	"slots_per_block = 64" "block_count = 2" >>"$WORK/mk.conf"
kill -KILL "$RD" 2>/dev/null
wait "$RD" 2>/dev/null
status 0 "$MDPUB" -c "$WORK/mk.conf" 2>"$WORK/mk.log"
stalled_reader rec full
start i --replay "$WORK/full.rec" --speed 0 --set mode=lossless
wait "$PID"
rc=$?
grep -q "channel rec: 1 messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them$" "$WORK/i.log" ||
	fail "no FEED_DOWN dropped at stop logged: $(grep 'channel rec: ' "$WORK/i.log")"
[ "$(stats i rec in)" -eq 127 ] && [ "$(stats i rec out)" -eq 127 ] && [ "$(stats i rec dropped)" -eq 1 ] ||
	fail "i: $(grep 'channel rec: in ' "$WORK/i.log")"
[ "$rc" -eq 0 ] || fail "mdpub --replay exited $rc with all of its input published, not 0"
grep -q "mdpub stopped$" "$WORK/i.log" || fail "no complete stop logged"
kill -KILL "$RD"

# mdpub --lines to its end into a lossless ring that stalled readers
# hold (cases 10 to 13): the FEED_UP and the first 127 of its 128 lines
# fill the 128 slots, the last line is held; a SIGTERM then

# quotes FILE NEWLINE: $WORK/FILE, the 128 CSV quotes Q,S1 .. Q,S128,
# the last one ending in a newline when NEWLINE is 1
quotes() {
	awk -v nl="$2" 'BEGIN { for (k = 1; k <= 128; k++)
		printf "Q,S%d,1,1,2,1%s", k, k < 128 || nl ? "\n" : "" }' >"$WORK/$1"
}
quotes last.csv 0
quotes last_nl.csv 1
awk 'BEGIN { for (k = 1; k <= 128; k++)
	printf "Q S%d 100000000 100000000 200000000 100000000 0\n", k }' >"$WORK/quotes.want"

# lines_ring CHANNEL: the segment of CHANNEL, lossless, 128 slots of 256
# bytes (an mdpub run with count = 1); its write count in $AT
lines_ring() {
	channel "$1.mk.conf" "$1" source=synthetic count=1 mode=lossless \
		slot_size=256 slots_per_block=64 block_count=2
	status 0 "$MDPUB" -c "$WORK/$1.mk.conf" 2>"$WORK/$1.mk.log"
	AT=$(stopped_at "$1.mk" "$1")
}

# lines_held NAME CHANNEL FILE: mdpub NAME --lines $WORK/FILE CHANNEL in
# that ring, until back-pressure holds a line (last.csv: its last, read
# at the end of its input); then SIGTERM
lines_held() {
	start "$1" --lines "$WORK/$3" "$2" --set mode=lossless --set slot_size=256 \
		--set slots_per_block=64 --set block_count=2 --set heartbeat=10
	held "$2"
	if [ "$3" = last.csv ]; then
		wait_log "$1" "channel $2: $WORK/$3: end of input after 128 lines"
	fi
	kill -TERM "$PID"
}

# lines_stopped NAME CHANNEL RC OUT DROPPED: mdpub NAME exited RC, its
# channel counted in 128, out OUT, backpressure 1 and dropped DROPPED,
# those logged as dropped at the stop, FEED_DOWN among them
lines_stopped() {
	wait "$PID"
	rc=$?
	[ "$rc" -eq "$3" ] || fail "mdpub --lines ($1) exited $rc, not $3"
	[ "$(stats "$1" "$2" in)" -eq 128 ] && [ "$(stats "$1" "$2" out)" -eq "$4" ] &&
		[ "$(stats "$1" "$2" backpressure)" -eq 1 ] &&
		[ "$(stats "$1" "$2" dropped)" -eq "$5" ] ||
		fail "$1: $(grep "channel $2: in " "$WORK/$1.log")"
	if [ "$5" -eq 0 ]; then
		grep -q "dropped at stop" "$WORK/$1.log" && fail "$(grep "dropped at stop" "$WORK/$1.log")"
	else
		grep -q "channel $2: $5 messages held by back-pressure dropped at stop after 2 s, FEED_DOWN among them$" "$WORK/$1.log" ||
			fail "no $5 dropped at stop logged: $(grep "channel $2: " "$WORK/$1.log")"
	fi
	if [ "$3" -eq 0 ]; then
		grep -q "mdpub stopped$" "$WORK/$1.log" || fail "$1: no complete stop logged"
	else
		grep -q "mdpub stopped before all of its input was published$" "$WORK/$1.log" ||
			fail "$1: no partial stop logged"
	fi
}

# quotes_read OUT: the dump $WORK/OUT.out has the 128 quotes, in order
quotes_read() {
	grep '^Q ' "$WORK/$1.out" | diff -u "$WORK/quotes.want" - >&2 ||
		fail "reader $1: not the 128 quotes"
}

# 10. the last line without a newline, held when mdpub read the end of
# its input (the source ended), the reader back within the bound: the
# line and the FEED_DOWN are published, all of the input: exit status 0
lines_ring l1
stalled_reader l1
lines_held j l1 last.csv
sleep 0.5
kill -CONT "$RD"
lines_stopped j l1 0 128 0
reader_ok l1 1 "$(stopped_at j l1)"
quotes_read l1

# 11. the last line with its newline: held before mdpub read the end of
# its input, then published as in 10; mdpub stopped without reading that
# end (it no longer reads at a stop): exit status 2, with nothing
# dropped (mdpub(8), EXIT STATUS: stopped before the end of its input)
lines_ring l2
stalled_reader l2
lines_held k l2 last_nl.csv
sleep 0.5
kill -CONT "$RD"
lines_stopped k l2 2 128 0
reader_ok l2 1 "$(stopped_at k l2)"
quotes_read l2
grep -q "end of input" "$WORK/k.log" && fail "$(grep "end of input" "$WORK/k.log")"

# 12. as 10, the reader stalled past the bound: the last line and the
# FEED_DOWN are dropped: exit status 2
lines_ring l3
stalled_reader l3
lines_held l l3 last.csv
lines_stopped l l3 2 127 2
kill -KILL "$RD"

# 13. as 10, a second reader stalled one message ahead of the first:
# when the first reads on, the last line is published, then the
# FEED_DOWN is held and dropped after 2 s; all of the input is
# published, only mdpub's own FEED_DOWN dropped: exit status 0
lines_ring l4
stalled_reader l4 l4 --until 129
first=$RD
stalled_reader l4 l4ahead --from $((AT + 1))
lines_held m l4 last.csv
sleep 0.5
kill -CONT "$first"
lines_stopped m l4 0 128 1
wait "$first" || fail "reader of l4: $(cat "$WORK/l4.err")"
grep -q "^messages 129 quote 128 trade 0 status 1 heartbeat 0 other 0 lost 0\$" "$WORK/l4.out" ||
	fail "reader of l4: $(tail -n 2 "$WORK/l4.out")"
quotes_read l4
kill -KILL "$RD"
exit 0
