#!/bin/sh
# The replay source end to end: a hand-made recording (doc/protocol.md) with a
# sequence gap and a cut last record; one whose sequence goes back, logged; the recorded pace; huge records do not
# hold up a stop; a timestamp jump of 2^63 ns waits max_wait, logged; bad
# files refused with a clear reason and no segment left behind;
# a looping replay into a small lossless ring read by a slow registered
# reader loses nothing (back-pressure); and, when mdsub is built, an
# `mdsub --record` recording replays to the same messages.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

replay_conf() { # replay_conf NAME FILE SPEED [KEY=VALUE...]
	n=$1 f=$2 sp=$3
	shift 3
	channel "$n.conf" "$n" source=replay file="$f" speed="$sp" "$@"
}

{
	header 65536
	record 10 1000000000 a
	record 11 1500000000 bb
	record 14 2000000000 ccc
	le 100 4; le 9 2             # a cut record
} >"$WORK/hand.rec"
replay_conf hand "$WORK/hand.rec" 1
t0=$(date +%s%N)
status 0 "$MDPUB" -c "$WORK/hand.conf" 2>"$WORK/hand.log"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -ge 900 ] || fail "1 s of recording replayed in $(((t1 - t0) / 1000000)) ms"
status 0 "$READER" --until down --dump hand >"$WORK/hand.out"
grep '^M' "$WORK/hand.out" >"$WORK/got"
printf 'M 9 1\nM 9 2\nM 9 3\n' >"$WORK/want"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "replayed messages"
grep -q "channel hand: in 3 out 3 malformed 0 gaps 1 (lost 2) " "$WORK/hand.log" || fail "counters"
grep -q "hand.rec ends in a partial record" "$WORK/hand.log" || fail "cut record not reported"

# four gaps of 2^62 (the sequence going back between them): gap_lost
# stops at 2^64 - 1, where it used to wrap to "lost 0"
far=$(((1 << 62) + 1))
{ header 65536; for i in 1 2 3 4; do record 0 1 a; record $far 1 b; done; } >"$WORK/wrap.rec"
replay_conf wrap "$WORK/wrap.rec" 0
status 0 "$MDPUB" -c "$WORK/wrap.conf" 2>"$WORK/wrap.log"
grep -q "channel wrap: in 8 out 8 malformed 0 gaps 4 (lost 18446744073709551615) " "$WORK/wrap.log" ||
	fail "gap counters: $(grep 'channel wrap: in' "$WORK/wrap.log")"
# the three times it goes back are published as read, each said (before:
# nothing said; only mdsub --verify told)
[ "$(grep -c "channel wrap: .*wrap.rec: record of seq 0 after seq $far: the recording's sequence goes back (mdsub --verify); published as read" "$WORK/wrap.log")" -eq 3 ] ||
	fail "sequence going back: $(grep 'goes back' "$WORK/wrap.log")"
# and counted, in the segment (before: only said, rate-limited)
if [ -x "${MDSUB:-}" ]; then
	status 0 "$MDSUB" --status wrap >"$WORK/wrap.status"
	grep -Eq '^  replay.backwards +3 ' "$WORK/wrap.status" ||
		fail "replay.backwards in the segment: $(cat "$WORK/wrap.status")"
fi

# records of 1 MiB, looping at recorded pace: a stop (--duration) is not
# held up by reading them (the loop gets back to its watchers every 8 MiB;
# it took 16 s when a callback could read 65536 records)
{
	header 65536
	for s in 1 2 3; do
		le 1048576 4; le 9 2; le 0 2; le $s 8; le 1000 8
		head -c 1048576 /dev/zero
	done
} >"$WORK/huge.rec"
replay_conf huge "$WORK/huge.rec" 1 loop=yes
t0=$(date +%s%N)
status 0 "$MDPUB" -c "$WORK/huge.conf" --duration 1 2>"$WORK/huge.log"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 6000 ] ||
	fail "a 1 s replay of huge records stopped after $(((t1 - t0) / 1000000)) ms"

# a recorded timestamp 2^63 ns (292 years) after the first: the replay
# waits max_wait, says so, and goes on at the recorded pace from there
{
	header 65536
	record 1 1000 a
	record 2 9223372036854776808 bb
	record 3 9223372036854777808 ccc
} >"$WORK/jump.rec"
replay_conf jump "$WORK/jump.rec" 1 max_wait=0.3
t0=$(date +%s%N)
status 0 timeout 60 "$MDPUB" -c "$WORK/jump.conf" 2>"$WORK/jump.log"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -ge 250 ] || fail "max_wait not waited"
status 0 "$READER" --until down --dump jump >"$WORK/jump.out"
grep '^M' "$WORK/jump.out" >"$WORK/got"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "messages after the jump"
grep -q "channel jump: $WORK/jump.rec: recorded timestamp jumps before seq 2: due in 9223372037 s at this speed, published after max_wait 0.3 s" \
	"$WORK/jump.log" || fail "jump not logged"

