#!/bin/sh
# The one-second check (log_limits_tick()) takes a limiter's count only
# once its last line is a second old (mdpub(8), LOGGING): when stderr
# stalls for more than a second while a channel is flooded (malformed
# lines), the flooded channel's next line, once the stall ends, comes
# after the check's start, and now - last_ns, unsigned, wrapped. Before,
# the check then took that limiter's count again and again in the same
# call, one line each ("N similar messages not logged" 30 to 600 times in
# a millisecond, instead of once a second), for as long as the owner
# counted between two of its writes: the main thread away from its loop
# meanwhile (4 of 4 runs, and 2 of 3 with this bound of 5 a second).
# Channels a1..a4 get 300 malformed lines each, once: their counts are
# due a second later, when stderr (a FIFO that a slow reader copies into
# runaway.log) is stopped and full, and the check waits in write(2);
# channels b1, b2 are flooded meanwhile, and for 2 s more; then the
# reader goes on, slowly (6 kB/s, a pipe of 4 kB: plenty for mdpub's
# lines otherwise).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

{
	printf '[global]\nstats_interval = 0\nlog_level = warning\n'
	for c in a1 a2 a3 a4 b1 b2; do
		mkfifo "$WORK/$c.fifo" || fail "mkfifo"
		printf '[channel %s]\nsource = lines\nformat = csv\nfile = %s\n' \
			"$c" "$WORK/$c.fifo"
	done
} >"$WORK/runaway.conf"

# mdpub's stderr into a FIFO that a reader copies into runaway.log, slowly
# once $WORK/slow exists
mkfifo "$WORK/err.fifo" || fail "mkfifo"
python3 -c "
import os, sys, time
import fcntl
fd = os.open('$WORK/err.fifo', os.O_RDONLY)
fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ: a small pipe, soon full
out = os.open('$WORK/runaway.log', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
while True:
    b = os.read(fd, 128)
    if not b:
        break
    os.write(out, b)
    if os.path.exists('$WORK/slow'):
        time.sleep(0.02)
" &
DRAIN=$!
PIDS="$PIDS $DRAIN"
"$MDPUB" -c "$WORK/runaway.conf" >"$WORK/err.fifo" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
for c in a1 a2 a3 a4 b1 b2; do
	wait_for "$MDSUB" --status $c
done
sleep 0.2 # a writer's first bytes come after mdpub waits for them
# held open: these sources never end
exec 3>"$WORK/a1.fifo" 4>"$WORK/a2.fifo" 5>"$WORK/a3.fifo" 6>"$WORK/a4.fifo"
for c in b1 b2; do
	yes X,bad >"$WORK/$c.fifo" 2>/dev/null &
	PIDS="$PIDS $!"
done
sleep 1.5

for fd in 3 4 5 6; do
	awk 'BEGIN { for (i = 0; i < 300; i++) print "X,bad" }' >&$fd ||
		fail "write to a$((fd - 2))"
done
for c in a1 a2 a3 a4; do
	wait_log runaway "channel $c: .* line 10: malformed"
done
# the stall: the reader stopped, the pipe filled
stall_stderr "$DRAIN" "$WORK/err.fifo"
# the main thread in write(2) on stderr, or waiting for stdio's lock of
# stderr (a b's thread holds it in write(2)): a count of the a's
n=0
until read -r nr fd rest <"/proc/$PID/syscall" 2>/dev/null &&
	{ [ "$nr $fd" = "1 0x2" ] || [ "$nr" = 202 ]; }; do
	n=$((n + 1))
	[ $n -le 1200 ] || fail "mdpub's main thread not writing: ${nr:-?} ${fd:-?}"
	sleep 0.05
done
sleep 2
touch "$WORK/slow"
kill -CONT "$DRAIN"
sleep 3

# SIGTERM heard within 20 s (the floods still on)
kill -TERM "$PID" || fail "kill $PID"
n=0
while kill -0 "$PID" 2>/dev/null &&
	[ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/$PID/status)" != Z ]; do
	n=$((n + 1))
	if [ $n -gt 400 ]; then
		bursts=$(grep -c 'channel b[12]: malformed lines: [0-9]* similar' \
			"$WORK/runaway.log")
		fail "mdpub did not stop within 20 s of SIGTERM; $bursts counts of b1, b2 logged"
	fi
	sleep 0.05
done
wait "$PID"
rc=$?
[ "$rc" -eq 0 ] || fail "mdpub exited $rc"
wait "$DRAIN"
# at most one count a second of each, from the check or before a line
for c in b1 b2; do
	most=$(sed -n "s/^\([^.]*\)\..*channel $c: malformed lines: [0-9]* similar messages not logged\$/\1/p" \
		"$WORK/runaway.log" | uniq -c | sort -rn | awk 'NR == 1 { print $1 + 0 }')
	[ "${most:-0}" -le 5 ] || fail "channel $c: $most counts logged in one second"
done
for c in a1 a2 a3 a4; do
	grep -q "channel $c: malformed lines: 290 similar messages not logged\$" \
		"$WORK/runaway.log" || fail "no count of 290 for $c"
done
exit 0
