#!/bin/sh
# The synthetic source end to end through a real consumer: count= ends
# mdpub by itself with exactly that many messages between FEED_UP and
# FEED_DOWN; the same seed gives the same messages; the rate is held; the
# embedded default publishes channel demo; nudge_anonymous = no runs no
# nudger thread.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

synth() { # synth NAME SEED COUNT RATE
	channel "$1.conf" "$1" source=synthetic symbols=5 seed="$2" count="$3" rate="$4"
}

synth a 7 5000 0
status 0 "$MDPUB" -c "$WORK/a.conf" 2>"$WORK/a.log"
grep -q "every source ended: stopping" "$WORK/a.log" || fail "no end by count"
status 0 "$READER" --synthetic --until down --dump a >"$WORK/a.out"
tail -n 3 "$WORK/a.out" | head -n 1 >"$WORK/tail"
expect "$WORK/tail" "S 5 mdpub stopping"
head -n 1 "$WORK/a.out" >"$WORK/head"
expect "$WORK/head" "S 4 mdpub started"
[ "$(grep -c '^[QT] SYM00[0-4] ' "$WORK/a.out")" -eq 5000 ] || fail "not 5000 quotes and trades"
grep -q '^[QT] SYM005 ' "$WORK/a.out" && fail "symbols = 5 made a sixth"
awk '$1 == "Q" && !($3 < $5) { exit 1 }' "$WORK/a.out" || fail "a quote with bid >= ask"
grep -q '^messages 5002 .* lost 0$' "$WORK/a.out" || fail "a: $(tail -n 2 "$WORK/a.out")"

# same seed, same messages (timestamps aside); another seed, others
synth b 7 5000 0
synth c 8 5000 0
status 0 "$MDPUB" -c "$WORK/b.conf" 2>"$WORK/b.log"
status 0 "$MDPUB" -c "$WORK/c.conf" 2>"$WORK/c.log"
status 0 "$READER" --synthetic --until down --dump b >"$WORK/b.out"
status 0 "$READER" --synthetic --until down --dump c >"$WORK/c.out"
for x in a b c; do
	grep '^[QT]' "$WORK/$x.out" | awk '{ $NF = ""; print }' >"$WORK/$x.msgs"
done
cmp -s "$WORK/a.msgs" "$WORK/b.msgs" || fail "seed 7 twice gave other messages"
cmp -s "$WORK/a.msgs" "$WORK/c.msgs" && fail "seeds 7 and 8 gave the same messages"

# rate: 2000/s for 1 s, with a live reader from the start: at most
# 2000/s over the time mdpub ran (on a loaded machine, under TSan, its 1 s
# timer has fired 3 s late; a rate not held gives millions)
synth r 1 0 2000
t0=$(date +%s%N)
start r -c "$WORK/r.conf" --duration 1
wait_log r "publishing from sequence"
"$READER" --synthetic --until down r >"$WORK/r.out" &
READ=$!
wait "$PID" || fail "mdpub --duration did not exit 0"
ran_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$READ" || fail "live reader"
n=$(awk '$1 == "messages" { print $4 + $6 }' "$WORK/r.out")
[ "$n" -ge 500 ] && [ "$n" -le $((2 * ran_ms + 100)) ] ||
	fail "rate 2000 for 1 s gave $n messages in the $ran_ms ms mdpub ran"
grep -q "duration reached: stopping" "$WORK/r.log" || fail "no duration stop"

# nudge_anonymous: a channel's nudger thread (libmdbus's mdbus-nudge) runs
# by default and not with "no" (mdpub runs until the test stops it: with
# --duration it could end by itself before a loaded machine got to look
# at its threads and stop it)
conf n.conf <<'END'
[global]
stats_interval = 0
[channel n1]
source = synthetic
rate = 100
[channel n2]
source = synthetic
rate = 100
nudge_anonymous = no
END
start n -c "$WORK/n.conf"
wait_log n "channel n2: publishing from sequence"
wait_log n "channel n1: publishing from sequence"
n=$(cat /proc/"$PID"/task/*/comm | grep -c '^mdbus-nudge$')
stop "$PID"
[ "$n" -eq 1 ] || fail "$n nudger threads for one channel with nudge_anonymous = yes"

# the embedded default: channel demo (unless a default config is installed)
start demo --duration 0.5
wait "$PID" || fail "embedded default run"
if grep -q "starting with (embedded default)" "$WORK/demo.log"; then
	status 0 "$READER" --until down demo >"$WORK/demo.out"
	grep -q ' up 1 down 1 bad 0$' "$WORK/demo.out" || fail "demo: $(cat "$WORK/demo.out")"
fi
exit 0
