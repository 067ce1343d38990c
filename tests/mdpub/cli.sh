#!/bin/sh
# mdpub without a configuration file: --replay FILE [CHANNEL] (the
# recorded geometry and mode (a ring over 1 GiB refused while the
# recording chose part of its geometry, page-rounded blocks counted), the
# channel the header names, --speed,
# --loop, --set), --lines FILE|- CHANNEL with an exit status that says
# whether every line was published, hostile recordings refused or
# published up to their damage (exit 2); and, with mdsub, the CSV that
# `mdsub -o csv` writes published again by --lines to the same messages,
# every type, exactly.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

usage() { # usage ARGS...: a usage error, exit 64
	status 64 "$MDPUB" "$@" 2>"$WORK/usage.err"
	grep -q "mdpub --help" "$WORK/usage.err" || fail "mdpub $*: $(cat "$WORK/usage.err")"
}
usage --speed 2
usage --loop
usage --set mode=lossless
usage --replay x.rec --lines - c
usage --lines - 
usage --lines - c extra
usage --replay x.rec -c "$WORK/none.conf"
usage --replay x.rec --speed -1
usage --replay x.rec --set novalue
usage --lines - c --speed 2

# a hand-made recording: channel "rec", 256-byte slots x 64 x 2, a gap
# (seq 11 to 14), 1 s of recorded time
{
	header 65536
	record 10 1000000000 a
	record 11 1500000000 bb
	record 14 2000000000 ccc
} >"$WORK/hand.rec"
t0=$(date +%s%N)
status 0 "$MDPUB" --replay "$WORK/hand.rec" --speed 2 2>"$WORK/hand.log"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -ge 450 ] || fail "1 s of recording at --speed 2 in $(((t1 - t0) / 1000000)) ms"
status 0 "$READER" --until down --dump rec >"$WORK/rec.out"
printf 'M 9 1\nM 9 2\nM 9 3\n' >"$WORK/want"
grep '^M' "$WORK/rec.out" >"$WORK/got"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "replayed messages"
grep -q "channel rec: publishing from sequence 0, source replay, segment $MDBUS_DIR/mdbus.rec (" "$WORK/hand.log" ||
	fail "not the recorded channel"
grep -q "channel rec: in 3 out 3 malformed 0 gaps 1 (lost 2) " "$WORK/hand.log" || fail "counters"
[ -x "${MDSUB:-}" ] && { "$MDSUB" --status rec | grep -q "geometry: slot 256 B x 64 x 2 blocks" ||
	fail "recorded geometry not used: $("$MDSUB" --status rec)"; }

# another channel, a geometry and recorded timestamps set, as fast as possible
status 0 "$MDPUB" --replay "$WORK/hand.rec" other --speed 0 --set slot_size=128 \
	--set timestamps=recorded --set mode=lossless 2>"$WORK/other.log"
if [ -x "${MDSUB:-}" ]; then
	"$MDSUB" --status other | grep -q "other: layout .*, lossless" || fail "--set mode"
	"$MDSUB" --status other | grep -q "geometry: slot 128 B x 64 x 2 blocks" || fail "--set slot_size"
	status 0 "$MDSUB" -o raw --from oldest -u -t 9 other >"$WORK/other.raw" 2>/dev/null
	cut -d' ' -f3 "$WORK/other.raw" | tr '\n' ' ' >"$WORK/ts"
	[ "$(cat "$WORK/ts")" = "1000000000 1500000000 2000000000 " ] || fail "recorded timestamps: $(cat "$WORK/ts")"
fi
status 1 "$MDPUB" --replay "$WORK/hand.rec" --set nosuchkey=1 2>"$WORK/bad.log"
grep -q "command line: unknown key 'nosuchkey' (neither a channel key nor one of source replay)" "$WORK/bad.log" ||
	fail "--set nosuchkey: $(cat "$WORK/bad.log")"

# --keep-seq: the recorded sequence numbers, the ones before and between
# them counted lost by readers, no message of mdpub's own; a second replay
# into the same channel finds it past every record: nothing published, 2
status 0 "$MDPUB" --replay "$WORK/hand.rec" kept --speed 0 --keep-seq 2>"$WORK/kept.log"
status 0 "$READER" --until caught-up kept >"$WORK/kept.out"
grep -qx "messages 3 quote 0 trade 0 status 0 heartbeat 0 other 3 lost 2" "$WORK/kept.out" ||
	fail "--keep-seq: $(cat "$WORK/kept.out")"
