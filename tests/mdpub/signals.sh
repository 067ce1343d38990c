#!/bin/sh
# Real signals to a running mdpub: SIGUSR1 logs the counters, SIGTERM and
# SIGINT publish FEED_DOWN and exit 0 with nothing lost by a live reader;
# the pid file is locked while running, its owner's only, and removed at
# exit; a detached mdpub reports start-up success or failure in its exit
# status.
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
	"$READER" --synthetic --from latest --until down s >"$WORK/$sig.out" \
		2>"$WORK/$sig.err" &
	READ=$!
	# registered before the stop: one that opens the channel after it
	# (a loaded machine, the reader slow to start) waits at the latest
	# for a FEED_DOWN that came before it
	registered s mdpub_reader "$WORK/$sig.err"
	# periodic stats, and at once on SIGUSR1
	wait_log "$sig" "channel s: in [0-9]* out [0-9]* malformed 0 gaps 0 (lost 0) backpressure 0 dropped 0 consumers [0-9]"
	expect "$WORK/pid" "$PID"
	status 1 "$MDPUB" -c "$WORK/s.conf" --pidfile "$WORK/pid" 2>"$WORK/second"
	grep -qF "mdpub[err]: pid file $WORK/pid is locked by a running mdpub, pid $PID" "$WORK/second" ||
		fail "second mdpub: $(cat "$WORK/second")"
	expect "$WORK/pid" "$PID"
	sleep 0.3
	stop "$PID" "$sig"
	wait "$READ" || fail "SIG$sig: the live reader saw no FEED_DOWN"
	grep -q ' lost 0$' "$WORK/$sig.out" || fail "SIG$sig: reader lost messages"
	grep -q ' down 1 bad 0$' "$WORK/$sig.out" || fail "SIG$sig: no FEED_DOWN"
	grep -q "mdpub\[notice\]: .*: stopping$" "$WORK/$sig.log" || fail "SIG$sig: not logged"
	[ -e "$WORK/pid" ] && fail "SIG$sig: pid file left behind"
done

# grep_err FILE TEXT: FILE has TEXT as an error line
grep_err() {
	grep -qF "mdpub[err]: $2" "$1" || fail "no error '$2' in $1: $(cat "$1")"
}

# the pid file is never followed through a link, nor opened if not a
# regular file of ours with one name; what is there is left untouched
echo precious >"$WORK/target"
ln -s "$WORK/target" "$WORK/link.pid"
status 1 "$MDPUB" -c "$WORK/s.conf" -p "$WORK/link.pid" 2>"$WORK/link.err"
grep_err "$WORK/link.err" "pid file $WORK/link.pid: refused: a symbolic link"
ln "$WORK/target" "$WORK/hard.pid"
status 1 "$MDPUB" -c "$WORK/s.conf" -p "$WORK/hard.pid" 2>"$WORK/hard.err"
grep_err "$WORK/hard.err" "pid file $WORK/hard.pid: refused: it has more than one name"
expect "$WORK/target" precious
[ "$(wc -c <"$WORK/target")" -eq 9 ] || fail "the link's target was changed"
# nor one its group or others may write: whoever could may hold it open
# and write another pid in it while mdpub runs (attack run)
echo 1 >"$WORK/gw.pid"
chmod 0660 "$WORK/gw.pid"
status 1 timeout 60 "$MDPUB" -c "$WORK/s.conf" -p "$WORK/gw.pid" 2>"$WORK/gw.err"
grep_err "$WORK/gw.err" "pid file $WORK/gw.pid: refused: its group or others may write it (remove it)"
expect "$WORK/gw.pid" 1
mkfifo "$WORK/fifo.pid"
status 1 timeout 60 "$MDPUB" -c "$WORK/s.conf" -p "$WORK/fifo.pid" 2>"$WORK/fifo.err"
grep_err "$WORK/fifo.err" "pid file $WORK/fifo.pid: refused: not a regular file"
if [ "$(id -u)" -eq 0 ]; then
	echo theirs >"$WORK/theirs.pid"
	chown nobody "$WORK/theirs.pid"
	status 1 "$MDPUB" -c "$WORK/s.conf" -p "$WORK/theirs.pid" 2>"$WORK/theirs.err"
	grep_err "$WORK/theirs.err" "pid file $WORK/theirs.pid: refused: owned by another user"
	expect "$WORK/theirs.pid" theirs
	# another user's link in a sticky directory (/tmp): the kernel
	# refuses root's O_CREAT open with EACCES there, not ELOOP
	mkdir -m 1777 "$WORK/sticky"
	ln -s "$WORK/target" "$WORK/sticky/link.pid"
	chown -h nobody "$WORK/sticky/link.pid"
	status 1 "$MDPUB" -c "$WORK/s.conf" -p "$WORK/sticky/link.pid" 2>"$WORK/slink.err"
	grep_err "$WORK/slink.err" "pid file $WORK/sticky/link.pid: refused: a symbolic link"
	expect "$WORK/target" precious
