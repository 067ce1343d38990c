#!/bin/sh
# --linger=SEC ends at SIGINT or SIGTERM (mdsub(1), --linger): a forwarder
# lingering at the end of its run (-u) stops at the first signal, one
# stopped by a signal at the second, each with its retransmission counts.
# Before, the linger ignored every signal: --linger=1e9, which --help
# accepts, left a forwarder only SIGKILL could stop.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub feed 10
fwd=
trap 'kill -KILL $fwd 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT

# gone PID: within 3 s
gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 60 ] || return 1
		sleep 0.05
	done
}

# forwarder OPTIONS: a forwarder lingering 60 s, answering re-requests
forwarder() {
	: >"$WORK/fwd.err"
	"$MDSUB" --forward udp://127.0.0.1:9 --from oldest "$@" \
		--retransmit=127.0.0.1:0 --linger=60 feed 2>"$WORK/fwd.err" &
	fwd=$!
	rtx_port "$WORK/fwd.err" >/dev/null
}

# ends SIGNAL WHAT: the forwarder lingers; SIGNAL ends it with its counts
ends() {
	sleep 0.5
	kill -0 $fwd 2>/dev/null || fail "did not linger: $(cat "$WORK/fwd.err")"
	kill "-$1" $fwd
	gone $fwd || fail "still lingering 3 s after $2"
	wait $fwd
	grep -q 'retransmission: 0 requests served' "$WORK/fwd.err" ||
		fail "no counts: $(cat "$WORK/fwd.err")"
}

# 1. caught up (-u): one SIGTERM ends the linger
forwarder -u
ends TERM SIGTERM

# 2. stopped by SIGINT, it lingers; a second SIGINT ends it
forwarder
kill -INT $fwd
ends INT "a second SIGINT"
exit 0