grep -q "^first 10 last 14 " "$WORK/kept.out" || fail "--keep-seq: $(cat "$WORK/kept.out")"
if [ -x "${MDSUB:-}" ]; then
	status 0 "$MDSUB" -o raw --from oldest -u kept 2>/dev/null | cut -d' ' -f2,6 >"$WORK/got"
	printf '10 10\n11 0\n14 2\n' >"$WORK/want"
	diff -u "$WORK/want" "$WORK/got" >&2 || fail "--keep-seq: seq and lost"
fi
status 2 "$MDPUB" --replay "$WORK/hand.rec" kept --speed 0 --keep-seq 2>"$WORK/kept2.log"
grep -q "channel kept: $WORK/hand.rec: record of seq 10 not published: the channel's next sequence number is 15 (keep_seq)" \
	"$WORK/kept2.log" || fail "--keep-seq behind: $(cat "$WORK/kept2.log")"
grep -q "channel kept: in 0 out 0 malformed 3 " "$WORK/kept2.log" || fail "--keep-seq behind: counters"
usage --replay x.rec --keep-seq --lines - c
# a record past where a skip may take the channel (2^61, mdbus_pub_skip()):
# not published, counted malformed, exit 2; the next one, which goes back
# to 2, is published and counts no loss. Before, the far record was
# dropped unsaid and mdpub exited 0
{ header 65536; record 1 1 a; record $((1 << 62)) 2 bb; record 2 3 c; } >"$WORK/far.rec"
status 2 "$MDPUB" --replay "$WORK/far.rec" far --speed 0 --keep-seq 2>"$WORK/far.log"
grep -q "channel far: in 2 out 2 malformed 1 gaps 1 (lost 4611686018427387902) " "$WORK/far.log" ||
	fail "--keep-seq past the skip limit: $(grep 'channel far: in' "$WORK/far.log")"
status 1 "$MDPUB" --replay "$WORK/hand.rec" --keep-seq --loop 2>"$WORK/kl.log"
grep -q "keep_seq and loop exclude each other" "$WORK/kl.log" || fail "--keep-seq --loop: $(cat "$WORK/kl.log")"

# --loop: stopped by --duration, every record it read published: 0
status 0 "$MDPUB" --replay "$WORK/hand.rec" looped --speed 0 --loop -d 0.3 2>"$WORK/loop.log"
grep -q "channel looped: in [1-9][0-9]* out [1-9][0-9]* malformed 0 .* dropped 0 " "$WORK/loop.log" || fail "--loop"
# stopped before the end: 2
status 2 "$MDPUB" --replay "$WORK/hand.rec" slow --speed 0.1 -d 0.3 2>"$WORK/slow.log"

# hostile recordings: refused (1) with the reason, or published up to a
# corrupt record (2); a FIFO neither blocks nor is read
printf 'NOTAREC!%0120d' 0 >"$WORK/magic.rec"
status 1 "$MDPUB" --replay "$WORK/magic.rec" 2>"$WORK/h.log"
grep -q "$WORK/magic.rec is not an mdbus recording" "$WORK/h.log" || fail "magic: $(cat "$WORK/h.log")"
status 1 "$MDPUB" --replay "$WORK/magic.rec" chan 2>"$WORK/h.log"
grep -q "channel chan: $WORK/magic.rec is not an mdbus recording" "$WORK/h.log" || fail "magic: $(cat "$WORK/h.log")"
{ header 65536 4294967295; record 1 1 a; } >"$WORK/hbig.rec"
status 1 "$MDPUB" --replay "$WORK/hbig.rec" 2>"$WORK/h.log"
grep -q "hbig.rec: header size 4294967295 out of range" "$WORK/h.log" || fail "hbig: $(cat "$WORK/h.log")"
mkfifo "$WORK/fifo.rec"
status 1 timeout 60 "$MDPUB" --replay "$WORK/fifo.rec" chan 2>"$WORK/h.log"
grep -q "fifo.rec is not a regular file" "$WORK/h.log" || fail "fifo: $(cat "$WORK/h.log")"
{ header 65536; record 1 1 a; le 4294967295 4; le 9 2; le 0 2; le 2 8; le 1 8; } >"$WORK/huge.rec"
status 2 "$MDPUB" --replay "$WORK/huge.rec" --speed 0 2>"$WORK/h.log"
grep -q "channel rec: in 1 out 1 malformed 1 " "$WORK/h.log" || fail "corrupt record: $(cat "$WORK/h.log")"
# a recorded geometry no channel can have: the defaults
{ printf 'MDBUSREC'; le 65536 4; le 1 4; printf '%-72s' odd | tr ' ' '\000'
  le 100 4; le 3 4; le 0 4; le 7 4; le 0 8; le 120 4; le 0 4; record 1 1 a; } >"$WORK/odd.rec"
