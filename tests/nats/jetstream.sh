#!/bin/sh
# The bridge through a JetStream stream on one nats-server: mdsub makes
# the stream with the retention asked for; mdpub's nats source reads it
# through a durable consumer, is stopped mid-stream and started again, and
# every message arrives once and in order (the durable resumes where it
# stopped, the ring where it stopped). Then a slow broker (nats-server
# stopped by SIGSTOP for a second): with --nats-full=skip the forwarder
# skips messages and the receiver counts exactly that many lost, with
# --nats-full=wait nothing is lost.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }

nats_start n1 -js -m -1
URL=nats://127.0.0.1:$(nats_port n1)

channel src.conf src source=synthetic rate=10000 count=20000 mode=lossless
channel dst.conf dst source=nats "url=$URL" 'subject=mdbus.src.>' stream=S \
	durable=D mode=lossless
start src -c "$WORK/src.conf"
SRC=$PID
wait_log src "channel src: publishing from"
"$READER" --until down --dump src >"$WORK/src.out" &
RS=$!
"$MDSUB" --from oldest --forward "$URL" --nats-stream S \
	--nats-max-age 3600 --nats-max-msgs 1000000 --nats-max-bytes 500000000 \
	src >"$WORK/fwd.log" 2>&1 &
FWD=$!
PIDS="$PIDS $FWD"
i=0
until grep -q "stream S created, subject mdbus.src.>" "$WORK/fwd.log"; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "no stream: $(cat "$WORK/fwd.log")"
	sleep 0.05
done
monitor n1 '/jsz?streams=1&config=1' | tr -d ' \n' >"$WORK/jsz"
for kv in '"max_age":3600000000000' '"max_msgs":1000000' '"max_bytes":500000000' \
	'"duplicate_window":120000000000' '"storage":"file"' '"num_replicas":1'; do
	grep -q "$kv" "$WORK/jsz" || fail "stream config without $kv: $(cat "$WORK/jsz")"
done

# dst, stopped once it has a few thousand, then started again
start dst -c "$WORK/dst.conf"
DST=$PID
i=0
while w=$(dir_write_num "$MDBUS_DIR" dst); [ "${w:-0}" -lt 2000 ]; do
	i=$((i + 1)); [ $i -le 3000 ] || fail "dst does not fill"
	sleep 0.02
done
stop "$DST"
first=$(dir_write_num "$MDBUS_DIR" dst)
mv "$WORK/dst.log" "$WORK/dst1.log"
start dst -c "$WORK/dst.conf"
DST=$PID
wait "$RS" || fail "reader of src"
wait "$SRC"
want=$(grep -c '^[QT] ' "$WORK/src.out")
[ "$want" -eq 20000 ] || fail "src made $want, not 20000"
i=0
while :; do
	"$READER" --until caught-up --dump dst >"$WORK/dst.out" 2>/dev/null
	[ "$(grep -c '^[QT] ' "$WORK/dst.out")" -ge "$want" ] && break
	i=$((i + 1)); [ $i -le 300 ] || fail "dst has $(grep -c '^[QT] ' "$WORK/dst.out") of $want"
	sleep 0.2
done
kill -TERM "$FWD"
wait "$FWD" || fail "mdsub --forward: $(cat "$WORK/fwd.log")"
sleep 0.3
stop "$DST"
"$READER" --until caught-up --dump dst >"$WORK/dst.out" || fail "dst reader"
same_market_data "$WORK/src.out" "$WORK/dst.out"
[ "$first" -gt 2000 ] && [ "$first" -lt 20000 ] ||
	fail "dst stopped at $first: not in the middle of the stream"
grep -q "published, \([0-9]*\) acknowledged, 0 duplicates, 0 errors, 0 resent, 0 skipped, [0-9]* stalls, 0 unacknowledged" \
	"$WORK/fwd.log" || fail "forwarder: $(cat "$WORK/fwd.log")"
