#!/bin/sh
# A channel of 64-byte slots (40 bytes of payload) cannot hold a status
# message (64 bytes): mdpub publishes no FEED_UP and no FEED_DOWN there,
# says so, and does not count them as dropped messages of its input
# (mdpub(8), "Channel life cycle"): a --replay of small records that all
# fit is complete and exits 0.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

{
	printf 'MDBUSREC'; le 65536 4; le 1 4
	printf '%-72s' s64 | tr ' ' '\000'
	le 64 4; le 64 4; le 2 4; le 0 4; le 0 8; le 120 4; le 0 4
	record 1 1000 a
	record 2 2000 bb
	record 3 3000 ccc
} >"$WORK/s64.rec"
"$MDPUB" --replay "$WORK/s64.rec" --speed 0 2>"$WORK/s64.log"
rc=$?
[ "$rc" -eq 0 ] || fail "mdpub --replay of records that all fit exited $rc"
grep -q "channel s64: in 3 out 3 malformed 0 gaps 0 (lost 0) backpressure 0 dropped 0 " "$WORK/s64.log" ||
	fail "counters: $(grep 'channel s64: in ' "$WORK/s64.log")"
grep -q "message dropped" "$WORK/s64.log" && fail "$(grep "message dropped" "$WORK/s64.log")"
for text in "mdpub started" "mdpub stopping"; do
	[ "$(grep -c "channel s64: status \"$text\" not published: larger than the slot payload$" "$WORK/s64.log")" -eq 1 ] ||
		fail "no warning for \"$text\""
done
status 0 "$READER" --from 0 --until 3 --dump s64 >"$WORK/s64.out"
grep '^M' "$WORK/s64.out" >"$WORK/got"
printf 'M 9 1\nM 9 2\nM 9 3\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "replayed messages"
grep -c '^S ' "$WORK/s64.out" | grep -qx 0 || fail "status messages: $(grep '^S ' "$WORK/s64.out")"
exit 0