status 0 "$MDPUB" --replay "$WORK/odd.rec" --speed 0 2>"$WORK/odd.log"
grep -q "channel odd: in 1 out 1 " "$WORK/odd.log" || fail "odd geometry: $(cat "$WORK/odd.log")"
# a recorded ring of 2 GiB (1024 B x 65536 x 32): refused before anything
# is made, the sizes and the fix named; with a geometry named, it replays
bigrec() { # bigrec FILE CHANNEL SLOT_SIZE SLOTS_PER_BLOCK BLOCK_COUNT
	{ printf 'MDBUSREC'; le 65536 4; le 1 4; printf '%-72s' "$2" | tr ' ' '\000'
	  le "$3" 4; le "$4" 4; le "$5" 4; le 0 4; le 0 8; le 120 4; le 0 4
	  record 1 1 a; } >"$1"
}
too_big() { # too_big WHAT CHANNEL MIB SLOT_SIZE SLOTS_PER_BLOCK BLOCK_COUNT MDPUB-ARGS...
	what=$1 ch=$2 mib=$3 geom="slot_size $4, slots_per_block $5, block_count $6"
	shift 6
	status 1 "$MDPUB" "$@" --speed 0 2>"$WORK/big.log"
	grep -q "mdpub\[err\]: $WORK/$ch.rec: the recording's geometry makes a ring of $mib MiB ($geom), more than the 1024 MiB --replay takes from a recording: name a smaller geometry with --set (block_count=N), or all three keys (mdpub(8))$" \
		"$WORK/big.log" || fail "$what: $(cat "$WORK/big.log")"
	[ ! -e "$MDBUS_DIR/mdbus.$ch" ] || fail "$what: a segment was made"
}
bigrec "$WORK/big.rec" big 1024 65536 32
too_big "2 GiB recorded ring" big 2048 1024 65536 32 --replay "$WORK/big.rec"
# 64-byte slots one to a block: 32 MiB of slots, but each block is a page,
# a segment of 2 GiB
bigrec "$WORK/pages.rec" pages 64 1 524288
too_big "a ring of pages" pages 2048 64 1 524288 --replay "$WORK/pages.rec"
# two keys named, the slot size the recording's: 2 MiB blocks x 1024 =
# 2 GiB; one named, the others making a 2 GiB block
too_big "block_count named" big 2048 1024 2048 1024 --replay "$WORK/big.rec" \
	--set slots_per_block=2048 --set block_count=1024
bigrec "$WORK/wide.rec" wide 1024 2097152 2
too_big "one block of 2 GiB" wide 2048 1024 2097152 1 --replay "$WORK/wide.rec" \
	--set block_count=1
status 0 "$MDPUB" --replay "$WORK/big.rec" --speed 0 --set slots_per_block=64 \
	--set block_count=2 2>"$WORK/big2.log"
grep -q "channel big: in 1 out 1 " "$WORK/big2.log" || fail "big, geometry named: $(cat "$WORK/big2.log")"
[ -x "${MDSUB:-}" ] && { "$MDSUB" --status big | grep -q "geometry: slot 1024 B x 64 x 2 blocks" ||
	fail "big, geometry named: $("$MDSUB" --status big)"; }
