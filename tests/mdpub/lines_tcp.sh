#!/bin/sh
# The lines source's TCP listener under hostile peers (python3 clients):
# 64 connections from 8 addresses that send only comments hold nothing:
# the real feeder takes the place of one of them, and such connections
# are closed after idle_timeout although they keep sending; one address
# holds at most peer_connections; `allow` refuses the rest; out of
# descriptors, the channel does not spin and accepts again once
# descriptors are free. Every refusal and eviction is counted exactly.
# Nothing depends on how fast the machine is: the eviction is tested with
# an idle_timeout no run reaches, and the idle closes with a feeder that
# keeps sending until mdpub has closed every idle connection; with -v,
# accepted connections are logged rate-limited. A `connect`
# to an unprivileged port of this host is warned about, and so is a
# `listen` that every address or every local user can connect to.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

# the TCP client: python3 client.py PORT then commands on stdin, one a
# line: "open NAME [SRC]" (connect from SRC, default 127.0.0.1), "send NAME
# TEXT", "spam PREFIX TEXT" (sends TEXT on every connection whose name
# starts with PREFIX, those mdpub closed too, whose errors are ignored),
# "closed NAME" (fails unless mdpub closes it within 60 s), "open?
# NAME" (fails unless it is still open), "close NAME", "wait SEC",
# "feed NAME PREFIX SEC TEXT" (every 0.2 s sends TEXT, its %d replaced
# by 1, 2..., on NAME and a comment on every connection whose name starts
# with PREFIX, until mdpub has closed all of those and SEC seconds have
# passed, 60 s at most; prints "fed N", the number of TEXT lines sent)
cat >"$WORK/client.py" <<'END'
import socket, sys, time
port = int(sys.argv[1])
conns = {}
def closed(s, timeout):
    """Whether mdpub closed s (EOF or reset) within timeout seconds."""
    s.settimeout(timeout) if timeout else s.setblocking(False)
    try:
        if s.recv(1) != b'':
            sys.exit('data from mdpub')
        return True
    except (socket.timeout, BlockingIOError):
        return False
    except ConnectionResetError:
        return True
def run(line):
    w = line.split(None, 2)
    if not w:
        return
    cmd, name = w[0], w[1]
    if cmd == 'open':
        s = socket.socket()
        s.bind((w[2].strip() if len(w) > 2 else '127.0.0.1', 0))
        s.connect(('127.0.0.1', port))
        conns[name] = s
    elif cmd == 'send':
        conns[name].sendall((w[2].rstrip('\n') + '\n').encode())
    elif cmd == 'spam':
        for n, s in conns.items():
            try:
                if n.startswith(name):
                    s.sendall((w[2].rstrip('\n') + '\n').encode())
            except OSError:
                pass
    elif cmd == 'closed':
        if not closed(conns[name], 60):
            sys.exit('%s: still open' % name)
    elif cmd == 'feed':
        prefix, sec, text = w[2].split(None, 2)
        t0, n = time.monotonic(), 0
        deadline = t0 + 60
        while True:
            n += 1
            conns[name].sendall((text.strip().replace('%d', str(n)) + '\n').encode())
            run('spam ' + prefix + ' #')
            if all(closed(s, 0) for c, s in conns.items() if c.startswith(prefix)) \
                    and time.monotonic() - t0 >= float(sec):
                break
            if time.monotonic() > deadline:
                sys.exit('%s: connections still open after 60 s' % prefix)
            time.sleep(0.2)
        print('fed', n, flush=True)
    elif cmd == 'open?':
        conns[name].settimeout(0.3)
        try:
            conns[name].recv(1)
            sys.exit('%s: closed by mdpub' % name)
        except socket.timeout:
            pass
    elif cmd == 'close':
        conns.pop(name).close()
    elif cmd == 'wait':
        time.sleep(float(name))
    print('ok', line.strip(), flush=True)
