#!/bin/sh
# A stderr nobody reads (a full pipe) holds up the threads that write a
# line, not a channel that only counts (mdpub(8), LOGGING): with
# log_level = warning, channel a's connection ends and connects (notices,
# not written) go past the rate limit and their count is due a second
# later, when the pipe is full; the one-second check (log_limits_tick())
# then waits in write(2).
# Channel b's connections accepted (info, not written) go past their
# limit meanwhile, which lists it for that check, and b goes on
# publishing: a quote sent after them comes through. Once the pipe is
# read again, a's count is in the log and mdpub stops cleanly. Before,
# the check wrote its lines holding the limiters' list's lock, and b's
# thread waited for it at its first line not logged: the quote never came
# (the reader gave up after 60 s).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

# channel a's peer: 20 connections closed at once, the 21st held, once
# $WORK/go.a exists
python3 -c "
import os, socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(16)
open('$WORK/port.a', 'w').write('%d\\n' % s.getsockname()[1])
while not os.path.exists('$WORK/go.a'):
    time.sleep(0.02)
for i in range(21):
    c, _ = s.accept()
    if i < 20:
        c.close()
time.sleep(3600)
" &
PIDS="$PIDS $!"
written "$WORK/port.a" "channel a's peer"
conf stall.conf <<END
[global]
stats_interval = 0
log_level = warning
[channel a]
source = lines
format = csv
connect = 127.0.0.1:$(cat "$WORK/port.a")
reconnect = 0.01
[channel b]
source = lines
format = csv
listen = 127.0.0.1:0
peer_connections = 64
END

# mdpub's stderr into a FIFO that cat copies into stall.log until stopped
mkfifo "$WORK/err.fifo" || fail "mkfifo"
cat "$WORK/err.fifo" >"$WORK/stall.log" &
DRAIN=$!
PIDS="$PIDS $DRAIN"
"$MDPUB" -c "$WORK/stall.conf" >"$WORK/err.fifo" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_for "$MDSUB" --status a
wait_for "$MDSUB" --status b
# b's port (its start line is a notice): mdpub's one listening socket
port=$(python3 -c "
import os
fds = '/proc/$PID/fd/'
socks = {os.readlink(fds + f)[8:-1] for f in os.listdir(fds)
         if os.readlink(fds + f).startswith('socket:[')}
for line in open('/proc/net/tcp').readlines()[1:]:
    w = line.split()
    if w[3] == '0A' and w[9] in socks:
        print(int(w[1].split(':')[1], 16))
")
[ -n "$port" ] || fail "channel b's port not found"

# the pipe stalls: cat stopped, the pipe filled
stall_stderr "$DRAIN" "$WORK/err.fifo"
touch "$WORK/go.a"
# the main thread in write(2) on stderr: a's count, due a second after
# the flood (the shell's own read: /proc/PID/syscall is for ancestors)
i=0
until read -r nr fd rest <"/proc/$PID/syscall" 2>/dev/null &&
	[ "$nr $fd" = "1 0x2" ]; do
	i=$((i + 1))
	[ $i -le 1200 ] || fail "mdpub's main thread not writing: ${nr:-?} ${fd:-?}"
	sleep 0.05
done

"$READER" --until 2 --dump b >"$WORK/b.out" 2>"$WORK/b.err" &
RD=$!
PIDS="$PIDS $RD"
# 20 connections to b, 10 ms apart (the listen backlog is 16), held; a
# quote on the last (the reader's second message, after "mdpub started")
python3 -c "
import socket, time
conns = []
for i in range(20):
    s = socket.socket()
    s.connect(('127.0.0.1', $port))
    conns.append(s)
    time.sleep(0.01)
conns[-1].sendall(b'Q,GO,1,1,2,1\n')
time.sleep(3600)
" &
PIDS="$PIDS $!"
wait "$RD" || fail "channel b published nothing while stderr was stalled: $(cat "$WORK/b.err")"
grep -q '^Q GO ' "$WORK/b.out" || fail "channel b: $(cat "$WORK/b.out")"

# the pipe read again: a's count comes, mdpub stops cleanly
kill -CONT "$DRAIN"
wait_log stall "channel a: input ends and connection errors: [0-9]* similar messages not logged$"
stop "$PID"
wait "$DRAIN" || fail "cat of mdpub's stderr"
exit 0
