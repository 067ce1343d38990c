#!/bin/sh
# A counter line never lags what readers have seen: once a reader has
# read a message, SIGUSR1 logs it in "out". An interposer
# (mdpub/pub_slow.c) holds the channel's thread for 1 s after each
# message it publishes, before it counts it; before, the main thread
# logged the counters at once, "out" one short (the CI caught it in
# nats/core.sh: "in 5 out 4").
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

HOOK=$top_builddir/tests/mdpub/.libs/pub_slow.so
[ -f "$HOOK" ] || fail "no $HOOK: make check builds it"

mkfifo "$WORK/in"
lines_conf o csv file=-
rm -f "$WORK/o.log"
env LD_PRELOAD="$HOOK" PUB_SLOW_MS=1000 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$MDPUB" -c "$WORK/o.conf" <"$WORK/in" >"$WORK/o.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
exec 3>"$WORK/in"
wait_log o "channel o: publishing from sequence"
# FEED_UP and three quotes, read from the oldest
"$READER" --until 4 --dump o >"$WORK/o.out" &
READ=$!
printf 'Q,A,1,1,1,1\nQ,B,1,1,1,1\nQ,C,1,1,1,1\n' >&3
wait "$READ" || fail "reader"
[ "$(grep -c '^Q' "$WORK/o.out")" -eq 3 ] || fail "quotes read: $(cat "$WORK/o.out")"
kill -USR1 "$PID"
wait_log o "channel o: in "
line=$(grep "channel o: in " "$WORK/o.log")
case $line in
*"channel o: in 3 out 3 malformed 0 "*) ;;
*) fail "counters behind what the reader read: $line" ;;
esac
# and again for a fourth
printf 'Q,D,1,1,1,1\n' >&3
"$READER" --until 5 --dump o >"$WORK/o2.out" || fail "reader 2"
[ "$(grep -c '^Q' "$WORK/o2.out")" -eq 4 ] || fail "quotes read: $(cat "$WORK/o2.out")"
kill -USR1 "$PID"
i=0
until [ "$(grep -c "channel o: in " "$WORK/o.log")" -eq 2 ]; do
	i=$((i + 1))
	[ "$i" -le 1200 ] || fail "no second counter line"
	sleep 0.05
done
grep -q "channel o: in 4 out 4 malformed 0 " "$WORK/o.log" ||
	fail "second line: $(grep "channel o: in " "$WORK/o.log")"
exec 3>&-
wait "$PID" || fail "mdpub exited $? at the end of its input"
# at the stop, once more, from the thread's final counters
[ "$(grep -c "channel o: in 4 out 4 malformed 0 " "$WORK/o.log")" -eq 2 ] ||
	fail "at stop: $(grep "channel o: in " "$WORK/o.log")"
