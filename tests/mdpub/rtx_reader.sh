#!/bin/sh
# The reader mdsub --forward --retransmit keeps open between requests for
# messages older than its store (clients/rtx_archive.c):
# 1. opened at a number the ring still held, it has no archive to fall
#    back to; once the ring has lapped it, the next request (the next
#    number) opens a reader anew, which reads it from the archive. It
#    used to read on with the lapped reader, which had jumped past the
#    number: counted out of range, not answered.
# 2. it is closed 3 s after the last request: its mapping of the segment
#    and its archive file are released (they used to stay until the
#    next request, pinning a replaced segment or a rotated file).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
[ -x "${MDSUB:-}" ] || { echo "SKIP: mdsub not built"; exit 77; }
REQ=$top_builddir/tests/mdsub/requester
AR=$WORK/ar
RING=1024

# published: waits until message $1 of channel lp is published
published() {
	timeout 60 "$MDSUB" --from "$1" -n 1 -o csv --no-header lp >/dev/null ||
		fail "message $1 not published"
}
# maps: the forwarder's mappings of segments; files: its open archive files
maps() { grep -c "$MDBUS_DIR/" "/proc/$fwd/maps"; }
files() { ls -l "/proc/$fwd/fd" | grep -c "$AR/.*\.rec$"; }

channel lp.conf lp source=synthetic rate=2000 mode=lossless \
	slots_per_block=256 block_count=4 archive="$AR"
start lp -c "$WORK/lp.conf"
wait_log lp "channel lp: publishing from sequence 0"
: >"$WORK/fwd.err"
"$MDSUB" --forward udp://127.0.0.1:9 --from 0 --session LAP \
	--retransmit=127.0.0.1:0 --retransmit-depth=100 --linger=0 lp \
	2>"$WORK/fwd.err" &
fwd=$!
PIDS="$PIDS $fwd"
port=$(rtx_port "$WORK/fwd.err")

# 1. message 201 (ring sequence 200): in the ring, not in the store
published 400
before=$(maps)
out=$("$REQ" "$port" LAP 201 1 1) || fail "requester: $out"
echo "$out" | grep -q "^answers 1 messages 1 " || fail "201: $out"
[ "$(maps)" -gt "$before" ] || fail "no reader kept: $(maps) mappings"
[ "$(files)" -eq 0 ] || fail "a reader in the ring has $(files) archive files open"
t0=$(date +%s%N)
published $((RING + 300)) # the ring has lapped the kept reader
out=$("$REQ" "$port" LAP 202 1 1) || fail "requester: $out"
# sooner than the idle close 3 s after the request for 201 (part 2),
# which would open a reader anew too (0.7 s at the channel's rate)
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2900 ] || fail "the ring took $ms ms to lap the reader: the idle close may have dropped it"
echo "$out" | grep -q "^answers 1 messages 1 " ||
	fail "202 after the ring lapped the kept reader: $out"
[ "$(files)" -eq 1 ] || fail "the reader of 202 has $(files) archive files open"

# 2. closed within 3 s of the last request (and the server's 50 ms wake)
i=0
until [ "$(files)" -eq 0 ] && [ "$(maps)" -eq "$before" ]; do
	i=$((i + 1))
	[ $i -lt 160 ] || fail "after 8 s idle: $(files) archive files, $(maps) mappings (before the reader: $before)"
	sleep 0.05
done
echo "the idle reader was closed after $((i * 5 / 100)).$((i * 5 % 100 / 10)) s more"

kill -TERM "$fwd"
wait "$fwd" || fail "mdsub exited $?: $(cat "$WORK/fwd.err")"
stop "$PID"
# 201 read in the ring; 202 by a reader opened anew, in the archive file
# from its first record (0 .. 200 read past)
line="retransmission: 2 requests served (2 messages), 0 refused (allow 0, rate 0, session 0, malformed 0), 0 out of range (before the session 0, filtered out 0), 2 read from the archive (readers opened 2, messages skipped 201)"
grep -q "$line\$" "$WORK/fwd.err" ||
	fail "summary: $(cat "$WORK/fwd.err"), want $line"
echo "202 answered from the archive after the ring lapped the kept reader"
exit 0