for line in sys.stdin:
    try:
        run(line)
    except OSError as e:
        sys.exit('%s: %s' % (line.strip(), e))
END
client() { # client NAME < COMMANDS: runs the client, fails on an error
	python3 "$WORK/client.py" "$PORT" >"$WORK/$1.client" 2>&1 ||
		fail "client $1: $(tail -n 1 "$WORK/$1.client")"
}
# (connections are opened 10 ms apart: mdpub's listen backlog is 16, and
# a connection beyond it is taken by the kernel only a second later)
seq_lines() { # seq_lines N FORMAT: FORMAT with 1..N
	i=1
	while [ $i -le "$1" ]; do printf "$2\\n" $i; i=$((i + 1)); done
}

# 64 connections (the most there may be), 8 from each of 127.0.0.2..9,
# that send comments: the feeder (127.0.0.1) takes the place of the
# oldest of them at once, the others stay (idle_timeout is never reached)
channel evict.conf evict source=lines listen=127.0.0.1:0 idle_timeout=600
start evict -c "$WORK/evict.conf" -v
PORT=$(port_of evict)
{
	i=0
	for a in 2 3 4 5 6 7 8 9; do
		for j in 1 2 3 4 5 6 7 8; do
			i=$((i + 1))
			printf 'open a%d 127.0.0.%d\nwait 0.01\n' $i $a
		done
	done
	echo 'spam a #'
	echo 'open feeder'
	echo 'send feeder Q,REAL,0,1,2,1' # the 65th: one of the 64 goes
	echo 'closed a1'
	echo 'open? a2'
	echo 'open? a64'
	echo 'send feeder Q,REAL,1,1,2,1'
	echo 'open? feeder'
	echo 'close feeder'
} >"$WORK/evict.cmd"
client evict <"$WORK/evict.cmd"
status 0 "$READER" --until 3 --dump evict >"$WORK/evict.out"
[ "$(grep -c '^Q REAL ' "$WORK/evict.out")" -eq 2 ] || fail "evict: messages"
counted evict "channel evict: source lines: idle 0 evicted 1 peer_limit 0 not_allowed 0 accept_errors 0$"
grep -q "channel evict: connection from 127.0.0.2 closed for a connection from 127.0.0.1: 64 connections open; it sent no accepted message for [0-9.]* s (none since it connected)$" \
	"$WORK/evict.log" || fail "eviction not logged"
stop "$PID"
# -v: 65 connections accepted, 10 lines, then one a second (65 before)
n=$(grep -c "channel evict: connection from 127\.0\.0\.[0-9]* accepted on 127\.0\.0\.1:0$" "$WORK/evict.log")
[ "$n" -ge 10 ] && [ "$n" -le 30 ] || fail "65 connections accepted: $n lines"

# 63 connections from 127.0.0.2..9 that send a comment every 0.2 s, and
# a feeder: those are closed when idle_timeout has passed since they
# connected, their comments notwithstanding; the feeder, whose quotes
# every 0.2 s are accepted, stays, longer than idle_timeout
channel idle.conf idle source=lines listen=127.0.0.1:0 idle_timeout=2
start idle -c "$WORK/idle.conf"
PORT=$(port_of idle)
{
	i=0
	while [ $i -lt 63 ]; do
		i=$((i + 1))
		printf 'open a%d 127.0.0.%d\nwait 0.01\n' $i $((i % 8 + 2))
	done
	echo 'open feeder'
	echo 'feed feeder a 3 Q,REAL,%d,1,2,1'
	echo 'open? feeder'
	echo 'close feeder'
} >"$WORK/idle.cmd"
client idle <"$WORK/idle.cmd"
fed=$(sed -n 's/^fed //p' "$WORK/idle.client")
status 0 "$READER" --until $((fed + 1)) --dump idle >"$WORK/idle.out"
[ "$(grep -c '^Q REAL ' "$WORK/idle.out")" -eq "$fed" ] || fail "idle: messages"
counted idle "channel idle: source lines: idle 63 evicted 0 peer_limit 0 not_allowed 0 accept_errors 0$"
grep -q "channel idle: connection from 127.0.0.[2-9] closed: no accepted message for 2 s" \
	"$WORK/idle.log" || fail "idle close not logged"
