#!/bin/sh
# The lines source end to end through a real consumer: CSV and Binance JSON
# from a file, from stdin and over TCP; malformed lines are counted exactly,
# logged rate-limited, and lose none of the good lines around them.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

# CSV: comments, blank lines, CRLF, a last line without newline, a line
# longer than 4096 bytes and malformed lines between good ones
{
	printf '# type,symbol,...\n\n'
	printf 'Q,AAPL,189.5,100,189.52,200,1700000000000000001\n'
	printf 'T,AAPL,189.51,25,B,77,1700000000000000002\r\n'
	printf 'Q,AAPL,oops,1,1,1\n'
	printf 'T,MSFT,410,3\n'
	printf 'X,what\n'
	printf 'Q,%05000d,1,1,1,1\n' 0
	printf 'T,MSFT,410.25,7,S,,\n'
	printf 'Q,MSFT,410,1,410.5,2'
} >"$WORK/in.csv"
cat >"$WORK/want.csv" <<'END'
Q AAPL 18950000000 10000000000 18952000000 20000000000 1700000000000000001
T AAPL 18951000000 2500000000 1 77 1700000000000000002
T MSFT 41000000000 300000000 0 0 0
T MSFT 41025000000 700000000 2 0 0
Q MSFT 41000000000 100000000 41050000000 200000000 0
END
lines_conf csv csv "file=$WORK/in.csv"
status 0 "$MDPUB" -c "$WORK/csv.conf" 2>"$WORK/csv.log"
status 0 "$READER" --until down --dump csv >"$WORK/csv.out"
grep '^[QT]' "$WORK/csv.out" >"$WORK/got.csv"
diff -u "$WORK/want.csv" "$WORK/got.csv" >&2 || fail "CSV messages"
grep -q "channel csv: in 5 out 5 malformed 3 " "$WORK/csv.log" || fail "CSV counters"
grep -q "channel csv: $WORK/in.csv line 5: malformed: bad number" "$WORK/csv.log" || fail "CSV line 5 not logged"
grep -q "line 7: malformed: first field is neither Q nor T" "$WORK/csv.log" || fail "CSV line 7 not logged"
grep -q "line 8: malformed: line longer than 4096 bytes" "$WORK/csv.log" || fail "CSV line 8 not logged"
grep -q "end of input after 10 lines" "$WORK/csv.log" || fail "CSV line count"
# the same counters in the segment, where any tool reads them
status 0 "$MDSUB" --status csv >"$WORK/csv.status"
for c in 'in 5' 'out 5' 'malformed 3' 'gaps 0' 'gap_lost 0' 'backpressure 0' \
	'dropped 0' 'archive_lag 0' 'archive_dropped 0' 'lines.idle 0'; do
	grep -Eq "^  ${c% *} +${c#* } " "$WORK/csv.status" ||
		fail "CSV counter $c in the segment: $(cat "$WORK/csv.status")"
done

# Binance JSON from stdin, plain and combined-stream, and 200 bad lines:
# all counted, at most a dozen logged
{
	echo '{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}'
	i=0
	while [ $i -lt 200 ]; do echo '{"e":"trade","s":"X"}'; i=$((i + 1)); done
	echo '{"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"16500.10","q":"0.5","T":1672515782137,"m":false,"M":true}}'
	echo 'not json'
} >"$WORK/in.json"
cat >"$WORK/want.json" <<'END'
Q BNBUSDT 2535190000 3121000000 2536520000 4066000000 0
T BTCUSDT 1650010000000 50000000 1 12345 1672515782137000000
END
lines_conf json binance file=-
status 0 "$MDPUB" -c "$WORK/json.conf" <"$WORK/in.json" 2>"$WORK/json.log"
status 0 "$READER" --until down --dump json >"$WORK/json.out"
grep '^[QT]' "$WORK/json.out" >"$WORK/got.json"
diff -u "$WORK/want.json" "$WORK/got.json" >&2 || fail "JSON messages"
grep -q "channel json: in 2 out 2 malformed 201 " "$WORK/json.log" || fail "JSON counters"
status 0 "$MDSUB" --status -o prometheus json >"$WORK/json.prom"
grep -qxF 'mdbus_publisher_counter_total{channel="json",counter="malformed"} 201' \
	"$WORK/json.prom" || fail "JSON malformed counter in the segment"
n=$(grep -c "malformed: " "$WORK/json.log")
[ "$n" -ge 10 ] && [ "$n" -le 12 ] || fail "$n malformed lines logged: not rate-limited"
grep -q "similar messages not logged" "$WORK/json.log" || fail "no suppressed count"

# TCP: mdpub accepts connections (bash's /dev/tcp sends)
# inputs that cannot be opened: mdpub does not start, the reason logged once
lines_conf nofile csv "file=$WORK/none.csv"
refused nofile "$WORK/none.csv: No such file or directory"
lines_conf nobind csv listen=192.0.2.1:1
refused nobind "192.0.2.1:1: bind: Cannot assign requested address"

