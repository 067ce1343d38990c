#!/bin/sh
# --retransmit across a replacement of the segment forwarded. The
# re-request server reads messages older than its store back only from
# the segment the session's messages came from (the forwarder's reader's
# epoch), while the channel's name holds it:
# 1. the forwarder reattaches to the new segment in a new session: a
#    re-request of that session for a number no longer in the store
#    (--retransmit-depth=10) is read back from the new segment, also with
#    the reader an earlier request of the first session left open there.
#    Before, the server kept the epoch the name held at start: every such
#    request was refused for the rest of the run;
# 2. the segment is replaced between the forwarder's open and the start
#    of its server (mdsub/open_hook.c runs the replacement there), and
#    while the forwarder's session is still the first segment's (the hook
#    holds the reattach 15 s; SIGTERM ends the hold), a re-request of that session is not
#    answered from the segment the name holds. Before, it was: another
#    segment's message under the first session's number.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
REQ=$top_builddir/tests/mdsub/requester
HOOK=$top_builddir/tests/mdsub/.libs/open_hook.so
[ -f "$HOOK" ] || { echo "SKIP: $HOOK not built"; exit 77; }
fwd=
sink=
trap 'kill -KILL $fwd $sink 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT

# sink NAME: a receiver on 127.0.0.1 ($sink), its port in $WORK/NAME.port;
# one line "SESSION SEQ COUNT" a packet into $WORK/NAME.pkts
start_sink() {
	python3 - "$WORK/$1.port" "$WORK/$1.pkts" <<'PY' &
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(120)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
with open(sys.argv[2], "w", buffering=1) as out:
    while True:
        d = s.recv(65536)
        seq, count = struct.unpack(">QH", d[10:20])
        out.write("%s %d %d\n" % (d[:10].decode("ascii", "replace"), seq, count))
PY
	sink=$!
	wait_for test -s "$WORK/$1.port"
}

# reached NAME SESSION N: the sink saw messages of SESSION up to number N
reached() {
	awk -v s="$2" -v n="$3" '$1 == s && $3 != 0 && $3 != 65535 &&
		$2 + $3 - 1 >= n { ok = 1 } END { exit !ok }' "$WORK/$1.pkts"
}

# forward NAME [VAR=VALUE...]: mdsub (with those in its environment)
# forwards channel NAME to its sink in session FIRST, keeping the last
# 10 messages, as $fwd, its stderr in $WORK/NAME.err, its re-request
# server's port in $port
forward() {
	name=$1
	shift
	env "$@" "$MDSUB" --forward "udp://127.0.0.1:$(cat "$WORK/$name.port")" \
		--from oldest --session FIRST --retransmit=127.0.0.1:0 \
		--retransmit-depth=10 --batch-bytes=200 --linger=0 "$name" \
		2>"$WORK/$name.err" &
	fwd=$!
	port=$(rtx_port "$WORK/$name.err")
}

# field NAME: the number after NAME in $out
field() { echo "$out" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }

# 1. reattached: the new session's older numbers come from the new segment
pub one 40 -t
start_sink one
forward one
wait_for reached one FIRST 40
out=$("$REQ" "$port" FIRST 1 1 1) || fail "requester: $out"
[ "$(field answers)" = 1 ] || fail "the first session's number 1: $out"
pub one 60 -t -R -g 16:4
wait_for sh -c "awk '\$1 != \"FIRST\" && \$2 + \$3 - 1 >= 60' '$WORK/one.pkts' | grep -q ."
second=$(awk '$1 != "FIRST" { print $1; exit }' "$WORK/one.pkts")
out=$("$REQ" "$port" "$second" 1 1 1) || fail "requester: $out"
[ "$(field answers)" = 1 ] && [ "$(field messages)" = 1 ] ||
	fail "the new session's number 1, read back after the reattach: $out ($(cat "$WORK/one.err"))"
kill -TERM $fwd
wait $fwd || fail "mdsub exited $?: $(cat "$WORK/one.err")"
kill $sink

# 2. replaced before the server started: the first session's numbers are
# not read back from the new segment
pub two 40 -t
start_sink two
forward two LD_PRELOAD="$HOOK" HOOK_REOPEN_S=15 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	HOOK_AFTER_OPEN="'$TOOL' pub two 60 -t -R -g 16:4"
# (its last batch waits for the held reattach: not to 40)
wait_for reached two FIRST 20
out=$("$REQ" "$port" FIRST 1 1 1) || fail "requester: $out"
[ "$(field answers)" = 0 ] ||
	fail "the first session's number 1 answered from the segment that replaced it: $out"
kill -TERM $fwd
wait $fwd || fail "mdsub exited $?: $(cat "$WORK/two.err")"
# refused as out of range, not as another session's: the request came
# while the first session was current
grep -q "retransmission: 0 requests served .* (allow 0, rate 0, session 0, malformed 0), 1 out of range" \
	"$WORK/two.err" || fail "summary: $(cat "$WORK/two.err")"
exit 0
