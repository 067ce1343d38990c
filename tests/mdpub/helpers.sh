# helpers.sh - sourced by the tests in tests/mdpub: a private segment
# directory and work directory, the test reader, and helpers to run mdpub
# in the foreground and wait for its log. Exit 0 pass, 77 skip, else fail.
set -u
: "${MDPUB:?MDPUB is not set (run through make check)}"
: "${top_builddir:?top_builddir is not set (run through make check)}"
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
READER=$top_builddir/tests/mdpub/reader
[ -x "$MDPUB" ] || { echo "SKIP: $MDPUB not built"; exit 77; }
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }
MDBUS_DIR=$(mktemp -d /dev/shm/mdpubtest.XXXXXX) || exit 99
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdpubtest.XXXXXX") || exit 99
export MDBUS_DIR LC_ALL=C
# mdpub refuses a config file its group or others may write
umask 022
PIDS=
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$MDBUS_DIR" "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	# *.nlog: nats-server's (tests/nats/helpers.sh nats_start)
	for f in "$WORK"/*.log "$WORK"/*.nlog; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
	done
	exit 1
}

. "$top_srcdir/tests/common.sh"

# start NAME ARGS...: mdpub ARGS in the background, log in
# $WORK/NAME.log, pid in $PID
start() {
	name=$1
	shift
	# gone first: the redirection below truncates it only once the child
	# runs, and a wait_log meanwhile would find an earlier run's lines
	rm -f "$WORK/$name.log"
	"$MDPUB" "$@" >"$WORK/$name.log" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
}

# wait_log NAME TEXT [SEC]: waits until $WORK/NAME.log has TEXT, SEC
# seconds at most (default 60: a deadline for a loaded machine, not a
# timing assertion; it returns as soon as the text is there)
wait_log() {
	i=0
	while ! grep -q -- "$2" "$WORK/$1.log" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le $((${3:-60} * 20)) ] || fail "no '$2' in $1.log"
		sleep 0.05
	done
}

# counted NAME TEXT: sends mdpub ($PID) SIGUSR1 until $WORK/NAME.log has
# TEXT (a counter line), 60 s at most: one SIGUSR1 right after sending
# may be handled before mdpub has read what was sent, and then no later
# counter line comes (stats_interval = 0)
counted() {
	i=0
	until kill -USR1 "$PID" && sleep 0.1 && grep -q -- "$2" "$WORK/$1.log"; do
		i=$((i + 1))
		[ "$i" -le 600 ] || fail "no '$2' in $1.log"
	done
}

# stats NAME CHANNEL FIELD: FIELD of the channel's last counter line in
# $WORK/NAME.log
stats() {
	grep "channel $2: in " "$WORK/$1.log" | tail -n 1 | tr ' ' '\n' |
		sed -n "/^$3\$/{n;p;}"
}

# stalled_reader CHANNEL [OUT [OPTION]...]: a reader registered at the
# next message (MDBUS_START_LATEST) that stops itself before reading,
# holding a lossless channel back until sent SIGCONT; it dumps into
# $WORK/OUT.out (OUT: CHANNEL) until a FEED_DOWN, errors in
# $WORK/OUT.err; its pid in $RD. The reader OPTIONs (--from, --until)
# replace those.
stalled_reader() {
	sr_channel=$1
	sr_out=${2:-$1}
	shift $(($# < 2 ? $# : 2))
	"$READER" --stall --from latest --until down --dump "$@" "$sr_channel" \
		>"$WORK/$sr_out.out" 2>"$WORK/$sr_out.err" &
	RD=$!
	PIDS="$PIDS $RD"
	i=0
	until [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/$RD/status 2>/dev/null)" = T ]; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "the reader of $sr_channel did not stop: $(cat "$WORK/$sr_out.err")"
		sleep 0.05
	done
}

# port_of NAME: the port mdpub logged it listens or receives on, once
# the segment exists too (the source binds before the segment is made:
# a reader started right after would find no channel)
port_of() {
	wait_log "$1" "channel .*: \(listening\|receiving\) on "
	wait_log "$1" "channel .*: publishing from sequence "
	sed -n 's/.*channel .*: \(listening\|receiving\) on .*:\([0-9]*\)$/\2/p' \
		"$WORK/$1.log" | tail -n 1
}

# listener NAME KEY=VALUE...: mdpub ($PID) with $WORK/NAME.conf, whose
# channel x has a lines source of csv that listens on a port of
# 127.0.0.1, with these keys besides; $PORT once the channel exists
listener() {
	l_name=$1
	shift
	channel "$l_name.conf" x source=lines format=csv listen=127.0.0.1:0 "$@"
	start "$l_name" -c "$WORK/$l_name.conf"
	PORT=$(port_of "$l_name")
}

# py_conn: python3 code that defines conn(SRC): a TCP connection from the
# address SRC to 127.0.0.1:$PORT, returned 10 ms after it is made (the
# next one made at once could find mdpub's listen backlog, 16, full, and
# the kernel would take it only a second later)
py_conn() {
	cat <<EOF
import socket, time
def conn(src):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(('127.0.0.1', $PORT))
    time.sleep(0.01)
    return s
EOF
}

# receive NAME: mdpub with $WORK/NAME.conf ($PID), $PORT once the channel
# exists, and a reader of it until its end ($READ, into $WORK/NAME.out)
receive() {
	start "$1" -c "$WORK/$1.conf"
	PORT=$(port_of "$1")
	"$READER" --until down --dump "$1" >"$WORK/$1.out" &
	READ=$!
	sleep 0.2 # the reader up before the first packet
}

# stop PID [SIGNAL]: signals mdpub and fails unless it exits 0
stop() {
	kill -"${2:-TERM}" "$1" || fail "kill $1"
	wait "$1"
	rc=$?
	[ "$rc" -eq 0 ] || fail "mdpub exited $rc after SIG${2:-TERM}"
}

# expect FILE LINE: fails unless FILE has the exact line LINE
expect() {
	grep -qxF -- "$2" "$1" || { cat "$1" >&2; fail "no line '$2' in $1"; }
}

# refused NAME TEXT: mdpub -c $WORK/NAME.conf exits 1 at start-up and
# logs TEXT (naming the file or address) once, on a "channel NAME: " line
refused() {
	status 1 "$MDPUB" -c "$WORK/$1.conf" 2>"$WORK/$1.log"
	n=$(grep -cF -- "$2" "$WORK/$1.log")
	[ "$n" -eq 1 ] || fail "'$2' logged $n times, not once"
	grep -F -- "$2" "$WORK/$1.log" | grep -qF "channel $1: " ||
		fail "'$2' without 'channel $1: '"
}

# conf FILE <<EOF: writes a config file into $WORK
conf() {
	cat >"$WORK/$1"
}

# channel FILE NAME KEY=VALUE...: writes $WORK/FILE with the periodic
# stats off and one [channel NAME] with these keys
channel() {
	f=$WORK/$1
	printf '[global]\nstats_interval = 0\n[channel %s]\n' "$2" >"$f"
	shift 2
	for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$f"; done
}

# lines_conf NAME FORMAT INPUT-KEY=VALUE: $WORK/NAME.conf, channel NAME
# with the lines source in FORMAT reading from that input
lines_conf() {
	channel "$1.conf" "$1" source=lines format="$2" "$3"
}

# written FILE WHAT: waits until FILE is not empty (WHAT has started),
# 60 s at most
written() {
	i=0
	until [ -s "$1" ]; do
		i=$((i + 1))
		[ $i -lt 1200 ] || fail "$2 did not start"
		sleep 0.05
	done
}

# udp_receiver CHANNEL: tests/mdsub/testtool udprecv in the background,
# its output in $WORK/udp, its port in $WORK/port, its pid in $receiver
udp_receiver() {
	"$top_builddir/tests/mdsub/testtool" udprecv "$1" "$WORK/port" >"$WORK/udp" &
	receiver=$!
	PIDS="$PIDS $receiver"
	written "$WORK/port" "receiver"
}

# stop_forwarding CHANNEL: stops mdpub ($PID), waits until the
# forwarder ($fwd) has sent the last message to the receiver
# ($receiver), then stops the forwarder; $n: where the channel stopped
stop_forwarding() {
	stop "$PID"
	n=$(sed -n "s/.*channel $1: stopped at sequence \([0-9]*\)\$/\1/p" "$WORK/$1.log")
	[ -n "$n" ] || fail "no 'stopped at sequence' in $1.log"
	i=0
	until grep -q "^$1 $((n - 1)) " "$WORK/udp"; do # the last one
		i=$((i + 1))
		[ $i -lt 1200 ] || fail "message $((n - 1)) not forwarded: $(tail -n 1 "$WORK/udp")"
		sleep 0.05
	done
	kill -TERM $fwd
	wait $fwd || fail "mdsub exited $?: $(cat "$WORK/fwd.err")"
	wait $receiver || fail "receiver"
}

# forwarded_whole FIRST N: fails unless the receiver got messages
# FIRST .. N - 1, each once, in order
forwarded_whole() {
	grep -v '^heartbeat \|^end ' "$WORK/udp" | awk -v a="$1" -v n="$2" '
		$2 != a + NR - 1 { print "message " a + NR - 1 " is " $2; bad = 1; exit }
		END { if (!bad && NR != n - a) print NR " messages, not " n - a }' >"$WORK/gaps"
	[ ! -s "$WORK/gaps" ] || fail "forwarded: $(cat "$WORK/gaps")"
}

# registered CHANNEL NAME ERRFILE: waits until a reader NAME holds an
# entry in CHANNEL's consumer table (mdsub --status), 60 s at most (a
# loaded machine); on failure shows ERRFILE, the reader's errors
registered() {
	i=0
	until "$MDSUB" --status "$1" | grep -q "^ *$2 "; do
		i=$((i + 1))
		[ "$i" -le 1200 ] || fail "reader $2 of $1 not registered: $(cat "$3")"
		sleep 0.05
	done
}

# ended_within PID SEC: waits for PID, killed (SIGKILL) if still running
# after SEC seconds; its exit status in $rc (137: killed)
ended_within() {
	(sleep "$2" && kill -KILL "$1" 2>/dev/null) &
	wd=$!
	wait "$1"
	rc=$?
	kill "$wd" 2>/dev/null
}

# stall_stderr PID FIFO: the stderr of a mdpub that goes into FIFO stalls.
# PID (the FIFO's reader) stops, for good before the filling (a reader
# woken by the signal reads what the pipe holds before it stops), then the
# pipe fills with empty lines until a write would block: every later
# line of mdpub's waits.
stall_stderr() {
	kill -STOP "$1"
	_n=0
	until [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' /proc/$1/status)" = T ]; do
		_n=$((_n + 1))
		[ $_n -le 1200 ] || fail "the reader of mdpub's stderr did not stop"
		sleep 0.05
	done
	yes '' | dd of="$2" bs=4096 iflag=fullblock oflag=nonblock \
		conv=notrunc 2>/dev/null
}

# shared_map: under TSan (the gcc build, whose runtime is libtsan.so),
# every mdpub this test starts through $MDPUB runs with
# mdpub/shared_map.la preloaded: the archive's reader of a channel gets
# its publisher's very mapping of the segment, and TSan, which knows
# memory by its address, sees the channel's thread and the archive's
# meet in the ring (without it, none of their accesses can race). Each
# mdpub appends "PID HITS CALLS" to $WORK/shared_map at its exit;
# shared_map_used checks them. Elsewhere a no-op.
SHARED_MAP=
shared_map() {
	[ "${MDBUS_SANITIZER:-}" = thread ] || return 0
	sm_hook=$top_builddir/tests/mdpub/.libs/shared_map.so
	[ -f "$sm_hook" ] || fail "no $sm_hook: make check builds it"
	# clang links its TSan runtime into mdpub, whose mmap() then comes
	# before any preloaded one: the hook would never be called
	sm_bin=$top_builddir/daemons/.libs/mdpub
	[ -f "$sm_bin" ] || sm_bin=$MDPUB
	if ! grep -aq 'libtsan\.so' "$sm_bin"; then
		echo "shared_map: not preloaded, $sm_bin has no libtsan.so"
		return 0
	fi
	SHARED_MAP=$WORK/shared_map
	: >"$SHARED_MAP"
	# exec: the wrapper's pid is mdpub's
	cat >"$WORK/mdpub-shared-map" <<EOW
#!/bin/sh
LD_PRELOAD="$sm_hook\${LD_PRELOAD:+:\$LD_PRELOAD}" SHARED_MAP_REPORT="$SHARED_MAP" exec "$MDPUB" "\$@"
EOW
	chmod +x "$WORK/mdpub-shared-map"
	MDPUB=$WORK/mdpub-shared-map
}

# shared_map_used: after shared_map and mdpub's exits, fails unless an
# mdpub handed out a mapping again (the hook cannot quietly stop working)
shared_map_used() {
	[ -n "$SHARED_MAP" ] || return 0
	awk '$2 > 0 { ok = 1 } END { exit !ok }' "$SHARED_MAP" ||
		fail "shared_map: no mdpub shared a mapping (pid hits calls): $(cat "$SHARED_MAP")"
}
