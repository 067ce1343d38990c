#!/bin/sh
# Absurd --from values get a clear usage error (exit 64) instead of a
# reader that spins or waits for ever: a sequence past 2^62 (the last a
# channel reaches; beyond it slot stamps wrap), a negative one, a date the
# calendar does not have, a time past 2262-04-11 (64-bit nanoseconds) or a
# leap second. A segment whose slot stamp claims a sequence past 2^62 is
# refused as corrupt, not followed there. A reader waiting for a sequence
# far ahead, spinning, ends promptly on SIGTERM.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub -g 8:2 feed 5

# refused FROM TEXT: exit 64 within 10 s, TEXT on stderr
refused() {
	status 64 timeout 60 "$MDSUB" -w spin -u --from "$1" feed 2>"$WORK/err"
	grep -qF -- "$2" "$WORK/err" || fail "--from $1: $(cat "$WORK/err")"
}
refused 18446744073709551615 "invalid --from sequence '18446744073709551615': at most 4611686018427387904 (2^62, the last a channel reaches)"
refused 9223372036854775807 "at most 4611686018427387904"
refused 4611686018427387905 "at most 4611686018427387904"
refused 18446744073709551616 "at most 4611686018427387904"
refused -5 "invalid --from '-5': latest, oldest, a sequence number or a time"
refused 2026-02-30T00:00 "invalid --from time '2026-02-30T00:00': no such date"
refused 2023-02-29T12:00Z "no such date"
refused 24:00 "no such time of day"
refused 23:59:60Z "no leap second"
refused 9999-01-01T00:00Z "after 2262-04-11T23:47:16.854775807Z"
refused @99999999999 "after 2262-04-11T23:47:16.854775807Z"
refused 1969-12-31T23:59Z "before 1970-01-01"

# the largest sequence and the last time are taken: nothing to read yet
status 0 timeout 60 "$MDSUB" -q -u --from 4611686018427387904 feed 2>/dev/null
status 0 timeout 60 "$MDSUB" -u --from 2262-04-11T23:47:16.854775807Z feed \
	>"$WORK/out" 2>/dev/null
[ "$(wc -l <"$WORK/out")" -eq 1 ] || fail "messages after the last time: $(cat "$WORK/out")"
status 0 timeout 60 "$MDSUB" -u -o raw --from 2020-02-29T00:00Z feed \
	>"$WORK/out" 2>/dev/null
[ "$(wc -l <"$WORK/out")" -eq 5 ] || fail "--from a leap day: $(cat "$WORK/out")"

# a slot stamp for sequence 2^63 - 2 (slot 5 of 128 bytes, after the
# 4096-byte header) where the reader waits for message 5
"$TOOL" poke feed 4736 0xfffffffffffffffe || fail poke
status 1 timeout 60 "$MDSUB" -w spin -u feed >/dev/null 2>"$WORK/err"
grep -qF "a slot stamp for sequence 9223372036854775806, past 2^62, which no publisher reaches" \
	"$WORK/err" || fail "hostile stamp: $(cat "$WORK/err")"

# SIGTERM ends a spinning reader waiting far ahead
pub -g 8:2 far 5
"$MDSUB" -q -w spin --from 4611686018427387904 far 2>"$WORK/err" &
PID=$!
trap 'kill -9 $PID 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
# attached (its signal handlers set before): it says it waits
wait_for grep -q "waiting for it" "$WORK/err"
sleep 0.2 # spinning in mdbus_sub_read()
kill -TERM $PID
i=0
while kill -0 $PID 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "mdsub ignored SIGTERM for 60 s"
	sleep 0.05
done
wait $PID || fail "mdsub exited $? on SIGTERM"
exit 0