stop "$PID"

# peer_connections = 2 from one address; allow lets in 127.0.0.1 and
# 127.0.0.3 only
channel peer.conf peer source=lines listen=127.0.0.1:0 peer_connections=2 \
	"allow=127.0.0.1, 127.0.0.3/32"
start peer -c "$WORK/peer.conf"
PORT=$(port_of peer)
"$READER" --until 3 --dump peer >"$WORK/peer.out" &
READ=$!
client peer <<'END'
open a1
open a2
open a3
closed a3
open b1 127.0.0.2
closed b1
open c1 127.0.0.3
open? a1
open? a2
open? c1
send c1 Q,C,1,1,2,1
send a1 Q,A,1,1,2,1
wait 0.2
END
wait "$READ" || fail "peer: quotes not published"
grep -q '^Q A ' "$WORK/peer.out" && grep -q '^Q C ' "$WORK/peer.out" || fail "peer: messages"
counted peer "channel peer: source lines: idle 0 evicted 0 peer_limit 1 not_allowed 1 accept_errors 0$"
grep -q "connection from 127.0.0.1 refused: peer_connections reached" \
	"$WORK/peer.log" || fail "peer limit not logged"
grep -q "connection from 127.0.0.2 refused: address not allowed" \
	"$WORK/peer.log" || fail "not allowed not logged"
channel badallow.conf badallow source=lines listen=127.0.0.1:0 allow=10.0.0.0/33
status 1 "$MDPUB" -T -c "$WORK/badallow.conf" 2>"$WORK/badallow.log"
grep -q "allow: '10.0.0.0/33' is not an address or address/prefix-length" \
	"$WORK/badallow.log" || fail "bad allow entry not reported"
stop "$PID"

# out of descriptors: accept() fails with EMFILE while the listener stays
# readable; the process must not spin, and must accept again once
# connections are gone
channel fds.conf fds source=lines listen=127.0.0.1:0 peer_connections=64
(ulimit -n 24 && exec "$MDPUB" -c "$WORK/fds.conf") >"$WORK/fds.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
PORT=$(port_of fds)
mkfifo "$WORK/fds.cmd"
python3 "$WORK/client.py" "$PORT" <"$WORK/fds.cmd" >"$WORK/fds.client" 2>&1 &
CLIENT=$!
exec 3>"$WORK/fds.cmd"
seq_lines 20 'open f%d\nwait 0.01' >&3
wait_log fds "channel fds: accept: Too many open files: not accepting for"
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
t0=$(ticks)
sleep 2
t1=$(ticks)
hz=$(getconf CLK_TCK)
[ $((t1 - t0)) -le $((hz * 2 / 10)) ] ||
	fail "out of descriptors: $((t1 - t0)) ticks of CPU in 2 s (spinning)"
seq_lines 20 'close f%d' >&3
{
	echo 'wait 1'
	echo 'open feeder'
	echo 'send feeder Q,LOW,1,1,2,1'
	echo 'close feeder'
} >&3
exec 3>&-
wait "$CLIENT" || fail "fds client: $(tail -n 1 "$WORK/fds.client")"
status 0 "$READER" --from oldest --until 2 --dump fds >"$WORK/fds.out"
grep -q '^Q LOW ' "$WORK/fds.out" || fail "fds: the feeder's quote not published"
counted fds "channel fds: source lines: idle 0 evicted 0 peer_limit 0 not_allowed 0 accept_errors [1-9]"
stop "$PID"