fi
grep -q "publishing from" "$WORK"/link.err "$WORK"/hard.err "$WORK"/fifo.err &&
	fail "a channel started with a refused pid file"

# SIGUSR1 with the periodic stats off
sed 's/stats_interval = 0.2/stats_interval = 0/' "$WORK/s.conf" >"$WORK/u.conf"
start usr1 -c "$WORK/u.conf"
wait_log usr1 "publishing from sequence"
sleep 0.2
grep -q "channel s: in " "$WORK/usr1.log" && fail "stats logged with stats_interval = 0"
kill -USR1 "$PID"
wait_log usr1 "channel s: in [0-9]* out [0-9]* "
stop "$PID"

# the pid file is its owner's only (mode 0600): a lock on it means a
# running mdpub, and whoever may open a file may lock it. Before, mode
# 0644, and a user who held a shared lock on a killed mdpub's file kept
# the next from starting, naming a dead pid (attack run). One an older
# mdpub made 0644 is made 0600.
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null && command -v flock >/dev/null; then
	chmod 755 "$WORK" || fail "chmod"
	start crash -c "$WORK/u.conf" --pidfile "$WORK/crash.pid"
	wait_log crash "publishing from sequence"
	[ "$(stat -c %a "$WORK/crash.pid")" = 600 ] || fail "pid file mode $(stat -c %a "$WORK/crash.pid")"
	kill -KILL "$PID"
	wait "$PID"
	runuser -u nobody -- flock -s -n "$WORK/crash.pid" true 2>/dev/null &&
		fail "nobody could lock a killed mdpub's pid file"
	chmod 644 "$WORK/crash.pid" || fail "chmod"
	start crash2 -c "$WORK/u.conf" --pidfile "$WORK/crash.pid"
	wait_log crash2 "publishing from sequence"
	[ "$(stat -c %a "$WORK/crash.pid")" = 600 ] ||
		fail "an older pid file: mode $(stat -c %a "$WORK/crash.pid")"
	stop "$PID"
fi

# detached: exit 0 once running, pid file names the daemon
status 0 "$MDPUB" -b -c "$WORK/u.conf" --pidfile "$WORK/bg.pid" 2>"$WORK/bg.err"
DAEMON=$(cat "$WORK/bg.pid")
PIDS="$PIDS $DAEMON"
kill -0 "$DAEMON" || fail "detached mdpub not running"
# a second detached one cannot own channel s: exit 1
status 1 "$MDPUB" --daemonize -c "$WORK/u.conf" 2>"$WORK/bg2.err"
grep -q "channel s is owned by live publisher pid $DAEMON$" "$WORK/bg2.err" || fail "refusal does not name pid $DAEMON"
kill -TERM "$DAEMON"
i=0
while kill -0 "$DAEMON" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -le 1200 ] || fail "detached mdpub did not stop"
	sleep 0.05
done
status 0 "$READER" --until caught-up s >"$WORK/bg.out"
exit 0
