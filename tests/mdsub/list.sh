#!/bin/sh
# --list, --status and --watch show each channel's geometry, mode,
# publisher, write count and consumers (name, pid, process, position, lag,
# loss, rate). Spoiled segments found by listing are shown with their
# reason beside the good channels, and the listing still exits 0; a
# channel named that cannot be read makes it 1.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

status 0 "$MDSUB" --list >"$WORK/empty"
[ "$(wc -l <"$WORK/empty")" -eq 1 ] || fail "empty directory: $(cat "$WORK/empty")"
grep -q '^CHANNEL  *MODE  *SLOT  *CAPACITY  *STATE  *PID  *HB_AGE  *WRITE_NUM  *RATE/S  *CONSUMERS  *OWNER$' \
	"$WORK/empty" || fail "--list header: $(cat "$WORK/empty")"

pub -g 16:4 alpha 3
pub -l beta 70
"$MDSUB" -N watcher --from 1 -n 1000 alpha >/dev/null 2>&1 &
reader=$!
trap 'kill $reader 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_registered alpha 1

status 0 "$MDSUB" --list >"$WORK/list"
awk 'NR == 2 { print $1, $2, $3, $4, $5, $8, $10 }
     NR == 3 { print $1, $2, $3, $4, $5, $8, $10 }' "$WORK/list" >"$WORK/got"
printf '%s\n' 'alpha overwrite 128 64 stopped 3 1/64' \
	'beta lossless 128 65536 stopped 70 0/64' >"$WORK/want"
same "$WORK/want" "$WORK/got" "--list fields"
[ "$(wc -l <"$WORK/list")" -eq 3 ] || fail "--list lines"

status 0 "$MDSUB" --status alpha >"$WORK/status"
grep -q '^alpha: layout 4\.1, overwrite, created ' "$WORK/status" || fail "status: title"
grep -q '^  geometry: slot 128 B x 16 x 4 blocks = 64 slots, [0-9]* bytes$' \
	"$WORK/status" || fail "status: geometry"
grep -q '^  publisher: stopped, pid [0-9]*, heartbeat age ' "$WORK/status" ||
	fail "status: publisher"
grep -q '^  write_num: 3, rate 0 msg/s$' "$WORK/status" || fail "status: write_num"
grep -Eq "^  watcher +$reader [a-z-]*mdsub +alive +3 +0 +0 +0$" "$WORK/status" ||
	fail "status: consumer: $(cat "$WORK/status")"
status 0 "$MDSUB" --status >"$WORK/all"
[ "$(grep -c ': layout ' "$WORK/all")" -eq 2 ] || fail "--status: all channels"
# a channel named that cannot be read: shown with the reason (and on
# stderr), exit status 1
status 1 "$MDSUB" --status nosuch >"$WORK/nosuch" 2>"$WORK/nosuch.err"
grep -q '^nosuch: unreadable: ' "$WORK/nosuch" || fail "--status nosuch: $(cat "$WORK/nosuch")"
grep -q '^mdsub: nosuch: ' "$WORK/nosuch.err" || fail "--status nosuch: $(cat "$WORK/nosuch.err")"
status 1 "$MDSUB" --status nosuch alpha >"$WORK/some" 2>/dev/null
[ "$(grep -c ': layout ' "$WORK/some")" -eq 1 ] || fail "--status nosuch alpha: alpha shown"

# --owner: segments of another user are refused, ours read
me=$(id -u) other=$(( $(id -u) + 1 ))
status 0 "$MDSUB" --owner="$me" --status alpha >"$WORK/mine"
grep -q '^alpha: layout ' "$WORK/mine" || fail "--owner=me: $(cat "$WORK/mine")"
status 1 "$MDSUB" --owner="$other" --status alpha 2>"$WORK/other"
grep -q "^mdsub: alpha: .*belongs to uid $me, not to the expected owner (uid $other)" \
	"$WORK/other" || fail "--owner=other: $(cat "$WORK/other")"
status 1 "$MDSUB" --owner="$other" -n 1 alpha 2>"$WORK/other.err"
grep -q "belongs to uid $me" "$WORK/other.err" || fail "read --owner=other"
MDBUS_OWNER=$other "$MDSUB" --status alpha 2>"$WORK/env"
grep -q '^mdsub: alpha: .*expected owner' "$WORK/env" || fail "MDBUS_OWNER"

status 0 "$MDSUB" --watch=0.1 -d 0.5 alpha >"$WORK/watch"
[ "$(grep -c '^alpha: layout' "$WORK/watch")" -ge 3 ] || fail "--watch refreshes"

