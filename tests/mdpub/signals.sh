#!/bin/sh
# Real signals to a running mdpub: SIGUSR1 logs the counters, SIGTERM and
# SIGINT publish FEED_DOWN and exit 0 with nothing lost by a live reader;
# the pid file is locked while running and removed at exit; a detached
# mdpub reports start-up success or failure in its exit status.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

conf s.conf <<'END'
[global]
stats_interval = 0.2
[channel s]
source = synthetic
rate = 2000
heartbeat = 0.1
END

for sig in TERM INT; do
	start "$sig" -c "$WORK/s.conf" --pidfile "$WORK/pid"
	wait_log "$sig" "publishing from sequence"
	"$READER" --synthetic --from latest --until down s >"$WORK/$sig.out" &
	READ=$!
	# periodic stats, and at once on SIGUSR1
	wait_log "$sig" "channel s: in [0-9]* out [0-9]* malformed 0 gaps 0 (lost 0) backpressure 0 dropped 0 consumers [0-9]"
	expect "$WORK/pid" "$PID"
	status 1 "$MDPUB" -f -c "$WORK/s.conf" --pidfile "$WORK/pid" 2>"$WORK/second"
	grep -q "pid file $WORK/pid: locked by a running mdpub" "$WORK/second" || fail "pid file not locked"
	sleep 0.3
	stop "$PID" "$sig"
	wait "$READ" || fail "SIG$sig: the live reader saw no FEED_DOWN"
	grep -q ' lost 0$' "$WORK/$sig.out" || fail "SIG$sig: reader lost messages"
	grep -q ' down 1 bad 0$' "$WORK/$sig.out" || fail "SIG$sig: no FEED_DOWN"
	grep -q "mdpub\[notice\]: .*: stopping$" "$WORK/$sig.log" || fail "SIG$sig: not logged"
	[ -e "$WORK/pid" ] && fail "SIG$sig: pid file left behind"
done

# SIGUSR1 with the periodic stats off
sed 's/stats_interval = 0.2/stats_interval = 0/' "$WORK/s.conf" >"$WORK/u.conf"
start usr1 -c "$WORK/u.conf"
wait_log usr1 "publishing from sequence"
sleep 0.2
grep -q "channel s: in " "$WORK/usr1.log" && fail "stats logged with stats_interval = 0"
kill -USR1 "$PID"
wait_log usr1 "channel s: in [0-9]* out [0-9]* "
stop "$PID"

# detached: exit 0 once running, pid file names the daemon
status 0 "$MDPUB" -c "$WORK/u.conf" --pidfile "$WORK/bg.pid" 2>"$WORK/bg.err"
DAEMON=$(cat "$WORK/bg.pid")
PIDS="$PIDS $DAEMON"
kill -0 "$DAEMON" || fail "detached mdpub not running"
# a second detached one cannot own channel s: exit 1
status 1 "$MDPUB" -c "$WORK/u.conf" 2>"$WORK/bg2.err"
grep -q "channel s: .*pid $DAEMON" "$WORK/bg2.err" || fail "refusal does not name pid $DAEMON"
kill -TERM "$DAEMON"
i=0
while kill -0 "$DAEMON" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "detached mdpub did not stop"
	sleep 0.05
done
status 0 "$READER" --until caught-up s >"$WORK/bg.out"
exit 0
