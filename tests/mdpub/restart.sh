#!/bin/sh
# Restart resumes: a second run (after a clean stop, and after kill -9)
# continues the channel's sequence, so a reader sees one gap-free stream;
# a second mdpub for a channel whose owner lives is refused with its pid;
# a new geometry replaces the segment, or is refused with replace = no.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

channel r.conf r source=synthetic rate=0 count=1000

status 0 "$MDPUB" -c "$WORK/r.conf" 2>"$WORK/one.log"
grep -q "channel r: publishing from sequence 0," "$WORK/one.log" || fail "first run"
status 0 "$MDPUB" -c "$WORK/r.conf" 2>"$WORK/two.log"
grep -q "channel r: publishing from sequence 1002," "$WORK/two.log" || fail "second run did not resume at 1002"
status 0 "$READER" --until caught-up r >"$WORK/r.out"
grep -q '^messages 2004 quote [0-9]* trade [0-9]* status 4 .* lost 0$' "$WORK/r.out" || fail "$(cat "$WORK/r.out")"
grep -q '^first 0 last 2003 up 2 down 2 bad 0$' "$WORK/r.out" || fail "$(cat "$WORK/r.out")"

# a live owner refuses a second mdpub, naming its pid
channel live.conf r source=synthetic rate=1000
start owner -c "$WORK/live.conf"
wait_log owner "publishing from sequence 2004,"
status 1 "$MDPUB" -c "$WORK/live.conf" 2>"$WORK/second.log"
grep -q "mdpub\[err\]: channel r is owned by live publisher pid $PID\$" "$WORK/second.log" || fail "refusal: $(cat "$WORK/second.log")"
grep -q "mdpub failed to start" "$WORK/second.log" || fail "refusal not final"
kill -0 "$PID" || fail "the owner died"

# kill -9 of the owner: the next mdpub resumes where it stopped
"$READER" --from latest --until 300 r >"$WORK/live.out" || fail "reader of the live owner"
kill -KILL "$PID"
wait "$PID"
start after -c "$WORK/live.conf"
wait_log after "channel r: publishing from sequence"
stop "$PID"
status 0 "$READER" --until caught-up r >"$WORK/all.out"
grep -q ' lost 0$' "$WORK/all.out" || fail "loss across restarts: $(cat "$WORK/all.out")"
grep -q '^first 0 last [0-9]* up 4 down 3 bad 0$' "$WORK/all.out" || fail "$(cat "$WORK/all.out")"

# another geometry: refused with replace = no, a new segment with yes
channel g.conf r source=synthetic count=10 slot_size=512 replace=no
status 1 "$MDPUB" -c "$WORK/g.conf" 2>"$WORK/g.log"
grep -q "mdpub\[err\]: channel r exists with slot 256 .*asked slot 512" "$WORK/g.log" || fail "geometry: $(cat "$WORK/g.log")"
channel g.conf r source=synthetic count=10 slot_size=512
status 0 "$MDPUB" -c "$WORK/g.conf" 2>"$WORK/g.log"
grep -q "channel r: publishing from sequence 0," "$WORK/g.log" || fail "not a new segment"
exit 0
