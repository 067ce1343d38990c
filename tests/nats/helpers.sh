# helpers.sh - sourced by the tests in tests/nats (the NATS bridge):
# mdpub/helpers.sh (private segment directory, work directory, cleanup
# that kills every process in $PIDS), then nats-server instances on
# loopback with random ports and a store each in $WORK, killed by the
# same trap. Skips (77) with the reason when mdbus was built without
# libnats or nats-server is not installed.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
[ "${MDBUS_NATS_BUILT:-no}" = yes ] ||
	{ echo "SKIP: built without NATS (Debian package libnats-dev, then configure --with-nats)"; exit 77; }
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
[ -x "$NATS_SERVER" ] ||
	{ echo "SKIP: nats-server not installed (Debian package nats-server; tests/deps.sh)"; exit 77; }
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }

# The handshake guard (common/nats_guard.h) never cuts a connection to a
# real nats-server: a test that passed fails if a program of its said it
# did (in any file of $WORK), unless CUTS_EXPECTED is set
# (tests/nats/no_pong.sh).
CUTS_EXPECTED=
nats_cleanup() {
	rc=$?
	if [ -z "$CUTS_EXPECTED" ] &&
		grep -rq "connection cut, as the client library" "$WORK"; then
		echo "FAIL: a connection cut: $(grep -rh "connection cut" "$WORK" | head -n 3)" >&2
		rc=1
	fi
	cleanup
	exit "$rc"
}
trap nats_cleanup EXIT

# nats_start NAME [ARGS...]: nats-server NAME on 127.0.0.1 (a random
# client port unless ARGS give -p), JetStream store in $WORK/NAME.store,
# log in $WORK/NAME.nlog; waits until it is ready; its pid in $NPID and
# $WORK/NAME.pid, its client port in $WORK/NAME.port (nats_port NAME)
nats_start() {
	n=$1
	shift
	: >"$WORK/$n.nlog"
	"$NATS_SERVER" -a 127.0.0.1 -p -1 -n "$n" -sd "$WORK/$n.store" "$@" \
		>>"$WORK/$n.nlog" 2>&1 &
	NPID=$!
	PIDS="$PIDS $NPID"
	echo "$NPID" >"$WORK/$n.pid"
	wait_nlog "$n" "Server is ready"
	sed -n 's/.*Listening for client connections on 127.0.0.1:\([0-9]*\)$/\1/p' \
		"$WORK/$n.nlog" | tail -n 1 >"$WORK/$n.port"
	[ -s "$WORK/$n.port" ] || fail "nats-server $n: no client port in its log"
}

nats_port() { cat "$WORK/$1.port"; }

# stream_has SERVER TEXT: waits until nats-server SERVER's /jsz (blanks
# left out) has TEXT, 60 s at most
stream_has() {
	i=0
	until monitor "$1" /jsz | tr -d ' \n' | grep -q "$2"; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "no $2 in $(monitor "$1" /jsz)"
		sleep 0.05
	done
}

# hook NAME: $HOOK, the interposer tests/nats/NAME.c that make check
# builds
hook() {
	HOOK=$top_builddir/tests/nats/.libs/$1.so
	[ -f "$HOOK" ] || fail "no $HOOK: make check builds it"
}

# no_pong NAME PORT [quiet|stream|tls]: tests/nats/no_pong.py on PORT (0: any),
# its port in $WORK/NAME.port, a line a connection in $WORK/NAME.conns;
# its pid in $FPID
no_pong() {
	rm -f "$WORK/$1.port"
	: >"$WORK/$1.conns"
	python3 "$top_srcdir/tests/nats/no_pong.py" "$2" "$WORK/$1.port" \
		"$WORK/$1.conns" ${3:+"$3"} 2>"$WORK/$1.ferr" &
	FPID=$!
	PIDS="$PIDS $FPID"
	wait_for test -s "$WORK/$1.port"
}

