#!/bin/sh
# SIGHUP reload: an unchanged channel keeps running without a gap or a
# restart, a removed one stops (FEED_DOWN), a changed one restarts, a new
# one starts; a bad new config is rejected with its errors and the running
# one stays.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

conf m.conf <<'END'
[global]
stats_interval = 0
[channel keep]
source = synthetic
rate = 2000
[channel drop]
source = synthetic
rate = 100
[channel change]
source = synthetic
rate = 100
END
start m -c "$WORK/m.conf"
wait_log m "channel change: publishing from sequence 0,"
"$READER" --synthetic --until down keep >"$WORK/keep.out" 2>"$WORK/keep.err" &
KEEP=$!
"$READER" --until down drop >"$WORK/drop.out" 2>"$WORK/drop.err" &
DROP=$!
"$READER" --until down change >"$WORK/change.out" 2>"$WORK/change.err" &
CHANGE=$!
# the reload once the three read (a reader still opening could miss the
# channel it removes, or open the changed one anew)
for ch in keep drop change; do
	registered "$ch" mdpub_reader "$WORK/$ch.err"
done

conf m.conf <<'END'
[global]
stats_interval = 0
[channel keep]
source = synthetic
rate = 2000
[channel change]
source = synthetic
rate = 100
seed = 2
[channel add]
source = synthetic
rate = 100
END
kill -HUP "$PID"
wait_log m "reload: .*m.conf loaded, 3 channels running"
grep -q "reload: channel drop removed" "$WORK/m.log" || fail "drop not removed"
grep -q "reload: channel change changed: restarting" "$WORK/m.log" || fail "change not restarted"
grep -q "channel add: publishing from sequence 0," "$WORK/m.log" || fail "add not started"
grep -q "channel keep: stopped" "$WORK/m.log" && fail "keep was restarted"
wait "$DROP" || fail "drop: no FEED_DOWN"
wait "$CHANGE" || fail "change: no FEED_DOWN"

# a bad config is rejected; everything keeps running
printf '[channel keep]\nsource = synthetic\nrate = -1\n' >"$WORK/m.conf"
kill -HUP "$PID"
wait_log m "reload: .*m.conf rejected, the running configuration stays"
grep -q "m.conf:3: rate: '-1' is not a number in 0..1e+09" "$WORK/m.log" || fail "reason not logged"
sleep 0.2
kill -0 "$PID" || fail "mdpub died on a bad reload"
stop "$PID"
wait "$KEEP" || fail "keep: reader"
grep -q ' lost 0$' "$WORK/keep.out" || fail "keep lost messages: $(cat "$WORK/keep.out")"
grep -q ' up 1 down 1 bad 0$' "$WORK/keep.out" || fail "keep restarted: $(cat "$WORK/keep.out")"
status 0 "$READER" --until caught-up change >"$WORK/change2.out"
grep -q ' up 2 down 2 bad 0$' "$WORK/change2.out" || fail "change: $(cat "$WORK/change2.out")"
status 0 "$READER" --until down add >"$WORK/add.out"

# --lines (no configuration file): SIGHUP reads the command line again,
# its channel keeps running; not the embedded default's channel demo
mkfifo "$WORK/hup.fifo"
exec 7<>"$WORK/hup.fifo" # a writer, so that mdpub reads no end yet
"$MDPUB" --lines "$WORK/hup.fifo" hupc 7>&- >"$WORK/hup.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_log hup "channel hupc: publishing from"
kill -HUP "$PID"
wait_log hup "reload: the command line loaded, 1 channel running"
grep -q "channel demo\|hupc removed\|hupc added" "$WORK/hup.log" &&
	fail "SIGHUP of mdpub --lines: $(grep 'reload\|demo' "$WORK/hup.log")"
printf 'Q,AAPL,189.5,100,189.52,200,1700000000000000001\n' >&7
exec 7>&-
wait "$PID"
rc=$?
[ "$rc" -eq 0 ] || fail "mdpub --lines exited $rc after its input ended"
[ "$(grep -c "channel hupc: publishing from" "$WORK/hup.log")" -eq 1 ] &&
	[ "$(stats hup hupc in)" -eq 1 ] && [ "$(stats hup hupc out)" -eq 1 ] ||
	fail "hupc: $(grep 'channel hupc' "$WORK/hup.log")"
exit 0
