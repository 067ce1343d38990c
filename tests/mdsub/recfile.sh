#!/bin/sh
# Recordings as files: `mdsub FILE.rec` / `--file FILE` prints every
# format exactly as the live channel, filters, converts (--record) and
# measures (--summary) them; --info shows header, counts, ranges, gaps and
# the tail; --verify's exit status says exactly what is wrong; hostile
# files (cut, absurd sizes, wrong magic, FIFO, huge header_size, a
# directory) get a clear error, never a hang or a crash.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub feed 14
status 0 "$MDSUB" --record "$WORK/feed.rec" --from oldest -u feed 2>/dev/null
cd "$WORK" || fail "cd"
cp feed.rec feed.data

# every format, from FILE.rec, ./FILE and --file FILE
for fmt in text csv json raw; do
	status 0 "$MDSUB" -o $fmt feed.rec >"out.$fmt" 2>err
	same "$EXPECTED/expected.$fmt" "out.$fmt" "-o $fmt of a recording"
	[ -s err ] && fail "-o $fmt of a recording: $(cat err)"
done
status 0 "$MDSUB" -o raw ./feed.data >out 2>/dev/null
same "$EXPECTED/expected.raw" out "./FILE"
status 0 "$MDSUB" -o raw --file feed.data >out 2>/dev/null
same "$EXPECTED/expected.raw" out "--file FILE"
# not a file of that name: a channel
status 1 "$MDSUB" nosuch.rec 2>err
grep -q "channel nosuch.rec in $MDBUS_DIR: No such file or directory" err || fail "nosuch.rec: $(cat err)"

# filters, -n and --from SEQ as for a channel
status 0 "$MDSUB" -o raw -t quote,trade --grep AAPL -n 1 feed.rec >out
grep -m 1 -E '^feed [0-9]+ [0-9]+ [12] .* 4141504c' "$EXPECTED/expected.raw" >want
same want out "filters on a recording"
status 0 "$MDSUB" -o raw --from 10 feed.rec >out
tail -n 4 "$EXPECTED/expected.raw" >want
same want out "--from 10 on a recording"

# converted: a filtered recording of the recording
status 0 "$MDSUB" --record quotes.rec -t quote feed.rec 2>err
grep -qx "mdsub: quotes.rec: 2 messages recorded, 296 bytes" err || fail "--record of a recording: $(cat err)"
"$TOOL" recdump quotes.rec >out 2>hdr
grep -E '^feed [0-9]+ [0-9]+ 1 ' "$EXPECTED/expected.raw" >want
same want out "converted recording"
grep -qx 'version 0x10000 msg_version 1 channel feed slot 128 geometry 4096x16 mode 0 header 120' hdr ||
	fail "converted recording header: $(cat hdr)"

# measured in recorded time: 14 messages over 13 us
status 0 "$MDSUB" -q --summary feed.rec 2>err
grep -qx "feed: 14 messages, 736 bytes in 0.000 s (1076923 msg/s), lost 0 in 0 gaps, recorded" err ||
	fail "--summary of a recording: $(cat err)"

# a recorded channel name that is none (escape sequences, a newline: a
# hostile file's bytes that mdsub would print as the channel's name):
# refused in one line that holds none of them, exit 1. Before, read, and
# the bytes reached the terminal in its loss reports and summary
printf 'X\033]0;PWNED\007\nmdsub: fake' >esc.name
{
	printf 'MDBUSREC'; le 65536 4; le 1 4
	cat esc.name
	head -c $((72 - $(wc -c <esc.name))) /dev/zero
	le 256 4; le 64 4; le 2 4; le 0 4; le 0 8; le 120 4; le 0 4
	record 1 1 a
	record 5 2 b
} >esc.rec
status 1 "$MDSUB" -q --summary esc.rec >out 2>err
[ "$(cat err)" = "mdsub: esc.rec: the channel it recorded has no valid channel name (mdsub --info shows it, escaped)" ] ||
	fail "a recorded name that is none: $(cat -v err)"
[ ! -s out ] || fail "a recorded name that is none: printed $(cat -v out)"

# --info, exact; a hand-made recording with a gap, a sequence going back,
# a malformed quote and a cut tail
{
	header 65536
	record 5 2000000000 a
	record 6 2500000000 bb
	record 9 2000000000 ccc
	record 8 3000000000 q 1
	le 100 4; le 9 2
} >hand.rec
status 0 "$MDSUB" --info hand.rec >out
cat >want <<'END'
hand.rec:
  format:     1.0, message types version 1
  channel:    rec, slot 256 B x 64 x 2 blocks, overwrite
  created:    1970-01-01T00:00:00.000000000Z
  records:    4, 7 payload bytes, 229 bytes in the file, 1 malformed
  sequence:   5 .. 8, 1 gaps (2 messages lost), 1 going back
  time:       1970-01-01T00:00:02.000000000Z .. 1970-01-01T00:00:03.000000000Z (1.000000000 s), 1 going back
  tail:       cut: 6 bytes of a record at offset 223 (every record before it whole)
END
same want out "--info"

