#!/bin/sh
# Messages nobody asked for on the nats source's JetStream inbox
# (delivered for an earlier pull request after it ended, as around a
# consumer leader change) as a read begins: libnats before 3.9.0 has a
# fetch of a batch b take first the c messages its subscription already
# holds, ask the server for b - c and collect until it has b - c in all:
# with c > b / 2 it never has, and writes what comes beyond b past its
# array of b (a CI run of nats/cluster.sh: heap corruption in the
# receiver); mdpub now makes its own pull requests (daemons/nats_pull.c).
# An interposer (nats/pull_extra.c) makes the inbox hold 12 messages (no
# headers: malformed for mdpub) as the read after the first that returned
# messages begins (batch = 16), and sends 6 more 100 ms later: mdpub
# lives, every message of the stream is published once and the 18 are
# counted malformed.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
hook pull_extra

upstream f
upstream_done f
echo "batch = 16" >>"$WORK/fd.conf"
start_hooked fa "$HOOK" "PULL_EXTRA_FILE=$WORK/extra" -c "$WORK/fd.conf"
wait_log fa "channel fd: publishing from"
# the stream and the 18, or an overrun said at once (libnats may crash)
i=0
until kill -USR1 "$PID" 2>/dev/null && sleep 0.1 &&
	[ "$(stats fa fd out)" -eq "$PUB" ] 2>/dev/null &&
	[ "$(stats fa fd malformed)" -eq 18 ]; do
	! grep -q "^pull_extra: " "$WORK/fa.log" ||
		fail "$(grep "^pull_extra: " "$WORK/fa.log")"
	kill -0 "$PID" 2>/dev/null ||
		fail "mdpub died: $(grep -v ' mdpub\[' "$WORK/fa.log" | tail -n 3)"
	i=$((i + 1))
	[ $i -le 600 ] || fail "fa: $(counters fa fd)"
done
stop "$PID"
[ "$(stats fa fd out)" -eq "$PUB" ] && [ "$(stats fa fd malformed)" -eq 18 ] ||
	fail "fa: $(counters fa fd)"
grep "channel fd: source nats: " "$WORK/fa.log" | tail -n 1 | grep -q " resets 0 " ||
	fail "the extra messages made the consumer again: $(grep "source nats: " "$WORK/fa.log")"
read -r _ reads _ overrun <"$WORK/extra" ||
	fail "no $WORK/extra (mdpub died?): $(tail -n 5 "$WORK/fa.log")"
echo "reads $reads, fetches that returned more than asked for $overrun"
[ "$overrun" -eq 0 ] || fail "$overrun fetches returned more than their batch"
exit 0