# spoiled segments found by listing (garbage, a cut one, one too short
# for a header, a directory, another user's garbage): every good channel
# listed, each bad one with its reason (also on stderr), exit status 0
# (the listing worked), never a crash
head -c 5000 /dev/urandom >"$MDBUS_DIR/mdbus.junk"
pub cut 1
truncate -s 5000 "$MDBUS_DIR/mdbus.cut"
printf x >"$MDBUS_DIR/mdbus.tiny"
mkdir "$MDBUS_DIR/mdbus.adir"
head -c 4096 /dev/zero >"$MDBUS_DIR/mdbus.zz"
[ "$(id -u)" -eq 0 ] && chown 65534 "$MDBUS_DIR/mdbus.zz"
status 0 "$MDSUB" --list >"$WORK/junk" 2>"$WORK/junk.err"
grep -q '^mdsub: junk: channel junk: not an mdbus segment (magic ' "$WORK/junk.err" ||
	fail "--list junk: $(cat "$WORK/junk.err")"
[ "$(wc -l <"$WORK/junk")" -eq 8 ] || fail "--list junk: rows: $(cat "$WORK/junk")"
grep -Eq '^alpha +overwrite ' "$WORK/junk" && grep -Eq '^beta +' "$WORK/junk" ||
	fail "--list junk: good rows: $(cat "$WORK/junk")"
grep -Eq '^junk +unreadable: channel junk: not an mdbus segment \(magic [0-9a-f]+\)$' "$WORK/junk" &&
	grep -Eq '^cut +unreadable: channel cut: truncated segment: needs [0-9]+ bytes, file has 5000: remove it \(its publisher makes it anew\)$' "$WORK/junk" &&
	grep -Eq '^tiny +unreadable: channel tiny: truncated segment \(1 bytes\): remove it \(its publisher makes it anew\)$' "$WORK/junk" &&
	grep -Eq '^adir +unreadable: channel adir: the file under its name is a directory' "$WORK/junk" &&
	grep -Eq '^zz +unreadable: channel zz: ' "$WORK/junk" ||
	fail "--list junk: bad rows: $(cat "$WORK/junk")"
status 0 "$MDSUB" --list -o json >"$WORK/junk.json" 2>/dev/null
"$TOOL" json <"$WORK/junk.json" || fail "--list -o json junk: not JSON"
[ "$("$TOOL" jget channels.0.channel channels.0.write_num channels.1.channel \
	channels.3.channel channels.3.error channels.3.mode <"$WORK/junk.json" | tr '\n' ' ')" = \
	"adir absent alpha cut channel cut: truncated segment: needs 8392704 bytes, file has 5000: remove it (its publisher makes it anew) absent " ] ||
	fail "--list -o json junk: $(cat "$WORK/junk.json")"
status 0 "$MDSUB" --status >"$WORK/junk.status" 2>/dev/null
grep -q '^alpha: layout ' "$WORK/junk.status" && grep -q '^junk: unreadable: ' "$WORK/junk.status" ||
	fail "--status junk: $(cat "$WORK/junk.status")"
status 0 "$MDSUB" --status -o json >"$WORK/junk.json" 2>/dev/null
"$TOOL" json <"$WORK/junk.json" || fail "--status -o json junk: not JSON"
status 0 "$MDSUB" --status -o prometheus >"$WORK/junk.prom" 2>/dev/null
grep -qx 'mdbus_channel_readable{channel="junk"} 0' "$WORK/junk.prom" &&
	grep -qx 'mdbus_channel_readable{channel="alpha"} 1' "$WORK/junk.prom" ||
	fail "--status -o prometheus junk: $(grep readable "$WORK/junk.prom")"
# named, a bad one makes the status 1, the good one still shown
status 1 "$MDSUB" --status alpha junk >"$WORK/named" 2>/dev/null
grep -q '^alpha: layout ' "$WORK/named" && grep -q '^junk: unreadable: ' "$WORK/named" ||
	fail "--status alpha junk: $(cat "$WORK/named")"
rm -rf "$MDBUS_DIR/mdbus.cut" "$MDBUS_DIR"/mdbus.cut+* "$MDBUS_DIR/mdbus.tiny" \
	"$MDBUS_DIR/mdbus.adir" "$MDBUS_DIR/mdbus.zz"
"$MDSUB" junk 2>"$WORK/junkerr"
[ $? -eq 1 ] || fail "reading junk: exit status"
grep -q '^mdsub: junk: cannot subscribe: .*not an mdbus segment' "$WORK/junkerr" ||
	fail "reading junk: $(cat "$WORK/junkerr")"

# a segment directory that cannot be listed is named, from MDBUS_DIR as
# from -D
MDBUS_DIR="$WORK/no-such-dir" "$MDSUB" --list 2>"$WORK/nodir.err"
[ $? -eq 1 ] || fail "--list, no directory: exit status"
grep -qx "mdsub: segment directory $WORK/no-such-dir: No such file or directory" \
	"$WORK/nodir.err" || fail "--list, MDBUS_DIR missing: $(cat "$WORK/nodir.err")"
"$MDSUB" --list -D "$WORK/no-such-dir" 2>"$WORK/nodir.err"
[ $? -eq 1 ] || fail "--list -D, no directory: exit status"
grep -qx "mdsub: segment directory $WORK/no-such-dir: No such file or directory" \
	"$WORK/nodir.err" || fail "--list -D missing: $(cat "$WORK/nodir.err")"
exit 0
