#!/bin/sh
# The bridge through a three-node JetStream cluster (routes on loopback)
# and a stream of 3 replicas: mid-stream, the node that leads the
# receiver's consumer is killed (SIGKILL) and started again on its ports
# and store. The forwarder resends what was not acknowledged, in order,
# the receiver makes its consumer again after the gap in its deliveries;
# every message reaches host B's channel exactly once and in order. The
# recovery counts are printed.
. "${top_srcdir:-.}/tests/nats/helpers.sh"

set -- $(free_ports 3)
R1=$1 R2=$2 R3=$3
ROUTES=nats://127.0.0.1:$R1,nats://127.0.0.1:$R2,nats://127.0.0.1:$R3
CL="-js -m -1 --cluster_name T -routes $ROUTES"
# shellcheck disable=SC2086
nats_start c1 $CL -cluster "nats://127.0.0.1:$R1"
# shellcheck disable=SC2086
nats_start c2 $CL -cluster "nats://127.0.0.1:$R2"
# shellcheck disable=SC2086
nats_start c3 $CL -cluster "nats://127.0.0.1:$R3"
P1=$(nats_port c1)
P2=$(nats_port c2)
P3=$(nats_port c3)
URLS=nats://127.0.0.1:$P1,nats://127.0.0.1:$P2,nats://127.0.0.1:$P3
i=0
until grep -q "JetStream cluster new metadata leader" "$WORK"/c?.nlog; do
	i=$((i + 1)); [ $i -le 1200 ] || fail "no JetStream metadata leader"
	sleep 0.05
done

channel src.conf src source=synthetic rate=5000 count=20000 mode=lossless
channel dst.conf dst source=nats "url=nats://127.0.0.1:$P2,nats://127.0.0.1:$P3,nats://127.0.0.1:$P1" \
	'subject=mdbus.src.>' stream=R3 durable=b mode=lossless
start src -c "$WORK/src.conf"
SRC=$PID
wait_log src "channel src: publishing from"
"$READER" --until down --dump --timeout 60 src >"$WORK/src.out" &
RS=$!
# the stream, once the cluster can place 3 replicas (-t 999: forwards nothing)
i=0
until "$MDSUB" -t 999 -d 0.1 --forward "$URLS" --nats-stream R3 \
	--nats-replicas 3 src >"$WORK/make.log" 2>&1; do
	i=$((i + 1)); [ $i -le 300 ] || fail "stream R3: $(cat "$WORK/make.log")"
	sleep 0.2
done
"$MDSUB" --from oldest --forward "$URLS" --nats-stream R3 --nats-ack-wait 1000 \
	src >"$WORK/fwd.log" 2>&1 &
FWD=$!
PIDS="$PIDS $FWD"
start dst -c "$WORK/dst.conf"
DST=$PID
wait_log dst "channel dst: publishing from"
sleep 1
# the node that leads the consumer (its deliveries stop mid-way), else c1
# (the forwarder's server)
K=$(monitor c1 '/jsz?consumers=true' | tr -d ' \n' |
	sed -n 's/.*"consumer_detail":\[.*"leader":"\(c[123]\)".*/\1/p')
K=${K:-c1}
PK=$(nats_port "$K")
RK=$(eval echo "\$R${K#c}")
nats_kill "$K" KILL
sleep 1.5
# shellcheck disable=SC2086
nats_start "$K" $CL -p "$PK" -cluster "nats://127.0.0.1:$RK"
wait "$RS" || fail "reader of src"
wait "$SRC"
want=$(grep -c '^[QT] ' "$WORK/src.out")
[ "$want" -eq 20000 ] || fail "src made $want, not 20000"
i=0
while :; do
	"$READER" --until caught-up --dump dst >"$WORK/dst.out" 2>/dev/null
	[ "$(grep -c '^[QT] ' "$WORK/dst.out")" -ge "$want" ] && break
	i=$((i + 1)); [ $i -le 300 ] ||
		fail "dst has $(grep -c '^[QT] ' "$WORK/dst.out") of $want"
	sleep 0.2
done
kill -TERM "$FWD"
wait "$FWD" || fail "mdsub --forward: $(cat "$WORK/fwd.log")"
sleep 0.3
kill -USR1 "$DST"
wait_log dst "source nats: duplicate"
stop "$DST"
"$READER" --until caught-up --dump dst >"$WORK/dst.out" || fail "dst reader"
same_market_data "$WORK/src.out" "$WORK/dst.out"
grep -q "channel dst: .* malformed 0 gaps 0 (lost 0) " "$WORK/dst.log" ||
	fail "dst: $(grep 'channel dst: in' "$WORK/dst.log")"
grep -q " 0 skipped, [0-9]* stalls, 0 unacknowledged" "$WORK/fwd.log" ||
	fail "forwarder: $(cat "$WORK/fwd.log")"
echo "killed $K; forwarder: $(grep 'nats: [0-9]* published' "$WORK/fwd.log")"
echo "receiver: $(grep 'source nats: duplicate' "$WORK/dst.log")"
exit 0