# connect to a port of this host that any local user may listen on
# (mdpub.conf(5), connect): warned by -T and at start; a port below
# net.ipv4.ip_unprivileged_port_start, or another host's, is not; the
# unspecified address 0.0.0.0 is this host's (a connect to it reaches
# 127.0.0.1). Before, nothing warned, and a user listening there while
# the feeder was not had the channel publish its lines; then 0.0.0.0 was
# not warned about, nor 127.1 (127.0.0.1 to getaddrinfo(), which
# connects there), nor localhost and names under it (RFC 6761: loopback).
START=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null) ||
	START=1024
if [ "$START" -gt 1 ] && [ "$START" -le 40000 ]; then
	for to in 127.0.0.1:40000 "127.0.0.1:$((START - 1))" 198.51.100.7:40000 \
		0.0.0.0:40000 127.1:40000 localhost:40000 feed.LocalHost.:40000; do
		channel conn.conf conn source=lines format=csv connect="$to" \
			reconnect=60
		status 0 "$MDPUB" -T -c "$WORK/conn.conf" >"$WORK/conn.out" 2>"$WORK/conn.err"
		start conn -c "$WORK/conn.conf"
		wait_log conn "publishing from sequence"
		stop "$PID"
		n=$(grep -c "channel conn: connect $to: any local user may take this port while the feeder does not listen on it" \
			"$WORK/conn.err" "$WORK/conn.log" | sed 's/.*://' | tr '\n' ' ')
		want="0 0 "
		case $to in 127.0.0.1:40000|0.0.0.0:40000|127.1:40000|*ocal[Hh]ost*) want="1 1 " ;; esac
		[ "$n" = "$want" ] || fail "connect $to: warned (-T, start) $n, not $want: $(cat "$WORK/conn.err")"
	done
fi

# listen that every address or every local user can connect to: no
# allow, a rule of length 0, or one admitting an address of this host
# (loopback, or an interface's): warned by -T and at start, one line
# naming whom; allow of another host's address is not. Before, nothing
# warned, and any local user could publish on a loopback listener.
HOSTADDR=$(ip -4 -o addr show scope global 2>/dev/null | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1)
for rule in none 127.0.0.1 127.0.0.0/8 0.0.0.0/0 ::/0 "198.51.100.7 127.0.0.2" \
	${HOSTADDR:+"$HOSTADDR"} 198.51.100.7 "198.51.100.0/24 2001:db8::/32"; do
	case $rule in
	none) who="no allow"; set -- ;;
	0.0.0.0/0 | ::/0) who="allow $rule admits every address"; set -- "allow=$rule" ;;
	198.51.100.7 | "198.51.100.0/24 2001:db8::/32") who=; set -- "allow=$rule" ;;
	*) who="allow ${rule##* } admits every local user (an address of this host)"
		set -- "allow=$rule" ;;
	esac
	channel lsn.conf lsn source=lines format=csv listen=127.0.0.1:0 "$@"
	status 0 "$MDPUB" -T -c "$WORK/lsn.conf" >"$WORK/lsn.out" 2>"$WORK/lsn.err"
	start lsn -c "$WORK/lsn.conf"
	wait_log lsn "publishing from sequence"
	stop "$PID"
	text="channel lsn: $who: whoever can connect to listen can publish messages in place of the feeder's; set allow = the feeder's addresses, on another host (on this host every local user can connect) (mdpub.conf(5))"
	if [ -n "$who" ]; then
		expect "$WORK/lsn.err" "mdpub: $text"
		[ "$(grep -cF "]: $text" "$WORK/lsn.log")" = 1 ] ||
			fail "listen, $rule: not warned once at start: $(grep 'whoever' "$WORK/lsn.log")"
	else
		[ -s "$WORK/lsn.err" ] && fail "listen, $rule: warned: $(cat "$WORK/lsn.err")"
		grep -q whoever "$WORK/lsn.log" && fail "listen, $rule: warned at start"
	fi
done
exit 0
