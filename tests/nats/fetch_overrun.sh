#!/bin/sh
# The nats source's fetches are never overrun: libnats before 3.9.0 has
# a fetch of a batch b take first the c messages its subscription already
# holds (delivered for an earlier fetch after it ended, as around a
# consumer leader change), ask the server for b - c and collect until it
# has b - c in all: with c > b / 2 it never has, and writes what comes
# beyond b past its array of b (a CI run of nats/cluster.sh: heap
# corruption in the receiver). An interposer (nats/fetch_window.c) makes
# the subscription hold 12 messages (no headers: malformed for mdpub) as
# a fetch of 16 (batch = 16) begins and sends 6 more 100 ms later: no
# fetch returns more than its batch, every message of the stream is
# published once and the 18 are counted malformed.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
HOOK=$top_builddir/tests/nats/.libs/fetch_window.so
[ -f "$HOOK" ] || fail "no $HOOK: make check builds it"

upstream f
upstream_done f
echo "batch = 16" >>"$WORK/fd.conf"
start_hooked fa "$HOOK" "FETCH_WINDOW_FILE=$WORK/window" -c "$WORK/fd.conf"
wait_log fa "channel fd: publishing from"
# the stream and the 18, or an overrun said at once (libnats may crash)
i=0
until kill -USR1 "$PID" 2>/dev/null && sleep 0.1 &&
	[ "$(stats fa fd out)" -eq "$PUB" ] 2>/dev/null &&
	[ "$(stats fa fd malformed)" -eq 18 ]; do
	! grep -q "^fetch_window: " "$WORK/fa.log" ||
		fail "$(grep "^fetch_window: " "$WORK/fa.log")"
	kill -0 "$PID" 2>/dev/null ||
		fail "mdpub died: $(grep -v ' mdpub\[' "$WORK/fa.log" | tail -n 3)"
	i=$((i + 1))
	[ $i -le 600 ] || fail "fa: $(counters fa fd)"
done
stop "$PID"
[ "$(stats fa fd out)" -eq "$PUB" ] && [ "$(stats fa fd malformed)" -eq 18 ] ||
	fail "fa: $(counters fa fd)"
read -r _ fetches _ overrun <"$WORK/window" ||
	fail "no $WORK/window (mdpub died?): $(tail -n 5 "$WORK/fa.log")"
echo "fetches $fetches, more returned than asked for by $overrun"
[ "$overrun" -eq 0 ] || fail "$overrun fetches returned more than their batch"
exit 0
