#!/bin/sh
# Waiting is visible: a reader of a stopped channel says whose publisher
# stopped and how long ago, and that it waits (or, with -u, that it ends
# with what the ring holds); --wait-for-channel starts before the
# publisher and reads every message from the first, per channel.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub stopped 2
"$MDSUB" -n 1 stopped >/dev/null 2>"$WORK/idle" &
reader=$!
trap 'kill $reader 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_for grep -q . "$WORK/idle"
grep -Eqx 'mdsub: stopped: publisher pid [0-9]+ stopped [0-9]+\.[0-9] s ago; waiting for it' \
	"$WORK/idle" || fail "stopped publisher notice: $(cat "$WORK/idle")"
kill $reader
wait $reader

status 0 "$MDSUB" -u stopped 2>"$WORK/u"
grep -Eqx 'mdsub: stopped: publisher pid [0-9]+ stopped [0-9]+\.[0-9] s ago; --until-caught-up ends once the ring is read' \
	"$WORK/u" || fail "-u on a stopped channel: $(cat "$WORK/u")"

# without --wait-for-channel a missing channel is an error
status 1 "$MDSUB" -n 1 late 2>/dev/null

# --wait-for-channel, then the publisher (a separate process): all 20
# messages from seq 0, with the default start
"$MDSUB" --wait-for-channel -o raw -n 20 late >"$WORK/late" 2>"$WORK/late.err" &
reader=$!
# the publisher only once mdsub waits (else it finds the channel and
# reads from the latest message, the default)
wait_for grep -q 'late: no such channel yet' "$WORK/late.err"
kill -0 $reader 2>/dev/null || fail "--wait-for-channel: ended before the channel came"
pub late 20
wait $reader || fail "--wait-for-channel: exit status"
[ "$(cut -d' ' -f2 "$WORK/late" | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 " ] ||
	fail "--wait-for-channel: $(cat "$WORK/late")"
grep -qx 'mdsub: late: no such channel yet; waiting for it' "$WORK/late.err" ||
	fail "--wait-for-channel notice: $(cat "$WORK/late.err")"
grep -qx 'mdsub: late: channel appeared, reading from seq 0' "$WORK/late.err" ||
	fail "--wait-for-channel attach notice: $(cat "$WORK/late.err")"

# several channels: the present one is read while the other is missing
pub here 3
"$MDSUB" --wait-for-channel --from oldest -o raw -n 7 here later >"$WORK/multi" 2>/dev/null &
reader=$!
wait_for sh -c "[ \$(wc -l <'$WORK/multi') -eq 3 ]"
kill -0 $reader 2>/dev/null || fail "multi: ended before the second channel came"
pub later 4
wait $reader || fail "multi: exit status"
[ "$(grep -c '^here ' "$WORK/multi")" -eq 3 ] || fail "multi: here: $(cat "$WORK/multi")"
[ "$(grep '^later ' "$WORK/multi" | cut -d' ' -f2 | tr '\n' ' ')" = "0 1 2 3 " ] ||
	fail "multi: later: $(cat "$WORK/multi")"

# --record waits for its channel too
"$MDSUB" --wait-for-channel --record "$WORK/late.rec" -n 5 rec 2>"$WORK/rec.err" &
reader=$!
wait_for grep -q 'rec: no such channel yet' "$WORK/rec.err"
pub rec 5
wait $reader || fail "--record --wait-for-channel: exit status"
[ "$("$TOOL" recdump "$WORK/late.rec" 2>/dev/null | wc -l)" -eq 5 ] ||
	fail "--record --wait-for-channel: messages"

# --wait-for-channel --owner: another user's file put under the name
# before the publisher starts (squatting, in a directory others may write)
# is not the awaited channel: mdsub waits on, and reads the owner's
# channel once its publisher (replacing, as mdpub's replace = yes does)
# makes it
if [ "$(id -u)" -eq 0 ]; then
	"$MDSUB" --wait-for-channel --owner root -o raw -n 3 squat >"$WORK/squat" \
		2>"$WORK/squat.err" &
	reader=$!
	wait_for grep -q 'squat: no such channel yet' "$WORK/squat.err"
	# made aside and renamed into place whole: written under the name,
	# it was root's (and matched --owner root) until the chown, and a
	# reader that looked then ended on garbage (CI, once)
	head -c 5000 /dev/urandom >"$MDBUS_DIR/squat.tmp"
	chown 65534 "$MDBUS_DIR/squat.tmp"
	chmod 0644 "$MDBUS_DIR/squat.tmp"
	mv "$MDBUS_DIR/squat.tmp" "$MDBUS_DIR/mdbus.squat"
	i=0
	while [ $i -lt 20 ]; do
		kill -0 $reader 2>/dev/null ||
			fail "--owner: ended on another user's file: $(cat "$WORK/squat.err")"
		sleep 0.05
		i=$((i + 1))
	done
	pub -R squat 3
	wait $reader || fail "--owner: exit status: $(cat "$WORK/squat.err")"
	[ "$(cut -d' ' -f2 "$WORK/squat" | tr '\n' ' ')" = "0 1 2 " ] ||
		fail "--owner: $(cat "$WORK/squat")"
fi

# a missing segment directory is no channel to wait for: an error at once
MDBUS_DIR="$WORK/no-such-dir" timeout 60 "$MDSUB" --wait-for-channel late \
	>/dev/null 2>"$WORK/nodir.err"
[ $? -eq 1 ] || fail "--wait-for-channel, no directory: exit status"
grep -q 'segment directory .*no-such-dir does not exist' "$WORK/nodir.err" ||
	fail "--wait-for-channel, no directory: $(cat "$WORK/nodir.err")"
exit 0
