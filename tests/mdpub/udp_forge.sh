#!/bin/sh
# Forged MoldUDP64 packets against a real feed on loopback: a synthetic
# channel relayed by `mdsub --forward` to mdpub's udp source while
# mdpub/udpsend sends forged packets to the same socket. In every run the
# real messages all arrive, in order (the reader checks continuity and
# the synthetic invariants), the same as the source's (checksum), none
# lost and no gap counted, and each forged packet is counted exactly:
#   1. the session known (--session), no retransmission, `sender =
#      127.0.0.1` (no port: the forger's address too): three packets
#      ahead within jump_window and two of another session: discarded 3
#      (each overtaken by the real stream), session 2;
#   2. the same with retransmission: the three are refuted by the server
#      or overtaken (refuted + discarded = 3), and nothing is lost;
#   3. the forwarder sending from 127.0.0.1:P (--bind) and `sender =
#      127.0.0.1:P`: forged packets from 127.0.0.2 and from 127.0.0.1 (any
#      other port) at sequence numbers all over the stream (the current
#      one among them), and of another session: every one counted as
#      sender, none taken.
# Then the forwarder's default session name is ten random letters and
# digits, not the clock's; and 6000 forged heartbeats ahead hold 4096 and
# discard 1904, exactly. Every run names session or sender (mdpub
# refuses a udp channel with neither: udp.sh).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }
UDPSEND=$top_builddir/tests/mdpub/udpsend
N=3000
RELAYED=$((N + 2)) # src's FEED_UP, N messages, its FEED_DOWN
msg 9 FORGED >"$WORK/fm"

# forged NAME SESSION SEQ...: makes one forged packet per SEQ, before
# the run that sends them (mold forks a shell per byte: made while the
# real stream runs, those ahead of it could come after it on a loaded
# machine)
forged() {
	name=$1
	session=$2
	shift 2
	for seq in "$@"; do
		mold "$WORK/forged.$name.$seq" "$session" "$seq" 1 "$WORK/fm"
	done
}

# forge NAME [-b ADDR] SEQ...: sends the forged packets of NAME
forge() {
	name=$1
	shift
	from=
	[ "$1" != -b ] || { from="-b $2"; shift 2; }
	for seq in "$@"; do
		"$UDPSEND" $from 127.0.0.1 "$PORT" "$WORK/forged.$name.$seq" ||
			fail "udpsend"
	done
}

