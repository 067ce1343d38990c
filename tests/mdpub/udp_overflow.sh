#!/bin/sh
# Datagrams the kernel drops on the udp source's socket (its receive
# queue full) are counted exactly as `overflow` and logged naming the
# fix: mdpub is stopped (SIGSTOP) with a small rcvbuf while 200 one-
# message packets are sent, so that the kernel keeps the first few and
# drops the rest; after SIGCONT, a packet past them and the three that
# continue it confirm the gap. The count equals the datagrams sent less the messages
# published, the gap's loss and what the reader counts lost.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
UDPSEND=$top_builddir/tests/mdpub/udpsend

# packet SEQ: $WORK/p.SEQ, one message that the reader's dump tells
# from every other's: "M TYPE SIZE" as the line `want` prints
want() { echo "M $((10 + $1 / 50)) $((1 + $1 % 50))"; }
packet() {
	msg $((10 + $1 / 50)) "$(printf "%$((1 + $1 % 50))s" "")" >"$WORK/m.$1"
	mold "$WORK/p.$1" FEED "$1" 1 "$WORK/m.$1"
}
for seq in $(seq 1 205); do packet "$seq"; done

channel ovf.conf ovf source=udp listen=127.0.0.1:0 session=FEED \
	rcvbuf=4096
receive ovf
"$UDPSEND" 127.0.0.1 "$PORT" "$WORK/p.1" || fail "udpsend 1"
counted ovf "channel ovf: in 1 out 1 "

kill -STOP "$PID" || fail "SIGSTOP"
for seq in $(seq 2 201); do echo "$WORK/p.$seq"; done >"$WORK/list"
# shellcheck disable=SC2046 # one file name a word
"$UDPSEND" 127.0.0.1 "$PORT" $(cat "$WORK/list") || fail "udpsend 2-201"
kill -CONT "$PID" || fail "SIGCONT"
# what the kernel kept read before the stream goes on: the socket's
# receive queue empty (/proc/net/udp: local address, then tx:rx queues)
drained() {
	awk -v port="$(printf '%04X' "$PORT")" \
		'$2 ~ ":" port "$" && $5 ~ ":00000000$" { ok = 1 } END { exit !ok }' \
		/proc/net/udp
}
wait_for drained
"$UDPSEND" 127.0.0.1 "$PORT" "$WORK/p.202" "$WORK/p.203" "$WORK/p.204" \
	"$WORK/p.205" || fail "udpsend 202-205"
wait_log ovf "channel ovf: gap: messages"

# counters: kept = messages taken from 2-201; dropped = 200 - kept
counted ovf "channel ovf: source udp: .* overflow [0-9]*$"
kill -USR1 "$PID"
sleep 0.2
dropped=$(grep "channel ovf: source udp: " "$WORK/ovf.log" | tail -n 1 |
	sed 's/.* overflow //')
in=$(stats ovf ovf in)
[ "$dropped" -gt 0 ] ||
	fail "the kernel dropped nothing: rcvbuf too large for this test"
[ $((in + dropped)) = 205 ] ||
	fail "in $in + overflow $dropped is not the 205 datagrams sent"
counted ovf "channel ovf: in $in out $in malformed 0 gaps 1 (lost $dropped) "
counted ovf "channel ovf: source udp: duplicate 0 session 0 malformed 0 jump 0 adopted 0 jumped 0 requests 0 recovered 0 sender 0 discarded 0 refuted 0 overflow $dropped$"
n=$(grep -c "channel ovf: the kernel dropped $dropped datagrams, most often because the socket's receive queue was full ([0-9]* bytes): raise rcvbuf, or mdpub fell behind its feed$" "$WORK/ovf.log")
[ "$n" = 1 ] || fail "the drops logged $n times, not once"
stop "$PID"

# the reader: every message kept, in order, the dropped ones lost
kept=$((in - 5))
wait "$READ" || fail "reader"
grep '^M' "$WORK/ovf.out" >"$WORK/got"
for seq in 1 $(seq 2 $((kept + 1))) 202 203 204 205; do want "$seq"; done \
	>"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages"
grep -q " lost $dropped\$" "$WORK/ovf.out" ||
	fail "the reader does not see the $dropped lost: $(grep ' lost ' "$WORK/ovf.out")"
exit 0