p=$(sed -n 's/.*nats: \([0-9]*\) published, \([0-9]*\) acknowledged.*/\1 \2/p' "$WORK/fwd.log")
[ "${p% *}" = "${p#* }" ] || fail "published and acknowledged differ: $p"
for f in dst1 dst; do
	grep -q "channel dst: .* gaps 0 (lost 0)" "$WORK/$f.log" || fail "$f: gaps"
	grep -q "source nats: duplicate 0 session 0 malformed 0" "$WORK/$f.log" ||
		fail "$f: $(grep 'source nats' "$WORK/$f.log")"
done

# slow broker, skip: every message skipped is a message the receiver
# counts lost, exactly
slow_run() { # slow_run NAME FULL: src -> mdsub (--nats-full=FULL) -> dst
	# the feed runs until the broker is back, however long a loaded
	# machine takes to get mdsub going and to see it forward: the broker
	# stops while it flows (a feed of 3 s, count 12000, had ended on a
	# loaded TSan run before the broker stopped, the forwarder caught up:
	# 'nothing skipped'); its count is where it stopped
	channel "$1.conf" "$1" source=synthetic rate=4000 count=0
	channel "$1d.conf" "$1d" source=nats "url=$URL" "subject=mdbus.$1.>" \
		"stream=$1" "durable=$1"
	start "$1" -c "$WORK/$1.conf"
	SP=$PID
	wait_log "$1" "channel $1: publishing from"
	"$MDSUB" --from oldest --forward "$URL" --nats-stream "$1" \
		--nats-max-pending 64 --nats-stall 20 --nats-full "$2" \
		"$1" >"$WORK/$1.fwd" 2>&1 &
	SF=$!
	PIDS="$PIDS $SF"
	forwarding "$SF" "$1" # the broker stops while it forwards
	kill -STOP "$(cat "$WORK/n1.pid")"
	sleep 0.6
	kill -CONT "$(cat "$WORK/n1.pid")"
	stop "$SP"
	n=$(sed -n "s/.*channel $1: stopped at sequence \([0-9]*\)\$/\1/p" "$WORK/$1.log")
	read_all "$SF" "$1"
	[ "$sent" = "$n" ] || fail "$1 stopped at $n, the forwarder read $sent"
	kill -TERM "$SF"
	wait "$SF" || fail "mdsub ($2): $(cat "$WORK/$1.fwd")"
	pub=$(sed -n 's/.*nats: \([0-9]*\) published.*/\1/p' "$WORK/$1.fwd")
	start "$1d" -c "$WORK/$1d.conf"
	DP=$PID
	wait_log "$1d" "channel $1d: publishing from"
	i=0
	until kill -USR1 "$DP" && sleep 0.1 &&
		grep -q "channel $1d: in $pub " "$WORK/$1d.log"; do
		i=$((i + 1)); [ $i -le 600 ] || fail "$1d did not get $pub"
	done
	stop "$DP"
}
slow_run sk skip
skipped=$(sed -n 's/.* \([0-9]*\) skipped, \([0-9]*\) stalls.*/\1/p' "$WORK/sk.fwd")
[ "${skipped:-0}" -gt 0 ] || fail "nothing skipped: $(cat "$WORK/sk.fwd")"
grep -q "channel skd: .* gaps [0-9]* (lost $skipped) " "$WORK/skd.log" ||
	fail "skipped $skipped, but: $(grep 'channel skd: in' "$WORK/skd.log")"
echo "slow broker, skip: $(grep 'nats: [0-9]* published' "$WORK/sk.fwd")"
echo "  receiver: $(grep 'channel skd: in' "$WORK/skd.log" | tail -n 1)"
slow_run wt wait
grep -q " 0 skipped, [1-9][0-9]* stalls, 0 unacknowledged" "$WORK/wt.fwd" ||
	fail "wait: $(cat "$WORK/wt.fwd")"
echo "slow broker, wait: $(grep 'nats: [0-9]* published' "$WORK/wt.fwd")"
grep -q "channel wtd: in $n out $n malformed 0 gaps 0 (lost 0) " "$WORK/wtd.log" ||
	fail "wait: $(grep 'channel wtd: in' "$WORK/wtd.log")"
exit 0
