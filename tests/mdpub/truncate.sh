#!/bin/sh
# A registered reader may truncate the channel's consumer table file
# (libmdbus(3), "Permissions and security"): mdpub's channel thread, which
# touches the table on every publish, must survive it (the library's
# SIGBUS handler; a channel thread that blocked SIGBUS was killed by the
# first publish after the cut), give the file its size back on its next
# heartbeat, and readers register again afterwards: a registered mdsub
# that was reading when the table was cut rejoins once the file is back
# and reads on to its -n count.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

channel t.conf t source=synthetic rate=2000 heartbeat=1 max_consumers=8
start pub -c "$WORK/t.conf"
wait_log pub "channel t: publishing from sequence 0,"
status 0 "$READER" --until 100 t >"$WORK/before.out"
table=$(ls "$MDBUS_DIR"/mdbus.t+[0-9a-f]*)
size=$(stat -c %s "$table")
[ "$size" -eq 8192 ] || fail "table of $size bytes"
truncate -s 0 "$table"
i=0
while [ "$(stat -c %s "$table")" -ne "$size" ]; do
	kill -0 "$PID" 2>/dev/null || { wait "$PID"; fail "mdpub died ($?) after the table was cut"; }
	i=$((i + 1))
	[ "$i" -le 1200 ] || fail "the table was not restored in 60 s"
	sleep 0.05
done
status 0 "$READER" --until 1000 t >"$WORK/after.out"
grep -q '^messages [0-9]* quote [0-9]* .* lost 0$' "$WORK/after.out" || fail "$(cat "$WORK/after.out")"
kill -0 "$PID" || fail "mdpub died"

[ -x "${MDSUB:-}" ] || { stop "$PID"; echo "mdsub part skipped: mdsub not built"; exit 0; }
"$MDSUB" -N r -n 6000 -o csv t >"$WORK/r.out" 2>"$WORK/r.log" &
SUB=$!
registered t r "$WORK/r.log"
truncate -s 0 "$table"
wait "$SUB" || fail "mdsub -N r exited $? after the table was cut: $(cat "$WORK/r.log")"
# 6000 messages in sequence, none lost (the ring holds far more than
# the time the table was gone)
awk -F, 'NR == 1 { next } NR > 2 && $2 != seq + 1 || $NF != 0 { bad++ }
	{ seq = $2 } END { exit !(NR == 6001 && !bad) }' "$WORK/r.out" ||
	fail "mdsub -N r: $(wc -l <"$WORK/r.out") lines, not 6000 in sequence"
grep -q "^mdsub: t: consumer entry taken away (evicted, reclaimed as dead, freed by a writer of the consumer table, or the table was cut); rejoining at seq [0-9]*$" \
	"$WORK/r.log" || fail "rejoin not reported: $(cat "$WORK/r.log")"
grep -q lossless "$WORK/r.log" && fail "an overwrite channel's reader blames a lossless publisher"
kill -0 "$PID" || fail "mdpub died"
stop "$PID"
exit 0
