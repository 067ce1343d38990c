#!/bin/sh
# A registered reader may truncate the channel's consumer table file
# (libmdbus(3), "Permissions and security"): mdpub's channel thread, which
# touches the table on every publish, must survive it (the library's
# SIGBUS handler; a channel thread that blocked SIGBUS was killed by the
# first publish after the cut), give the file its size back on its next
# heartbeat, and readers register again afterwards.
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
	[ "$i" -le 60 ] || fail "the table was not restored in 3 s"
	sleep 0.05
done
status 0 "$READER" --until 1000 t >"$WORK/after.out"
grep -q '^messages [0-9]* quote [0-9]* .* lost 0$' "$WORK/after.out" || fail "$(cat "$WORK/after.out")"
kill -0 "$PID" || fail "mdpub died"
stop "$PID"
exit 0
