#!/bin/sh
# A consumer table full of live readers: mdsub is refused with the table's
# size and the two ways out (read without an entry: -a; more entries: the
# publisher's max_consumers), exits 1, and -a then reads. A running
# reader whose entry is taken away while the table is full (anyone who
# may write the table can do both) reads on without an entry, from where
# it stopped, and says so: before, it exited 1 ("cannot subscribe"), and
# a writer of the table could so stop root's recorders. So does one whose
# entry is taken away while the table's header is spoiled for longer than
# the rejoin's 3 s of retries (attack run of 1154fb0: a max_consumers
# stored wrong every 100 us; before, exit 1, "its consumer table does
# not belong to its segment"). Once the table has a free entry again it
# registers again at its position (before, it read on without an entry
# for good).
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

printf '[global]\nstats_interval = 0\n[channel full]\nsource = synthetic\nrate = 100\nmax_consumers = 1\n[channel taken]\nsource = synthetic\nrate = 200\nmax_consumers = 2\n[channel spoiled]\nsource = synthetic\nrate = 200\n' \
	>"$WORK/full.conf"
chmod 0644 "$WORK/full.conf"
"$MDPUB" -c "$WORK/full.conf" --duration 120 2>"$WORK/pub.log" &
pub=$!
"$MDSUB" --wait-for-channel -N first -q full 2>"$WORK/first.err" &
first=$!
holds=
victim=
trap 'kill $pub $first $holds $victim 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_registered full 1
status 1 "$MDSUB" -n 1 full >/dev/null 2>"$WORK/full.err"
grep -qx "mdsub: full: cannot subscribe: consumer table full (1 entries, all held by live readers): read without an entry (-a, --anonymous), or raise the publisher's max_consumers" \
	"$WORK/full.err" || fail "table full: $(cat "$WORK/full.err")"
status 0 "$MDSUB" -a -n 1 -o csv full >"$WORK/anon.out"
grep -q '^full,' "$WORK/anon.out" || fail "-a read nothing: $(cat "$WORK/anon.out")"

# the victim stopped, its entry freed and both entries then taken by
# live readers: resumed, it is told its entry was taken away and finds
# the table full
"$MDSUB" --wait-for-channel -N victim -o raw -n 400 taken >"$WORK/victim.out" 2>"$WORK/victim.err" &
victim=$!
wait_registered taken 1
kill -STOP $victim
"$TOOL" evict taken victim 1 >"$WORK/evicted" &
evictor=$!
wait_registered taken 0
"$TOOL" hold taken holder1 hold1 60 &
holds=$!
"$TOOL" hold taken holder2 hold2 60 &
holds="$holds $!"
wait_registered taken 2
wait $evictor
kill -CONT $victim
status 0 wait $victim
grep -q "^mdsub: taken: consumer entry taken away .*; rejoining at seq [0-9]*$" "$WORK/victim.err" ||
	fail "taken away: $(cat "$WORK/victim.err")"
grep -qx "mdsub: taken: cannot register again: consumer table full (2 entries, all held by live readers): reading on without an entry from seq [0-9]*; a lossless publisher no longer waits for this reader (trying to register again)" \
	"$WORK/victim.err" || fail "table full on rejoining: $(cat "$WORK/victim.err")"
[ "$(wc -l <"$WORK/victim.out")" -eq 400 ] ||
	fail "the victim read $(wc -l <"$WORK/victim.out") messages, 400 expected"
# every message once, in order, none lost
consecutive() {
	awk 'NR > 1 && $2 != prev + 1 { bad++ } $6 != 0 { bad++ } { prev = $2 } END { exit bad > 0 }' \
		"$1" || fail "$1: the messages are not consecutive: $(head -n 3 "$1")"
}
consecutive "$WORK/victim.out"

# the table's header spoiled for 5 s while the entry is taken away
"$MDSUB" --wait-for-channel -N victim2 -o raw -n 2400 spoiled >"$WORK/victim2.out" 2>"$WORK/victim2.err" &
victim=$!
wait_registered spoiled 1
kill -STOP $victim
"$TOOL" evict spoiled victim2 1 >/dev/null
"$TOOL" spoil spoiled 5 &
spoiler=$!
sleep 0.5
kill -CONT $victim
wait $spoiler
wait_for grep -q "^mdsub: spoiled: registered again at seq [0-9]*$" "$WORK/victim2.err"
wait_registered spoiled 1
status 0 wait $victim
victim=
grep -q "^mdsub: spoiled: cannot register again: .*: reading on without an entry from seq [0-9]*; a lossless publisher no longer waits for this reader (trying to register again)$" \
	"$WORK/victim2.err" || fail "spoiled table on rejoining: $(cat "$WORK/victim2.err")"
[ "$(wc -l <"$WORK/victim2.out")" -eq 2400 ] ||
	fail "the second victim read $(wc -l <"$WORK/victim2.out") messages, 2400 expected"
consecutive "$WORK/victim2.out"
exit 0
