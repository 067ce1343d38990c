#!/bin/sh
# A reader that went on without an entry after its rejoin was refused
# (tests/mdsub/full.sh) tries to register again by the channel's name. A
# publisher restarted meanwhile with another geometry replaced the
# segment: the reader reads the old one to its end, says "segment
# replaced, reattaching" and goes on from the new one's oldest message,
# and does not register at its old position in the new segment (race
# review of c108f58: it did, and never said the segment was replaced;
# the old segment's rest and the new one's first messages were skipped
# without a word).
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

conf() {
	printf '[global]\nstats_interval = 0\n[channel r]\nsource = synthetic\nrate = 200\nmax_consumers = 1\nslots_per_block = %s\nblock_count = 4\n' \
		"$1" >"$WORK/r.conf"
	chmod 0644 "$WORK/r.conf"
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
# stopped past its first try to register again, 400 messages behind;
# meanwhile the entry is free again and the segment replaced (another
# geometry)
kill -STOP $victim
sleep 2
kill $hold
wait $hold 2>/dev/null
hold=
kill -TERM $pub
wait $pub
conf 2048
"$MDPUB" -c "$WORK/r.conf" --duration 60 2>"$WORK/pub2.log" &
pub=$!
wait_for grep -q "channel r: publishing" "$WORK/pub2.log"
sleep 1.5
kill -CONT $victim
wait_for grep -q "^mdsub: r: segment replaced, reattaching$" "$WORK/victim.err"
if grep -q "registered again" "$WORK/victim.err"; then
	# only after the reattach, in the new segment
	sed -n '/segment replaced/,$p' "$WORK/victim.err" | grep -q "registered again" ||
		fail "registered again before the reattach: $(cat "$WORK/victim.err")"
fi
exit 0