# took NAME CHANNEL WANT: waits until mdpub NAME ($PID) took WANT
# messages in at least (its counters on SIGUSR1), 60 s at most
took() {
	i=0
	until kill -USR1 "$PID" && sleep 0.1 && [ "$(stats "$1" "$2" in)" -ge "$3" ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$1 took $(stats "$1" "$2" in) messages, not $3"
	done
}

# flip_setup [URL...]: for tests/nats/tls_flip*.sh: a synthetic channel
# src (mdpub $SRC), nats-server n1 ($PORT, $URL), channel dst reading
# mdbus.src.> from $URL and the URLs given (comma-separated; mdpub $DST),
# and mdsub forwarding src to $URL ($F, its output in $WORK/f.log)
flip_setup() {
	channel src.conf src source=synthetic rate=2000
	run_channel src
	SRC=$PID
	nats_start n1
	PORT=$(nats_port n1)
	URL=nats://127.0.0.1:$PORT
	_urls=$URL
	for _u in "$@"; do _urls=$_urls,$_u; done
	channel dst.conf dst source=nats "url=$_urls" 'subject=mdbus.src.>'
	run_channel dst
	DST=$PID
	"$MDSUB" --forward "$URL" src >"$WORK/f.log" 2>&1 &
	F=$!
	PIDS="$PIDS $F"
	forwarding "$F" src
	wait_for test "$(dir_write_num "$MDBUS_DIR" dst)" -gt 0
}

# forward_again: $was, what channel dst took so far (its counter, not
# the ring's count: idle heartbeats), then mdsub forwarding src to $URL
# anew ($F2, its output in $WORK/f2.log), as a supervisor would start it
forward_again() {
	PID=$DST
	took dst dst 1
	was=$(stats dst dst in)
	"$MDSUB" --forward "$URL" src >"$WORK/f2.log" 2>&1 &
	F2=$!
	PIDS="$PIDS $F2"
}

# flip_to_tls LOG...: nats-server n1 killed and tests/nats/no_pong.py tls
# on its port until each LOG says the guard cut its TLS handshake (the
# client library took the INFO asking for TLS), then n1 back on $PORT
flip_to_tls() {
	nats_kill n1 KILL
	no_pong r "$PORT" tls
	for _l in "$@"; do
		wait_for grep -q "TLS handshake not done in 4.0 s" "$_l"
	done
	kill "$FPID"
	wait "$FPID" 2>/dev/null
	nats_start n1 -p "$PORT" -m -1
}

# hook_counts FILE NAME: the "NAME1 N1 NAME2 N2" an interposer wrote into
# FILE at mdpub NAME's exit (counts_file.h): N1 and N2 in $N1 and $N2
hook_counts() {
	read -r _ N1 _ N2 <"$1" ||
		fail "no $1 (mdpub died?): $(tail -n 5 "$WORK/$2.log")"
}

# start_hooked NAME HOOK VAR=VALUE ARGS...: as start (mdpub/helpers.sh),
# with the interposer HOOK LD_PRELOAD'ed and VAR=VALUE (where it
# writes) in mdpub's environment; under ASan the interposer comes before
# its runtime in the library list
start_hooked() {
	name=$1 hook=$2 var=$3
	shift 3
	rm -f "$WORK/$name.log" # as start does
	env LD_PRELOAD="$hook" "$var" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$MDPUB" "$@" >"$WORK/$name.log" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
}

# wait_nlog NAME TEXT [SEC]: waits until nats-server NAME logged TEXT,
# SEC seconds at most (default 60, as wait_log)
wait_nlog() {
	i=0
	while ! grep -q -- "$2" "$WORK/$1.nlog" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le $((${3:-60} * 20)) ] ||
			{ tail -n 20 "$WORK/$1.nlog" >&2; fail "no '$2' in $1.nlog"; }
		sleep 0.05
	done
}