# a FIFO as the file: mdpub starts with no writer there (and stops on
# SIGTERM meanwhile), then takes what a writer sends, to its end. Before,
# open() blocked mdpub's main thread until a writer came: no channel
# started, no signal handled
mkfifo "$WORK/in.fifo" || fail "mkfifo"
lines_conf fifo csv "file=$WORK/in.fifo"
start fifo -c "$WORK/fifo.conf"
wait_log fifo "channel fifo: publishing from sequence" 10
stop "$PID"
rm -f "$MDBUS_DIR"/mdbus.fifo* # the reader below ends at the next "down"
start fifo -c "$WORK/fifo.conf"
wait_log fifo "channel fifo: publishing from sequence" 10
sleep 0.2 # a writer's first bytes come after mdpub waits for them
cat "$WORK/in.csv" >"$WORK/in.fifo" || fail "write the FIFO"
wait "$PID" || fail "mdpub with a FIFO exited $?"
status 0 "$READER" --until down --dump fifo >"$WORK/fifo.out"
grep '^[QT]' "$WORK/fifo.out" >"$WORK/got.csv"
diff -u "$WORK/want.csv" "$WORK/got.csv" >&2 || fail "FIFO messages"
grep -q "channel fifo: in 5 out 5 malformed 3 " "$WORK/fifo.log" ||
	fail "FIFO counters"
grep -q "channel fifo: $WORK/in.fifo: end of input after 10 lines" \
	"$WORK/fifo.log" || fail "FIFO line count"

command -v bash >/dev/null || { echo "SKIP: TCP part needs bash"; exit 0; }
lines_conf tcp csv listen=127.0.0.1:0
start tcp -c "$WORK/tcp.conf"
PORT=$(port_of tcp)
"$READER" --until 3 --dump tcp >"$WORK/tcp.out" &
READ=$!
for sym in A B; do
	bash -c "printf 'Q,$sym,1,1,2,1\nbad\n' >/dev/tcp/127.0.0.1/$PORT" || fail "TCP send"
done
wait "$READ" || fail "TCP reader"
grep -q '^Q A 100000000 ' "$WORK/tcp.out" && grep -q '^Q B 100000000 ' "$WORK/tcp.out" || fail "TCP messages"
counted tcp "channel tcp: in 2 out 2 malformed 2 "
# a connection that ends inside a line (its feeder died while it wrote):
# the part sent is malformed, not published (it parses: ask quantity 1
# where the feeder meant 15). Before, it was taken as a last line: in 4
# out 4 malformed 2
bash -c "printf 'Q,C,1,1,2,15\nQ,D,1,1,2,1' >/dev/tcp/127.0.0.1/$PORT" || fail "TCP send"
counted tcp "channel tcp: in 3 out 3 malformed 3 "
grep -q "channel tcp: connection from 127.0.0.1 line 2: malformed: connection ended inside the line (no newline)" \
	"$WORK/tcp.log" || fail "TCP line cut short not logged: $(grep malformed "$WORK/tcp.log")"
stop "$PID"

# TCP: mdpub connects, retries while refused, reconnects when the peer
# closes (the peer is a python3 one-liner when there is python3)
command -v python3 >/dev/null || { echo "connect part skipped: no python3"; exit 0; }
python3 -c "
import os, socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
open('$WORK/port', 'w').write('%d\\n' % s.getsockname()[1])
while not os.path.exists('$WORK/go'):
    time.sleep(0.02)
s.listen(1)
for sym in ('C1', 'C2'):
    c, _ = s.accept()
    c.sendall(('Q,%s,1,1,2,1\\nQ,%sX,1,1,2,1' % (sym, sym)).encode())
    time.sleep(0.2)
    if sym == 'C2': # reset, not closed: mdpub reads ECONNRESET
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\\1\\0\\0\\0\\0\\0\\0\\0')
    c.close()
" &
SERVER=$!
i=0
while [ ! -s "$WORK/port" ]; do
	i=$((i + 1))
	[ $i -le 1200 ] || fail "python3 server did not start"
	sleep 0.05
done
PORT=$(cat "$WORK/port")
lines_conf conn csv "connect=127.0.0.1:$PORT" reconnect=0.1
start conn -c "$WORK/conn.conf"
wait_log conn "127.0.0.1:$PORT: connect: Connection refused"
touch "$WORK/go"
status 0 "$READER" --until 3 --dump conn >"$WORK/conn.out"
wait "$SERVER" || fail "python3 server"
grep -q '^Q C1 ' "$WORK/conn.out" && grep -q '^Q C2 ' "$WORK/conn.out" || fail "connect messages"
[ "$(grep -c "channel conn: connected to 127.0.0.1:$PORT" "$WORK/conn.log")" -eq 2 ] || fail "no reconnect"
# each connection's cut line (C1X after a close, C2X after a reset) is
# malformed, not published
counted conn "channel conn: in 2 out 2 malformed 2 "
stop "$PID"
exit 0
