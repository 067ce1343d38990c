#!/bin/sh
# mdsub --forward --retransmit answers only numbers it forwarded in the
# session, also from its archive hook (clients/rtx_archive.c,
# doc/protocol.md "Retransmission"): the hook reads the channel, which
# holds more than the forwarder sent. A finished channel of synthetic
# quotes and trades of 8 symbols, in its archive and its ring:
# 1. forwarded from sequence FROM with --symbol SYM001 (store of 10): a
#    request for a number the filter dropped gets no message (it got the
#    next 20 of the channel, of every symbol), one for a number before
#    the session's first (1; and SYM001's last before FROM) gets none
#    (they got 20 from before the forwarder started), one for the first
#    forwarded gets it and the SYM001 ones right after it, up to the
#    first dropped one; the counts say which was which.
# 2. the same with --exclude SYM001 (the text form, rendered in the
#    server's thread).
# 3. forwarded from 0 without a filter, -n 500: a request for a number
#    older than the store whose count runs past the last sent (500) gets
#    the numbers up to 500 only (it got 20, up to 509).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }
REQ=$top_builddir/tests/mdsub/requester
AR=$WORK/ar
FROM=1000
# the receiver's buffer holds a forwarder's whole run (up to 2000
# messages sent at full speed) through its stalls on a loaded box: the
# last of them, what forwarder() waits for, is not dropped
export TESTTOOL_RCVBUF=8388608

# field NAME: the number after NAME in $out
field() { echo "$out" | sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }
# ask SEQ COUNT ANSWERS MESSAGES: one request, its answers and messages
ask() {
	out=$("$REQ" "$port" FILT "$1" "$2" 1) || fail "requester: $out"
	[ "$(field answers)" = "$3" ] && [ "$(field messages)" = "$4" ] ||
		fail "$what: $1 + $2: $out, want answers $3 messages $4"
}
# summary SERVED MESSAGES OUT BEFORE FILTERED ARCHIVE: the server's counts
summary() {
	line="retransmission: $1 requests served ($2 messages), 0 refused (allow 0, rate 0, session 0, malformed 0), $3 out of range (before the session $4, filtered out $5), $6 read from the archive "
	grep -qF "$line" "$WORK/fwd.err" ||
		fail "$what: summary: $(cat "$WORK/fwd.err"), want $line"
}

channel fi.conf fi source=synthetic rate=0 count=3000 mode=lossless \
	slots_per_block=256 block_count=4 archive="$AR"
status 0 "$MDPUB" -c "$WORK/fi.conf" 2>"$WORK/fi.log"
# seq symbol, of every message
"$MDSUB" --from 0 -u -o csv --no-header fi | cut -d, -f2,5 | tr , ' ' \
	>"$WORK/all" || fail "mdsub --from 0"
[ "$(wc -l <"$WORK/all")" -gt 3000 ] || fail "$(wc -l <"$WORK/all") messages"

# forwarder FROM LINGER LAST OPTION...: forwards fi from FROM with
# OPTIONs (a filter, -n) and --linger=LINGER to a receiver ($receiver)
# and waits until that has message LAST (a sequence), the last one it
# will send; $port: its server's. A loaded machine can take seconds to
# get there: a request for a number not yet sent is out of range.
forwarder() {
	from=$1 linger=$2 lastseq=$3
	shift 3
	rm -f "$WORK/port"
	udp_receiver fi
	# emptied first: the last forwarder's port, still in it until the
	# shell opens it for this one, is closed (requests there get nothing)
	: >"$WORK/fwd.err"
	"$MDSUB" --forward "udp://127.0.0.1:$(cat "$WORK/port")" --from "$from" \
		"$@" --session FILT --retransmit=127.0.0.1:0 --retransmit-depth=10 \
		--linger="$linger" fi 2>"$WORK/fwd.err" &
	fwd=$!
	PIDS="$PIDS $fwd"
	port=$(rtx_port "$WORK/fwd.err")
	i=0
	until grep -q "^fi $lastseq " "$WORK/udp"; do
		i=$((i + 1))
		[ $i -lt 1200 ] || fail "message $lastseq not forwarded: $(tail -n 1 "$WORK/udp")"
		sleep 0.05
	done
}

# filtered FROM PASS FILTER...: parts 1 and 2; PASS: an awk test of a
# symbol ($2) that the filter passes
filtered() {
	from=$1 pass=$2
	shift 2
	what="$*"
	awk "\$1 >= $from && ($pass) { print \$1 + 1 }" "$WORK/all" >"$WORK/sent"
	first=$(head -n 1 "$WORK/sent")
	last=$(tail -n 1 "$WORK/sent")
	# the first dropped after the first sent; the last passed before FROM
	dropped=$(awk "\$1 >= $first && !($pass) { print \$1 + 1; exit }" "$WORK/all")
	older=$(awk "\$1 < $from && ($pass) { n = \$1 + 1 } END { print n + 0 }" "$WORK/all")
	# the run of passed numbers from the first sent, 20 at most
	run=$(awk -v f="$first" 'NR == 1 || $1 == p + 1 { n++; p = $1; if (n < 20) next } { exit } END { print n }' "$WORK/sent")
	[ "$dropped" -gt "$first" ] && [ "$run" -ge 1 ] ||
		fail "$what: first $first dropped $dropped run $run"
	forwarder "$from" 0 $((last - 1)) "$@"
	ask "$last" 20 1 1         # the store
	ask "$dropped" 20 0 0      # dropped: read, nothing passes
	ask 1 20 0 0               # before the session
	[ "$older" -eq 0 ] || ask "$older" 20 0 0
	ask "$first" 20 1 "$run"   # read, up to the first dropped
	kill -TERM $fwd
	wait $fwd || fail "$what: mdsub exited $?: $(cat "$WORK/fwd.err")"
	wait $receiver || fail "$what: receiver"
	if [ "$older" -eq 0 ]; then
		summary 2 $((1 + run)) 2 1 1 2
	else
		summary 2 $((1 + run)) 3 2 1 2
	fi
	echo "$what from $from: $dropped dropped, 1 and $older before the session: no answer; $first: $run messages"
}

filtered $FROM '$2 == "SYM001"' --symbol SYM001
filtered $FROM '$2 != "SYM001"' --exclude SYM001

# 3. unfiltered, -n 500: the numbers up to 500 only (store: 491 .. 500)
what="-n 500"
forwarder 0 3 499 -n 500 # answering for 3 s after the 500th
ask 490 20 1 11
ask 481 5 1 5
wait $fwd || fail "$what: mdsub exited $?: $(cat "$WORK/fwd.err")"
wait $receiver || fail "$what: receiver"
summary 2 16 0 0 0 2
echo "-n 500: 490 + 20 answered up to 500 (11 messages)"
exit 0