# bad files: each refuses to start, the reason logged once, and leaves no
# segment behind
bad_file() { # bad_file FILE TEXT
	replay_conf bad "$1" 0
	refused bad "$2"
	[ ! -e "$MDBUS_DIR/mdbus.bad" ] || fail "$1: segment left behind"
}
bad_file "$WORK/none.rec" "$WORK/none.rec: No such file or directory"
printf 'NOTAREC!%0120d' 0 >"$WORK/magic.rec"
bad_file "$WORK/magic.rec" "$WORK/magic.rec is not an mdbus recording"
header 131072 >"$WORK/v2.rec"
bad_file "$WORK/v2.rec" "$WORK/v2.rec: recording format 2.0, this library reads 1.x"
printf 'MDBUSREC' >"$WORK/short.rec"
bad_file "$WORK/short.rec" "$WORK/short.rec ends inside its header"
{ header 65536 4294967295; record 1 1 a; } >"$WORK/hbig.rec"
bad_file "$WORK/hbig.rec" "$WORK/hbig.rec: header size 4294967295 out of range"
{ header 65536 100; record 1 1 a; } >"$WORK/hsmall.rec"
bad_file "$WORK/hsmall.rec" "$WORK/hsmall.rec: header size 100 out of range"

# loop into a 128-slot lossless ring, a slow reader registered first
replay_conf loop "$WORK/hand.rec" 0 loop=yes mode=lossless slots_per_block=64 block_count=2
channel make.conf loop source=synthetic count=1 mode=lossless slots_per_block=64 block_count=2
status 0 "$MDPUB" -c "$WORK/make.conf" 2>"$WORK/make.log"
"$READER" --from latest --until down --delay 20 loop >"$WORK/loop.out" 2>"$WORK/loop.err" &
READ=$!
registered loop mdpub_reader "$WORK/loop.err"
status 0 "$MDPUB" -c "$WORK/loop.conf" --duration 0.5 2>"$WORK/loop.log"
wait "$READ" || fail "lossless reader"
grep -q ' lost 0$' "$WORK/loop.out" || fail "lossless reader lost: $(cat "$WORK/loop.out")"
[ "$(grep -c "ends in a partial record" "$WORK/loop.log")" -eq 1 ] || fail "cut record logged every pass"
# in = out + dropped (held by back-pressure at the stop), back-pressure > 0
set -- $(sed -n 's/.*channel loop: in \([0-9]*\) out \([0-9]*\) malformed 0 gaps [0-9]* (lost [0-9]*) backpressure [1-9][0-9]* dropped \([0-9]*\) .*/\1 \2 \3/p' "$WORK/loop.log")
[ $# -eq 3 ] && [ "$1" -eq $(($2 + $3)) ] || fail "loop counters: no back-pressure, or in != out + dropped"
out=$2
[ "$(awk '$1 == "messages" { print $2 - $8 - $10 }' "$WORK/loop.out")" -eq "$out" ] || \
	fail "reader got other than the $out messages published: $(cat "$WORK/loop.out")"

# mdsub --record, then replay: the same messages
[ -x "${MDSUB:-}" ] || { echo "mdsub part skipped: mdsub not built"; exit 0; }
channel syn.conf syn source=synthetic rate=0 count=2000
status 0 "$MDPUB" -c "$WORK/syn.conf" 2>"$WORK/syn.log"
status 0 "$MDSUB" --from oldest --until-caught-up --record "$WORK/syn.rec" syn >/dev/null 2>&1
replay_conf back "$WORK/syn.rec" 0
status 0 "$MDPUB" -c "$WORK/back.conf" 2>"$WORK/back.log"
status 0 "$READER" --until caught-up --dump syn >"$WORK/syn.out"
status 0 "$READER" --until caught-up --dump back >"$WORK/back.out"
grep '^[QT]' "$WORK/syn.out" >"$WORK/want"
grep '^[QT]' "$WORK/back.out" >"$WORK/got"
[ "$(grep -c '^' "$WORK/want")" -eq 2000 ] || fail "recorded channel"
diff -u "$WORK/want" "$WORK/got" >/dev/null || fail "replayed recording differs"
exit 0