# --verify: one code per finding, the lowest of several
verify() { # verify CODE FILE TEXT
	status "$1" "$MDSUB" --verify "$2" >out 2>err
	grep -qF -- "$3" out err || fail "--verify $2: $(cat out err)"
}
verify 0 feed.rec "feed.rec: intact: 14 records, seq 0 .. 13, 0 gaps (0 lost), 0 going back, 0 malformed, tail whole"
verify 4 hand.rec "hand.rec: cut: 4 records"
{ header 65536; record 1 1 a; record 2 1 b; record 1 1 c; } >back.rec
verify 5 back.rec "back.rec: sequence goes back: 3 records"
{ header 65536; record 1 1 a; record 3 1 b; } >gap.rec
verify 6 gap.rec "gap.rec: gaps: 2 records, seq 1 .. 3, 1 gaps (1 lost)"
# four gaps of 2^62 each (the sequence going back between them): the
# counts stop at 2^64 - 1, where they used to wrap to "0 lost"
far=$(((1 << 62) + 1))
{ header 65536; for i in 1 2 3 4; do record 0 1 a; record $far 1 b; done; } >wrap.rec
verify 5 wrap.rec "wrap.rec: sequence goes back: 8 records, seq 0 .. $far, 4 gaps (18446744073709551615 lost)"
status 0 "$MDSUB" -q --summary wrap.rec 2>err
grep -q "lost 18446744073709551615 in 4 gaps" err || fail "summary of wrap.rec: $(cat err)"
{ header 65536; record 1 1 abc 2; } >bad.rec
verify 7 bad.rec "bad.rec: malformed messages: 1 records"
{ header 65536; record 1 1 a; le 4294967295 4; le 9 2; le 0 2; le 2 8; le 1 8; printf x; } >huge.rec
verify 3 huge.rec "huge.rec: corrupt record: 1 records"
{ header 65536; record 1 1 a; le 1048576 4; le 9 2; le 0 2; le 2 8; le 1 8; printf x; } >short.rec
verify 4 short.rec "tail cut: 25 bytes of a record at offset 145"
printf 'NOTAREC!%0120d' 0 >magic.rec
verify 2 magic.rec "mdsub: magic.rec is not an mdbus recording"
header 131072 >v2.rec
verify 2 v2.rec "v2.rec: recording format 2.0, this library reads 1.x"
{ header 65536 4294967295; record 1 1 a; } >hbig.rec
verify 2 hbig.rec "hbig.rec: header size 4294967295 out of range"
printf MDBUSREC >stub.rec
verify 2 stub.rec "stub.rec ends inside its header (8 of 120 bytes)"
verify 1 none.rec "mdsub: none.rec: No such file or directory"
mkdir dir.rec
verify 1 dir.rec "mdsub: dir.rec is not a regular file"
mkfifo fifo.rec
verify 1 fifo.rec "mdsub: fifo.rec is not a regular file"
status 1 timeout 60 "$MDSUB" fifo.rec 2>err
grep -qx "mdsub: fifo.rec is not a regular file" err || fail "reading a FIFO: $(cat err)"
# several files: the lowest code, a report for each
status 2 "$MDSUB" --verify gap.rec magic.rec hand.rec >out 2>err
[ "$(wc -l <out)" -eq 2 ] || fail "--verify of three files: $(cat out)"

# reading a hostile recording: a cut one ends at its last whole record
# (exit 0, said on stderr), a corrupt one fails after what it could read
status 0 "$MDSUB" -o raw hand.rec >out 2>err
[ "$(wc -l <out)" -eq 4 ] || fail "cut recording: $(cat out)"
grep -qx "mdsub: hand.rec: the recording is cut: it ends inside a record at offset 223; every record before it was read" err ||
	fail "cut recording: $(cat err)"
status 1 "$MDSUB" -o raw huge.rec >out 2>err
[ "$(wc -l <out)" -eq 1 ] || fail "corrupt recording: $(cat out)"
grep -qxF "mdsub: huge.rec: the record at offset 145 claims 4294967295 payload bytes, more than the 1048576 (1 MiB) a record holds: the file is corrupt from there on; every record before it is whole, and \`head -c 145 huge.rec > FIXED.rec\` keeps them; not read further" err ||
	fail "corrupt: $(cat err)"
# one byte over 1 MiB: said as precisely, by --info too; the fix it
# names gives an intact recording of the records before it
{ header 65536; record 1 1 a; le 1048577 4; le 9 2; le 0 2; le 2 8; le 1 8; head -c 1048577 /dev/zero; record 3 1 c; } >over.rec
status 1 "$MDSUB" -o raw over.rec >out 2>err
grep -qF "over.rec: the record at offset 145 claims 1048577 payload bytes, more than the 1048576 (1 MiB) a record holds" err ||
	fail "1 MiB + 1: $(cat err)"
status 0 "$MDSUB" --info over.rec >out
grep -qxF "  tail:       the record at offset 145 claims 1048577 payload bytes, more than the 1048576 (1 MiB) a record holds: the file is corrupt from there on; every record before it is whole, and \`head -c 145 over.rec > FIXED.rec\` keeps them (1048626 bytes not read)" out ||
	fail "--info 1 MiB + 1: $(cat out)"
head -c 145 over.rec >fixed.rec
verify 0 fixed.rec "fixed.rec: intact: 1 records, seq 1 .. 1"
status 1 "$MDSUB" magic.rec 2>/dev/null
exit 0
