#!/bin/sh
# A reader that went on without an entry after its rejoin was refused
# (tests/mdsub/full.sh) tries to register again by the channel's name. A
# publisher restarted meanwhile with another geometry replaced the
# segment: the reader reads the old one to its end, says "segment
# replaced, reattaching" and goes on from the new one's oldest message,
# and does not register at its old position in the new segment (race
# review of c108f58: it did, and never said the segment was replaced;
# the old segment's rest and the new one's first messages were skipped
# without a word). Nor does a registered reader whose entry is taken
# away while it is behind and the segment is then replaced: its rejoin
# by name finds the new segment, says what it did not read of the old
# one and reattaches from the new one's oldest message (review of
# 74ac609: it went on at its old position in the new segment).
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

conf() {
	printf '[global]\nstats_interval = 0\n[channel r]\nsource = synthetic\nrate = 200\nmax_consumers = 1\nslots_per_block = %s\nblock_count = 4\n' \
		"$1" >"$WORK/r.conf"
	chmod 0644 "$WORK/r.conf"
}
# replace SPB LOG: mdpub stopped, and started again with SLOTS_PER_BLOCK
# (the segment replaced when it differs), its log in $WORK/LOG
replace() {
	kill -TERM $pub
	wait $pub
	conf "$1"
	"$MDPUB" -c "$WORK/r.conf" --duration 60 2>"$WORK/$2" &
	pub=$!
	wait_for grep -q "channel r: publishing" "$WORK/$2"
}
conf 1024
"$MDPUB" -c "$WORK/r.conf" --duration 60 2>"$WORK/pub1.log" &
pub=$!
victim=
hold=
trap 'kill $pub $victim $hold 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
"$MDSUB" --wait-for-channel -N victim -o raw r >"$WORK/victim.out" 2>"$WORK/victim.err" &
victim=$!
wait_registered r 1
# its entry taken and the table's one entry held: it reads on without one
kill -STOP $victim
"$TOOL" evict r victim 1 >/dev/null
"$TOOL" hold r holder hold1 60 &
hold=$!
wait_registered r 1
kill -CONT $victim
wait_for grep -q "^mdsub: r: cannot register again: " "$WORK/victim.err"
# stopped before its first try to register again, 400 messages behind;
# meanwhile the entry is free again and the segment replaced (another
# geometry)
kill -STOP $victim
sleep 2
kill $hold
wait $hold 2>/dev/null
hold=
replace 2048 pub2.log
sleep 1.5
kill -CONT $victim
wait_for grep -q "^mdsub: r: segment replaced, reattaching$" "$WORK/victim.err"
if grep -q "registered again" "$WORK/victim.err"; then
	# only after the reattach, in the new segment
	sed -n '/segment replaced/,$p' "$WORK/victim.err" | grep -q "registered again" ||
		fail "registered again before the reattach: $(cat "$WORK/victim.err")"
fi
kill $victim
wait $victim 2>/dev/null

# registered, 400 messages behind, its entry freed, the segment replaced
"$MDSUB" -N victim2 -o raw r >"$WORK/victim2.out" 2>"$WORK/victim2.err" &
victim=$!
wait_registered r 1
kill -STOP $victim
sleep 2
"$TOOL" evict r victim2 1 >/dev/null
replace 1024 pub3.log
kill -CONT $victim
wait_for grep -q "^mdsub: r: segment replaced, reattaching$" "$WORK/victim2.err"
grep -q "^mdsub: r: consumer entry taken away .*; rejoining at seq [0-9]*$" "$WORK/victim2.err" &&
	grep -q "^mdsub: r: the old segment's messages from seq [0-9]* on were not read$" "$WORK/victim2.err" ||
	fail "rejoined into the new segment: $(cat "$WORK/victim2.err")"
exit 0
