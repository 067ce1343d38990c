#!/bin/sh
# The NATS bridge's benchmark (not a test; `make bench`, section nats):
# host A's channel -> mdsub --forward nats:// -> nats-server -> mdpub's
# nats source -> host B's channel, on loopback, core NATS and a JetStream
# stream (file storage, one replica). Throughput: BENCH_NATS_MESSAGES
# (default 200000) synthetic messages as fast as they go, every channel
# lossless, from the forwarder's start to the last one read on B.
# One-way latency: 10 000 messages a second for 3 s, B publishing with
# the sender's timestamps, read by mdsub --summary on B: A's publish to
# B's read. Skipped with the reason when nats-server or libnats is absent.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
N=${BENCH_NATS_MESSAGES:-200000}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
nats_start n1 -js
URL=nats://127.0.0.1:$(nats_port n1)
echo "nats: mdsub --forward -> nats-server $("$NATS_SERVER" --version | sed 's/.* v//') -> mdpub source nats, loopback"

# relay NAME LABEL RATE COUNT STREAM-ARGS...: one A -> B run; sets T_MS
relay() {
	rn=$1 label=$2 rate=$3 count=$4
	shift 4
	mkdir -p "$MDBUS_DIR/$rn.a" "$MDBUS_DIR/$rn.b"
	channel "$rn.a.conf" src source=synthetic "rate=$rate" "count=$count" \
		mode=lossless "dir=$MDBUS_DIR/$rn.a"
	if [ $# -gt 0 ]; then
		channel "$rn.b.conf" dst source=nats "url=$URL" "subject=$rn.src.>" \
			"stream=$rn" "durable=$rn" mode=lossless timestamps=sender \
			"dir=$MDBUS_DIR/$rn.b"
	else
		channel "$rn.b.conf" dst source=nats "url=$URL" "subject=$rn.src.>" \
			mode=lossless timestamps=sender "dir=$MDBUS_DIR/$rn.b"
	fi
	channel "$rn.a0.conf" src source=synthetic rate=0 count=1 mode=lossless \
		"dir=$MDBUS_DIR/$rn.a"
	status 0 "$MDPUB" -c "$WORK/$rn.a0.conf" 2>/dev/null
	if [ $# -gt 0 ]; then # make the stream before B binds to it
		"$MDSUB" --dir "$MDBUS_DIR/$rn.a" -t 999 -d 0.1 --forward "$URL" \
			--nats-prefix "$rn" "$@" src >/dev/null 2>&1 || fail "stream $rn"
	fi
	start "$rn.b" -c "$WORK/$rn.b.conf"
	B=$PID
	wait_log "$rn.b" "channel dst: publishing from"
	"$MDSUB" --dir "$MDBUS_DIR/$rn.b" -q --summary -t quote,trade -n "$count" \
		-d 120 dst 2>"$WORK/$rn.sum" &
	S=$!
	sleep 0.2
	t0=$(now_ms)
	"$MDSUB" --dir "$MDBUS_DIR/$rn.a" --from latest --forward "$URL" \
		--nats-prefix "$rn" "$@" src >"$WORK/$rn.fwd" 2>&1 &
	F=$!
	PIDS="$PIDS $F"
	sleep 0.2
	start "$rn.a" -c "$WORK/$rn.a.conf"
	wait "$S"
	T_MS=$(($(now_ms) - t0 - 200))
	wait "$PID"
	kill -TERM "$F"
	wait "$F"
	stop "$B"
	got=$(sed -n 's/^dst: \([0-9]*\) messages.*/\1/p' "$WORK/$rn.sum")
	[ "${got:-0}" -eq "$count" ] || fail "$label: $got of $count: $(cat "$WORK/$rn.sum" "$WORK/$rn.fwd")"
}

tp() { # tp NAME LABEL STREAM-ARGS...
	n=$1 l=$2
	shift 2
	relay "$n" "$l" 0 "$N" "$@"
	printf '%-34s %10s msgs %6s ms %12s msgs/s\n' "$l, throughput" "$N" \
		"$T_MS" $((N * 1000 / (T_MS > 0 ? T_MS : 1)))
}

lat() { # lat NAME LABEL STREAM-ARGS...
	n=$1 l=$2
	shift 2
	relay "$n" "$l" 10000 30000 "$@"
	printf '%-34s %s\n' "$l, one-way" \
		"$(sed -n 's/.*\(latency p50 .*\)/\1/p' "$WORK/$n.sum")"
}

tp core "core NATS"
tp js "JetStream file R1" --nats-stream js
lat corel "core NATS"
lat jsl "JetStream file R1" --nats-stream jsl
exit 0