# relay NAME FWD-OPTIONS -- DST-SETTINGS: starts dst ($PID, $PORT), the
# reader ($READ) and the forwarder ($FWD); the caller starts src with
# start_src once it has what it needs
relay() {
	run=$1
	shift
	fwd_opts=
	while [ "$1" != -- ]; do fwd_opts="$fwd_opts $1"; shift; done
	shift
	rm -rf "${MDBUS_DIR:?}"/*
	channel "dst$run.conf" dst source=udp listen=127.0.0.1:0 \
		rcvbuf=4194304 timestamps=sender
	for kv in "$@"; do
		[ -z "${kv#*=}" ] || printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$WORK/dst$run.conf"
	done
	channel "src$run.conf" src source=synthetic rate=2000 "count=$N" seed=3
	start "dst$run" -c "$WORK/dst$run.conf"
	PORT=$(port_of "dst$run")
	wait_log "dst$run" "publishing from sequence"
	"$READER" --until $((RELAYED + 1)) --timeout 60 --synthetic --dump dst \
		>"$WORK/dst$run.out" 2>"$WORK/dstread$run.log" &
	READ=$!
	PIDS="$PIDS $READ"
	"$MDSUB" --wait-for-channel --from oldest -n $RELAYED \
		--forward "udp://127.0.0.1:$PORT" $fwd_opts src \
		>"$WORK/fwd$run.log" 2>&1 &
	FWD=$!
	PIDS="$PIDS $FWD"
	sleep 0.2
	"$MDPUB" -c "$WORK/src$run.conf" >"$WORK/src$run.log" 2>&1 &
	SRC=$!
	PIDS="$PIDS $SRC"
}

# check NAME COUNTERS: every real message arrived, none lost, and the
# udp source's counters are COUNTERS (a pattern)
check() {
	wait "$READ" || fail "dst reader: $(cat "$WORK/dstread$1.log")"
	wait "$SRC" || fail "src mdpub exited $?"
	wait "$FWD" || fail "mdsub --forward exited $?: $(cat "$WORK/fwd$1.log")"
	# USR1 until the counters show every message: the channel's thread
	# counts a message just after it is published, so a log made as the
	# reader ends may be one behind ("in 3002 out 3001", once in CI)
	i=0
	until grep -q "channel dst: in $RELAYED out $RELAYED malformed 0 gaps 0 (lost 0) " \
		"$WORK/dst$1.log"; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "run $1: dst counted $(grep 'channel dst: in ' "$WORK/dst$1.log" | tail -n 1)"
		kill -USR1 "$PID"
		sleep 0.3
	done
	grep "channel dst: \(in\|source\)" "$WORK/dst$1.log" | tail -n 2
	wait_log "dst$1" "channel dst: source udp: $2\$"
	stop "$PID"
	status 0 "$READER" --until down --dump src >"$WORK/src$1.out"
	grep '^[QTS]' "$WORK/src$1.out" | cksum >"$WORK/want.sum"
	grep '^[QTS]' "$WORK/dst$1.out" | tail -n +2 | cksum >"$WORK/got.sum"
	cmp -s "$WORK/want.sum" "$WORK/got.sum" || fail "run $1: messages differ from the source's"
	grep -q ' lost 0$' "$WORK/dst$1.out" || fail "run $1: the reader lost messages"
	grep -q FORGED "$WORK/dst$1.out" && fail "run $1: a forged message was published"
	echo "run $1: $RELAYED messages, checksum $(cat "$WORK/got.sum")"
}

# 1. ahead within the window and another session, no retransmission
AHEAD="$((N - 1000)) $((N - 500)) $((N - 10))"
forged ahead FEED $AHEAD
forged other OTHER 1 2
relay 1 --session=FEED -- sender=127.0.0.1
wait_log dst1 "channel dst: session 'FEED      '"
forge ahead $AHEAD
forge other 1 2
check 1 "duplicate 0 session 2 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 3 refuted 0 overflow 0"
grep -q "packet of session 'OTHER     ' while 'FEED      ' is not ended: held until 3 packets continue it" \
	"$WORK/dst1.log" || fail "run 1: the other session's packet not logged"

# 2. the same with retransmission: the server says what it has sent
RTX_PORT=$((30000 + $$ % 20000))
relay 2 --session=FEED --retransmit=127.0.0.1:$RTX_PORT --linger=1 -- \
	sender=127.0.0.1 "retransmit=127.0.0.1:$RTX_PORT"
wait_log dst2 "channel dst: session 'FEED      '"
forge ahead $AHEAD
check 2 "duplicate [0-9]* session 0 malformed 0 jump 0 adopted 0 jumped 0 requests [0-9]* recovered [0-9]* sender 0 discarded [0-3] refuted [0-3] overflow 0"
set -- $(sed -n 's/.* discarded \([0-9]*\) refuted \([0-9]*\) overflow 0$/\1 \2/p' "$WORK/dst2.log" | tail -n 1)
[ $(($1 + $2)) = 3 ] || fail "run 2: discarded $1 + refuted $2 is not 3"
grep -q "0 refused (allow 0," "$WORK/fwd2.log" || fail "run 2: requests refused: $(cat "$WORK/fwd2.log")"

# 3. sender: forged packets from 127.0.0.2 and 127.0.0.1, at numbers all
# over the stream, of the session and another
BIND_PORT=$((RTX_PORT + 1))
relay 3 --session=FEED --bind=127.0.0.1:$BIND_PORT -- \
	"sender=127.0.0.1:$BIND_PORT"
wait_log dst3 "channel dst: session 'FEED      '"
forged 3 FEED 1 2 3 $(seq 100 100 $N)
forged 3o OTHER 1 2 3 4 5
forged 3b FEED $(seq 50 100 $N)
forge 3 -b 127.0.0.2 1 2 3 $(seq 100 100 $N)
forge 3o -b 127.0.0.2 1 2 3 4 5
forge 3b $(seq 50 100 $N)
check 3 "duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender $((3 + N / 100 + 5 + N / 100)) discarded 0 refuted 0 overflow 0"

# the default session name: ten random letters and digits (the forwarder
# sends from 127.0.0.1, the forged packets of the runs before too)
relay 4 -- sender=127.0.0.1
check 4 "duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow 0"
name=$(sed -n "s/.*channel dst: session '\(.*\)'$/\1/p" "$WORK/dst4.log")
echo "session: '$name'"
echo "$name" | grep -qx '[A-Za-z0-9]\{10\}' || fail "session '$name' is not 10 letters and digits"
echo "$name" | grep -qx '[0-9]*' && fail "session '$name' is digits only (the clock?)"

# 5. a flood of forged heartbeats ahead (the session known): at most 4096
# are held, each further one is discarded at once (before, all 6000 were
# held and each walked the others: quadratic). Paced, into a large
# receive buffer, so that the kernel drops none (TSan's mdpub is slow)
command -v python3 >/dev/null || { echo "SKIP part 5: no python3"; exit 0; }
rm -rf "${MDBUS_DIR:?}"/*
channel dst5.conf dst source=udp listen=127.0.0.1:0 session=FLOOD \
	rcvbuf=4194304
start dst5 -c "$WORK/dst5.conf"
PORT=$(port_of dst5)
wait_log dst5 "publishing from sequence"
python3 - "$PORT" <<'PY' || fail "flood"
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
to = ("127.0.0.1", int(sys.argv[1]))
def pkt(seq, count, blocks=()):
    p = b"FLOOD     " + struct.pack(">QH", seq, count)
    return p + b"".join(struct.pack(">H", len(b)) + b for b in blocks)
s.sendto(pkt(1, 0), to)  # the session, next expected 1
time.sleep(0.2)
for i in range(6000):
    s.sendto(pkt(100 + 2 * i, 0), to)
    if i % 50 == 0:  # 5000 a second: a sanitizer build keeps up
        time.sleep(0.01)
PY
check_flood() {
	kill -USR1 "$PID" && sleep 0.1 &&
		grep -q "source udp: .* discarded 1904 refuted 0 overflow 0$" "$WORK/dst5.log"
}
i=0
until check_flood; do
	i=$((i + 1))
	[ $i -le 600 ] || fail "flood: $(grep 'source udp' "$WORK/dst5.log" | tail -n 1)"
done
stop "$PID"
exit 0
