#!/bin/sh
# --record writes the recording format of doc/protocol.md (never over an
# existing file without --force; mode 0600; name, messages and bytes said at the end): the same
# messages byte for byte as -o raw shows, a header naming channel and
# geometry, a file cut short readable to its last whole record, and
# mdpub's replay source reproducing the messages.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub -g 16:4 feed 14
status 0 "$MDSUB" --record "$WORK/feed.rec" --from oldest -u feed 2>"$WORK/rec.err"
size=$((120 + 14 * 24 + 4 * 64 + 2 * 56 + 2 * 88 + 2 * 64 + 2 * 24 + 2 * 8))
[ "$(tail -n 1 "$WORK/rec.err")" = "mdsub: $WORK/feed.rec: 14 messages recorded, $size bytes" ] ||
	fail "end of recording: $(cat "$WORK/rec.err")"
# the owner's only, whatever the umask lets: the channel's file mode may
# keep its data from others (0644 before, attack run)
[ "$(stat -c %a "$WORK/feed.rec")" = 600 ] || fail "recording mode $(stat -c %a "$WORK/feed.rec")"

# "-": the same recording on standard output
status 0 "$MDSUB" --record - --from oldest -u feed >"$WORK/stdout.rec" 2>"$WORK/stdout.err"
[ "$(tail -n 1 "$WORK/stdout.err")" = "mdsub: standard output: 14 messages recorded" ] ||
	fail "end of recording to stdout: $(cat "$WORK/stdout.err")"
# the same bytes but for create_ns (offset 104, 8 bytes)
cmp -s -i 0:0 -n 104 "$WORK/feed.rec" "$WORK/stdout.rec" &&
	cmp -s -i 112:112 "$WORK/feed.rec" "$WORK/stdout.rec" ||
	fail "recording on stdout differs from the file"

# an existing file is kept unless --force
cp "$WORK/feed.rec" "$WORK/keep.rec"
status 1 "$MDSUB" --record "$WORK/feed.rec" -t quote --from oldest -u feed 2>"$WORK/exists"
grep -qx "mdsub: $WORK/feed.rec exists: not replaced without --force" "$WORK/exists" ||
	fail "existing recording: $(cat "$WORK/exists")"
cmp -s "$WORK/keep.rec" "$WORK/feed.rec" || fail "existing recording changed"
status 0 "$MDSUB" --record "$WORK/forced.rec" -n 1 --from oldest feed 2>/dev/null
status 0 "$MDSUB" --record "$WORK/forced.rec" --force --from oldest -u feed 2>/dev/null
[ "$(wc -c <"$WORK/forced.rec")" -eq $size ] || fail "--force: not replaced"
# nor into a file its group or others may write, which whoever could
# write may hold open (a group member's hard link to a consumer table,
# 0660, kept after its channel was removed: attack run)
echo theirs >"$WORK/gw.rec"
chmod 0660 "$WORK/gw.rec"
status 1 "$MDSUB" --record "$WORK/gw.rec" --force -n 1 --from oldest feed 2>"$WORK/gw"
grep -qx "mdsub: $WORK/gw.rec may be written by its group or others (remove it): not written" \
	"$WORK/gw" || fail "group-writable target: $(cat "$WORK/gw")"
[ "$(cat "$WORK/gw.rec")" = theirs ] || fail "group-writable target changed"
# --force never writes through a symbolic link: one of another user in a
# sticky directory (/tmp) is refused as one too, where the kernel answers
# root's O_CREAT open with EACCES, not ELOOP
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 1777 "$WORK/sticky"
	ln -s "$WORK/keep.rec" "$WORK/sticky/link.rec"
	chown -h nobody "$WORK/sticky/link.rec"
	status 1 "$MDSUB" --record "$WORK/sticky/link.rec" --force -n 1 --from oldest feed \
		2>"$WORK/slink"
	grep -qx "mdsub: $WORK/sticky/link.rec is a symbolic link: not followed" "$WORK/slink" ||
		fail "another user's link: $(cat "$WORK/slink")"
	cmp -s "$WORK/keep.rec" "$WORK/feed.rec" || fail "link target changed"
fi
status 0 "$MDSUB" -o raw --from oldest -u feed >"$WORK/raw"
"$TOOL" recdump "$WORK/feed.rec" >"$WORK/dump" 2>"$WORK/header" ||
	fail "recdump"
same "$WORK/raw" "$WORK/dump" "recorded messages"
grep -qx 'version 0x10000 msg_version 1 channel feed slot 128 geometry 16x4 mode 0 header 120' \
	"$WORK/header" || fail "recording header: $(cat "$WORK/header")"
[ "$(wc -c <"$WORK/feed.rec")" -eq $size ] || fail "recording size"

# cut in the middle of the last record: the 13 whole ones remain
head -c $(($(wc -c <"$WORK/feed.rec") - 3)) "$WORK/feed.rec" >"$WORK/cut.rec"
"$TOOL" recdump "$WORK/cut.rec" >"$WORK/cut" 2>/dev/null || fail "recdump cut"
head -n 13 "$WORK/raw" >"$WORK/cut.want"
same "$WORK/cut.want" "$WORK/cut" "cut recording"

# filters apply to what is recorded
status 0 "$MDSUB" --record "$WORK/quotes.rec" -t quote --from oldest -u feed 2>/dev/null
"$TOOL" recdump "$WORK/quotes.rec" >"$WORK/quotes" 2>/dev/null
grep '^feed [0-9]* [0-9]* 1 ' "$WORK/raw" >"$WORK/quotes.want"
same "$WORK/quotes.want" "$WORK/quotes" "filtered recording"

status 1 "$MDSUB" --record "$WORK/nodir/x.rec" --from oldest -u feed 2>/dev/null

# a live recording ended by SIGINT holds every message read
pub live 0
"$MDSUB" --record "$WORK/live.rec" live 2>/dev/null &
recorder=$!
wait_registered live 1
pub live 5
wait_for sh -c "\"$MDSUB\" --status live | grep -Eq ' alive +5 '"
kill -INT $recorder
wait $recorder || fail "recorder: exit status after SIGINT"
"$TOOL" recdump "$WORK/live.rec" 2>/dev/null | cut -d' ' -f2 | tr '\n' ' ' >"$WORK/seqs"
[ "$(cat "$WORK/seqs")" = "0 1 2 3 4 " ] || fail "live recording: $(cat "$WORK/seqs")"

# replay through mdpub: the same messages, timestamps included
if [ ! -x "${MDPUB:-}" ]; then
	echo "SKIP (part): mdpub not built, replay not checked"
	exit 0
fi
cat >"$WORK/replay.conf" <<CONF
[channel replayed]
source = replay
file = $WORK/feed.rec
speed = 0
timestamps = recorded
CONF
"$MDPUB" -c "$WORK/replay.conf" 2>"$WORK/mdpub.log" || fail "mdpub replay: $(cat "$WORK/mdpub.log")"
status 0 "$MDSUB" -o raw --from oldest -u replayed >"$WORK/replayed"
payloads "$WORK/raw" >"$WORK/a"
payloads "$WORK/replayed" >"$WORK/b"
same "$WORK/a" "$WORK/b" "replayed messages"
exit 0
