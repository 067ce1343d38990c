#!/bin/sh
# mdpub benchmarks (not a test): the highest sustained synthetic
# publish rate, alone, with a registered reader and with an archive, the
# rate at which a reader replays the archive, and the CSV and Binance
# JSON lines parsed and published per second. `make -C tests bench-mdpub`.
# BENCH_MESSAGES (default 20000000) and BENCH_LINES (1000000) size the runs.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
N=${BENCH_MESSAGES:-20000000}
L=${BENCH_LINES:-1000000}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run NAME: runs mdpub on $WORK/NAME.conf to its end; prints msgs/s
run() {
	t0=$(now_ms)
	status 0 "$MDPUB" -c "$WORK/$1.conf" 2>"$WORK/$1.log"
	ms=$(($(now_ms) - t0))
	out=$(sed -n "s/.*channel $1: in [0-9]* out \([0-9]*\) .*/\1/p" "$WORK/$1.log")
	printf '%-34s %10s msgs %6s ms %12s msgs/s\n' "$2" "$out" "$ms" \
		$((out * 1000 / (ms ? ms : 1)))
}

channel synth.conf synth source=synthetic rate=0 "count=$N"
run synth "synthetic, no reader"

channel synthr.conf synthr source=synthetic rate=0 "count=$N"
status 0 "$MDPUB" -c "$WORK/synthr.conf" --duration 0.1 2>/dev/null
"$READER" --from latest --until down --timeout 120 synthr >"$WORK/reader.out" &
sleep 0.3
run synthr "synthetic, one registered reader"
wait $! || fail "reader"
awk '$1 == "messages" { printf "%-34s %10s read, %s lost\n", "  the reader", $2, $14 }' "$WORK/reader.out"

# the archive: overwrite (it loses what it cannot keep up with: counted),
# lossless (it holds the publisher back instead); then a reader from
# seq 0 replays the lossless one's files (all but the last ring)
channel synthao.conf synthao source=synthetic rate=0 "count=$N" archive="$WORK/ao"
run synthao "synthetic, archive, overwrite"
sed -n 's/.*channel synthao: archive .*: written \([0-9]*\) .* lost \([0-9]*\) .*/  the archive: \1 written, \2 lost/p' "$WORK/synthao.log"
channel synthal.conf synthal source=synthetic rate=0 "count=$N" mode=lossless archive="$WORK/al"
run synthal "synthetic, archive, lossless"
t0=$(now_ms)
"$READER" --from 0 --until caught-up --timeout 600 synthal >"$WORK/replay.out" 2>"$WORK/replay.err" ||
	fail "replay: $(cat "$WORK/replay.out" "$WORK/replay.err")"
ms=$(($(now_ms) - t0))
got=$(sed -n 's/^replayed //p' "$WORK/replay.err")
printf '%-34s %10s msgs %6s ms %12s msgs/s\n' "replay from the archive" "$got" "$ms" \
	$((got * 1000 / (ms ? ms : 1)))

awk -v n="$L" 'BEGIN { for (i = 0; i < n; i++)
	printf "Q,SYM%d,%d.%02d,%d,%d.%02d,%d,1700000000000000000\n",
		i % 100, 100 + i % 50, i % 100, 1 + i % 9, 101 + i % 50, i % 100, 2 + i % 7 }' >"$WORK/in.csv"
awk -v n="$L" 'BEGIN { for (i = 0; i < n; i++)
	printf "{\"u\":%d,\"s\":\"BNBUSDT\",\"b\":\"25.%08d\",\"B\":\"31.21000000\",\"a\":\"25.36520000\",\"A\":\"40.66000000\"}\n", i, i }' >"$WORK/in.json"
channel csv.conf csv source=lines "file=$WORK/in.csv"
run csv "lines, CSV quotes"
channel json.conf json source=lines format=binance "file=$WORK/in.json"
run json "lines, Binance bookTicker JSON"
exit 0