# nats_kill NAME [SIGNAL]: stops nats-server NAME and reaps it
nats_kill() {
	p=$(cat "$WORK/$1.pid")
	kill -"${2:-TERM}" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# raw_pub FILE: sends the NATS protocol lines in FILE (made by hpub) on
# a connection of its own to nats-server $RAW_PORT, then a PING, and
# waits for the PONG: the server has handled them all
raw_pub() {
	bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		read -r info <&3
		printf "CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\n" >&3
		cat "$2" >&3
		printf "PING\r\n" >&3
		while read -r line <&3; do
			case $line in PONG*) exit 0 ;; -ERR*) echo "$line" >&2; exit 1 ;; esac
		done
		exit 1' _ "$RAW_PORT" "$1" || fail "raw_pub $1"
}

# hpub FILE SUBJECT PAYLOAD [HEADER-LINE...]: appends one message with
# these header lines (none: a message without headers)
hpub() {
	f=$1 subj=$2 pay=$3
	shift 3
	if [ $# -eq 0 ]; then
		printf 'PUB %s %d\r\n%s\r\n' "$subj" "${#pay}" "$pay" >>"$f"
		return
	fi
	h=$WORK/hdr.tmp
	printf 'NATS/1.0\r\n' >"$h"
	for l in "$@"; do printf '%s\r\n' "$l" >>"$h"; done
	printf '\r\n' >>"$h"
	hl=$(wc -c <"$h")
	printf 'HPUB %s %d %d\r\n' "$subj" "$hl" $((hl + ${#pay})) >>"$f"
	cat "$h" >>"$f"
	printf '%s\r\n' "$pay" >>"$f"
}

# held_core CHANNEL SERVER QUEUE V: nats-server SERVER, and mdpub reading
# core NATS into a lossless CHANNEL of 128 64-byte slots (its pid in $MP)
# with that queue; a reader of it that stops itself (stalled_reader, its
# pid in $RD) after V messages the test forwarder sends (sequence 0..V-1,
# one session); returns once the ring is full and the server has written
# all V to mdpub. The channel's idle heartbeat message is a minute away:
# with the default 1 s, a loaded machine (TSan) that took longer than that
# between mdpub's start and the messages had one take a slot of the ring,
# so that one more of the V waited in the client library
# (nats/core_stop_drops.sh: 'dropped 4465 in the final counters, not 4464')
held_core() {
	nats_start "$2" -m -1
	PORT=$(nats_port "$2")
	RAW_PORT=$PORT
	printf '[global]\nstats_interval = 0.1\n[channel %s]\n' "$1" >"$WORK/$1.conf"
	printf '%s\n' "source = nats" "url = nats://127.0.0.1:$PORT" \
		"subject = mdbus.$1.>" "mode = lossless" "queue = $3" \
		"slot_size = 64" "slots_per_block = 64" "block_count = 2" \
		"heartbeat = 60" >>"$WORK/$1.conf"
	# ASan's quarantine would keep the dropped messages' memory
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
		run_channel "$1"
	MP=$PID
	stalled_reader "$1" "$1" --from latest --until "$4" --timeout 300
	_i=0
	while [ $_i -lt "$4" ]; do
		hpub "$WORK/valid.proto" "mdbus.$1.raw.%" "v$_i" "Mdbus-Seq: $_i" \
			"Mdbus-Ts: 1" "Mdbus-Session: 00000000000000aa"
		_i=$((_i + 1))
	done
	raw_pub "$WORK/valid.proto"
	_i=0 # held: the ring full behind the stopped reader
	until [ "$(dir_write_num "$MDBUS_DIR" "$1")" = 128 ]; do
		_i=$((_i + 1)); [ $_i -le 1200 ] || fail "the ring did not fill: $(dir_write_num "$MDBUS_DIR" "$1")"
		sleep 0.05
	done
	wait_delivered "$2" "$4"
}

# flood_pub SUBJECT N SIZE [HN HSIZE [HFORM]]: N messages of SIZE bytes on
# SUBJECT (no headers), then HN of 2 bytes with a header of HSIZE bytes,
# from a connection of its own to nats-server $RAW_PORT; waits for the
# PONG. HFORM: value (X-Big: HSIZE bytes), spaces (X-Big: HSIZE spaces
# and one byte: the client library trims the spaces off the value) or
# broken (X-Big and HSIZE bytes, no ':': the headers do not parse)
flood_pub() {
	python3 - "$RAW_PORT" "$@" <<'PY' || fail "the flood"
import socket, sys
port, subj = int(sys.argv[1]), sys.argv[2].encode()
n, size, hn, hsize = [int(a) for a in (sys.argv[3:7] + ["0", "0"])[:4]]
form = sys.argv[7] if len(sys.argv) > 7 else "value"
s = socket.create_connection(("127.0.0.1", port), timeout=60)
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n')
body = b"f" * size
for i in range(n):
    s.sendall(b"PUB %s %d\r\n" % (subj, size) + body + b"\r\n")
line = {"value": b"X-Big: " + b"h" * hsize,
        "spaces": b"X-Big: " + b" " * hsize + b"h",
        "broken": b"X-Big " + b"h" * hsize}[form]
hdr = b"NATS/1.0\r\n" + line + b"\r\n\r\n"
for i in range(hn):
    s.sendall(b"HPUB %s %d %d\r\n" % (subj, len(hdr), len(hdr) + 2) +
              hdr + b"ok\r\n")
s.sendall(b"PING\r\n")
while f.readline().strip() != b"PONG":
    pass
PY
}

# wait_delivered SERVER N: waits until nats-server SERVER has written N
# messages to its one client connection that reads (mdpub's)
wait_delivered() {
	_i=0
	until monitor "$1" /connz | tr -d ' \n' >"$WORK/connz" &&
		grep -q "\"out_msgs\":$2," "$WORK/connz"; do
		_i=$((_i + 1)); [ $_i -le 1200 ] || fail "mdpub was not sent $2 messages: $(cat "$WORK/connz")"
		sleep 0.05
	done
}

# js_server SERVER STREAM STORAGE: nats-server SERVER with JetStream and
# monitoring, and the stream STREAM of the subjects mdbus.STREAM.> in
# STORAGE (file, memory); its port in $PORT and $RAW_PORT (raw_pub)
js_server() {
	nats_start "$1" -js -m -1
	PORT=$(nats_port "$1")
	RAW_PORT=$PORT
	_js="{\"name\":\"$2\",\"subjects\":[\"mdbus.$2.>\"],\"storage\":\"$3\"}"
	printf 'PUB $JS.API.STREAM.CREATE.%s _INBOX.mk %d\r\n%s\r\n' "$2" \
		${#_js} "$_js" >"$WORK/mk.proto"
	raw_pub "$WORK/mk.proto"
	stream_has "$1" '"streams":1,'
}

# flood_held SERVER N LIMIT WHY SUBJECT COUNT SIZE [HN HSIZE [HFORM]]:
# flood_pub SUBJECT COUNT SIZE [HN HSIZE [HFORM]] while mdpub $MP holds its channel back,
# waits until nats-server SERVER has written N messages to it in all, and
# fails saying WHY unless mdpub's memory grew by less than LIMIT MB (not
# judged under TSan, whose shadow memory grows with what is kept)
flood_held() {
	_srv=$1 _n=$2 _limit=$3 _why=$4
	shift 4
	_before=$(rss_kb "$MP")
	flood_pub "$@"
	wait_delivered "$_srv" "$_n"
	drained "$_srv" "$MP" # the client library's read loop: past the socket's buffers
	_grown=$((($(rss_kb "$MP") - _before) / 1024))
	_mb=$((($2 * $3 + ${4:-0} * ${5:-0}) / 1000000))
	echo "mdpub's memory grew by $_grown MB with a flood of $_mb MB"
	grep -q libtsan "/proc/$MP/maps" || [ "$_grown" -lt "$_limit" ] ||
		fail "a flood of $_mb MB held back grew mdpub by $_grown MB ($_why)"
}

# drained NAME PID: waits until process PID has read everything
# nats-server NAME sent it (the receive queues of PID's connections to
# the server's client port empty, /proc/net/tcp) and every thread of PID
# sleeps (settled): its client library's read loop is past the socket's
# buffers, having handled all of it. A fixed sleep of 0.5 s fell short on
# a loaded machine under TSan: the read loop, still reading a flood of
# 200 MB when the test let the channel read on, took in more than the
# pending limits hold while the channel made room (nats/core_flood.sh:
# 70 messages of 1 MB kept)
drained() {
	_hex=$(printf '%04X' "$(nats_port "$1")")
	_i=0
	until awk -v p=":$_hex" '$3 ~ p"$" && $4 == "01" {
		split($5, q, ":"); if (q[2] != "00000000") busy = 1 }
		END { exit busy }' /proc/net/tcp && settled "$2"; do
		_i=$((_i + 1)); [ $_i -le 1200 ] || fail "pid $2 did not read what $1 sent"
		sleep 0.05
	done
}

# settled PID: waits until every thread of process PID sleeps (state S,
# D or T), seen so three times 50 ms apart (a channel held by
# back-pressure wakes every millisecond to retry), 60 s at most: what a
# thread could still take (a message the client library holds) it has
# taken, or it would be running, or waiting for a CPU on a loaded machine
settled() {
	_i=0 _seen=0
	while [ $_seen -lt 3 ]; do
		if cat /proc/"$1"/task/*/stat 2>/dev/null | sed 's/.*) //' |
			awk '$1 == "R" { busy = 1 } END { exit busy || NR == 0 }'; then
			_seen=$((_seen + 1))
		else
			_seen=0
		fi
		_i=$((_i + 1)); [ $_i -le 1200 ] || fail "pid $1 never settled"
		sleep 0.05
	done
}

# stop_ms NAME: the milliseconds mdpub NAME took to stop by its own log
# ($WORK/NAME.log), from the signal's "...: stopping" to "mdpub stopped":
# its stop, without the time a loaded machine takes to deliver the signal
# and to end the process (a TSan build on a loaded machine took 1 s more
# than that by the clock around kill and wait)
stop_ms() {
	_from=$(sed -n 's/^\([^ ]*\) mdpub\[notice\]: [A-Za-z ]*: stopping$/\1/p' "$WORK/$1.log" | tail -n 1)
	_to=$(sed -n 's/^\([^ ]*\) mdpub\[notice\]: mdpub stopped.*/\1/p' "$WORK/$1.log" | tail -n 1)
	[ -n "$_from" ] && [ -n "$_to" ] || fail "$1: no stop logged: $(tail -n 3 "$WORK/$1.log")"
	echo $(($(date -u -d "$_to" +%s%3N) - $(date -u -d "$_from" +%s%3N)))
}

# rss_kb PID: its resident memory in kB
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# src_stat CHANNEL FIELD: FIELD of the channel's last source counter line
# in $WORK/CHANNEL.log
src_stat() {
	grep "channel $1: source nats: " "$WORK/$1.log" | tail -n 1 |
		tr ' ' '\n' | sed -n "/^$2\$/{n;p;}"
}

# same_market_data A B: fails unless the quotes and trades of two reader
# dumps are the same lines in the same order (status lines, which each
# mdpub also makes of its own, are left out)
same_market_data() {
	grep '^[QT] ' "$1" >"$1.qt"
	grep '^[QT] ' "$2" >"$2.qt"
	[ -s "$1.qt" ] || fail "$1: no quotes or trades"
	cmp -s "$1.qt" "$2.qt" ||
		fail "$(basename "$2"): $(wc -l <"$2.qt") quotes and trades, not the $(wc -l <"$1.qt") of $(basename "$1") in order: $(diff "$1.qt" "$2.qt" | head -n 5)"
}

# monitor NAME PATH: an HTTP GET of PATH on the monitoring port of
# nats-server NAME (started with -m -1), the body on stdout
monitor() {
	mp=$(sed -n 's/.*Starting http monitor on 127.0.0.1:\([0-9]*\)$/\1/p' \
		"$WORK/$1.nlog" | tail -n 1)
	bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\n\r\n" "$2" >&3
		cat <&3' _ "$mp" "$2" | sed '1,/^\r*$/d'
}

# forwarder_done PID LOG: stops mdsub --forward PID (SIGTERM), which
# must exit 0; its summary line ("mdsub: nats: N published, ...", in LOG)
# in $summary, and echoed
forwarder_done() {
	kill -TERM "$1"
	wait "$1" || fail "mdsub: $(cat "$2")"
	summary=$(grep 'nats: [0-9]* published' "$2")
	echo "$summary"
}

# fake_js NAME CONSUMER_JSON STREAM_JSON [DELAY [noinfo|create|gap]]: starts
# tests/nats/fake_js.py (its environment: FAKE_JS_*), waits for its port;
# its URL in $FURL, its count of message reads in $WORK/NAME.reads, its
# API requests in $WORK/NAME.reads.api, its stderr in $WORK/NAME.ferr
fake_js() {
	fn=$1
	shift
	python3 "$top_srcdir/tests/nats/fake_js.py" "$WORK/$fn.port" \
		"$WORK/$fn.reads" "$@" 2>"$WORK/$fn.ferr" &
	PIDS="$PIDS $!"
	wait_for test -s "$WORK/$fn.port"
	FURL=nats://127.0.0.1:$(cat "$WORK/$fn.port")
}

# dir_write_num DIR CHANNEL: messages published in CHANNEL of DIR so far
dir_write_num() {
	"$MDSUB" --dir "$1" --status "$2" 2>/dev/null |
		sed -n 's/^ *write_num: \([0-9]*\).*/\1/p' | head -n 1
}

# position PID CHANNEL: how far consumer PID has read in CHANNEL
position() {
	"$MDSUB" --status "$2" 2>/dev/null | awk -v p="$1" '$2 == p { print $5 }'
}

# forwarding PID CHANNEL: waits until mdsub PID (connected) forwards
forwarding() {
	i=0
	until [ "$(position "$1" "$2")" -gt 0 ] 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "mdsub does not forward $2"
		sleep 0.1
	done
}

# read_all PID CHANNEL: waits until mdsub PID has read every message of
# CHANNEL, whose publisher stopped; their number in $sent
read_all() {
	sent=$(dir_write_num "$MDBUS_DIR" "$2")
	i=0
	until [ "$(position "$1" "$2")" = "$sent" ]; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "mdsub did not read the $sent messages: $("$MDSUB" --status "$2")"
		sleep 0.1
	done
}

# free_ports N: N loopback TCP ports that nothing listens on or uses now
# (from /proc/net/tcp*), random in 20000..59999, one a line
free_ports() {
	used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk 'NR > 1 { split($2, a, ":"); print a[2] }')
	got=0
	chosen=
	seed=$$
	while [ "$got" -lt "$1" ]; do
		seed=$(((seed * 1103515245 + 12345) % 2147483648))
		p=$((20000 + seed % 40000))
		hex=$(printf '%04X' "$p")
		case " $(echo $used) $chosen " in *" $hex "*) continue ;; esac
		chosen="$chosen $hex"
		echo "$p"
		got=$((got + 1))
	done
}

# run_channel NAME: mdpub -c $WORK/NAME.conf (made by channel), once it
# publishes channel NAME; its pid in $PID
run_channel() {
	start "$1" -c "$WORK/$1.conf"
	wait_log "$1" "channel $1: publishing from"
}

# dump_channel NAME: the test reader dumps channel NAME into $WORK/NAME.out
# until its publisher stops, in the background; its pid in $RPID
dump_channel() {
	"$READER" --until down --dump --timeout 60 "$1" >"$WORK/$1.out" &
	RPID=$!
}