# a recorded channel name that is no channel name (a hostile file): the
# recording named, not the name's bytes (a terminal escape here), and the
# fix; named on the command line, it replays
{ printf 'MDBUSREC'; le 65536 4; le 1 4; printf '\033[2Jx%-67s' '' | tr ' ' '\000'
  le 128 4; le 16 4; le 4 4; le 0 4; le 0 8; le 120 4; le 0 4; record 1 1 a; } >"$WORK/esc.rec"
status 1 "$MDPUB" --replay "$WORK/esc.rec" --speed 0 2>"$WORK/esc.log"
grep -q "mdpub\[err\]: $WORK/esc.rec: the channel it recorded has no valid channel name: name one (mdpub --replay FILE CHANNEL)$" \
	"$WORK/esc.log" || fail "recorded name: $(cat -v "$WORK/esc.log")"
tr -d '\033' <"$WORK/esc.log" | cmp -s - "$WORK/esc.log" || fail "escape byte logged: $(cat -v "$WORK/esc.log")"
status 0 "$MDPUB" --replay "$WORK/esc.rec" named --speed 0 2>"$WORK/esc2.log"
grep -q "channel named: in 1 out 1 " "$WORK/esc2.log" || fail "named: $(cat -v "$WORK/esc2.log")"

# --lines: all published (0), or not (2), from a file or standard input
printf 'Q,AAPL,1,2,3,4\nT,MSFT,5,6\n' >"$WORK/good.csv"
status 0 "$MDPUB" --lines "$WORK/good.csv" good 2>"$WORK/good.log"
grep -q "channel good: in 2 out 2 malformed 0 " "$WORK/good.log" || fail "--lines file"
printf 'Q,AAPL,1,2,3,4\nnot a line\nT,MSFT,5,6\n' | status 2 "$MDPUB" --lines - partial 2>"$WORK/partial.log"
grep -q "channel partial: in 2 out 2 malformed 1 " "$WORK/partial.log" || fail "--lines -: $(cat "$WORK/partial.log")"
status 0 "$READER" --until down --dump partial >"$WORK/partial.out"
[ "$(grep -c '^[QT] ' "$WORK/partial.out")" -eq 2 ] || fail "--lines -: messages"
status 1 "$MDPUB" --lines "$WORK/none.csv" none 2>"$WORK/none.log"
grep -q "channel none: $WORK/none.csv: No such file or directory" "$WORK/none.log" || fail "--lines missing file"

# mdsub -o csv | mdpub --lines - : every type (and malformed messages,
# by their payload bytes) published again to the same CSV but for the
# channel, seq and ts_ns columns (the new channel's own), mdpub's own
# status messages aside (--exclude)
[ -x "${MDSUB:-}" ] || { echo "round trip skipped: mdsub not built"; exit 0; }
TOOL=$top_builddir/tests/mdsub/testtool
[ -x "$TOOL" ] || { echo "round trip skipped: no testtool"; exit 0; }
"$TOOL" pub feed 28 || fail "testtool"
"$TOOL" pub -m bad 12 || fail "testtool -m"
channel syn.conf syn source=synthetic rate=0 count=500
status 0 "$MDPUB" -c "$WORK/syn.conf" 2>"$WORK/syn.log"
own='"mdpub (started|stopping)"$' # the status messages mdpub publishes
for ch in feed bad syn; do
	status 0 "$MDSUB" -o csv --from oldest -u --exclude "$own" $ch >"$WORK/$ch.csv" 2>/dev/null
	status 0 "$MDPUB" --lines - "$ch.again" <"$WORK/$ch.csv" 2>"$WORK/$ch.log"
	status 0 "$MDSUB" -o csv --from oldest -u --exclude "$own" \
		"$ch.again" >"$WORK/$ch.again.csv" 2>/dev/null
	cut -d, -f4- "$WORK/$ch.csv" >"$WORK/want"
	cut -d, -f4- "$WORK/$ch.again.csv" >"$WORK/got"
	[ "$(wc -l <"$WORK/want")" -gt 12 ] || fail "$ch: $(wc -l <"$WORK/want") lines"
	diff -u "$WORK/want" "$WORK/got" >&2 || fail "$ch: CSV round trip"
done
exit 0
