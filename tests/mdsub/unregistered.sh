#!/bin/sh
# A reader that may not write a lossless channel's consumer table reads
# without an entry, and the publisher does not wait for it: mdsub says so
# on standard error, once. Before, nothing did (an attack run: nobody's
# recorder of a lossless channel lost 244 messages to a 2.5 s pause, said
# only by the count). Not said with -a (asked for), to a user who may
# write the table, nor on an overwrite channel.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
	echo "SKIP: another user's reader needs root and runuser"
	exit 77
fi
chmod 0755 "$MDBUS_DIR"
printf '[global]\nstats_interval = 0\n[channel ll]\nsource = synthetic\nrate = 200\nmode = lossless\nfile_mode = 0644\n[channel ow]\nsource = synthetic\nrate = 200\nfile_mode = 0644\n' \
	>"$WORK/u.conf"
chmod 0644 "$WORK/u.conf"
"$MDPUB" -c "$WORK/u.conf" --duration 120 2>"$WORK/pub.log" &
pub=$!
trap 'kill $pub 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_for "$MDSUB" --status ll
wait_for "$MDSUB" --status ow

nobody() {
	runuser -u nobody -- env MDBUS_DIR="$MDBUS_DIR" "$@"
}

warning="mdsub: ll: warning: reading without a consumer entry (its consumer table is not writable to this user): the lossless publisher does not wait for this reader, and what it writes over first is counted lost"

# said_times FILE: how many times the warning is in FILE
said_times() {
	grep -cxF "$warning" "$1"
}

status 0 nobody "$MDSUB" -n 5 -o raw ll >"$WORK/nb.out" 2>"$WORK/nb.err"
[ "$(said_times "$WORK/nb.err")" -eq 1 ] ||
	fail "nobody's registered read of a lossless channel: $(cat "$WORK/nb.err")"
[ "$(wc -l <"$WORK/nb.out")" -eq 5 ] || fail "nobody read $(wc -l <"$WORK/nb.out") messages, 5 expected"
status 0 nobody "$MDSUB" -a -n 5 -o raw ll >/dev/null 2>"$WORK/nba.err"
[ "$(said_times "$WORK/nba.err")" -eq 0 ] || fail "said with -a: $(cat "$WORK/nba.err")"
status 0 "$MDSUB" -n 5 -o raw ll >/dev/null 2>"$WORK/root.err"
[ "$(said_times "$WORK/root.err")" -eq 0 ] || fail "said to root: $(cat "$WORK/root.err")"
status 0 nobody "$MDSUB" -n 5 -o raw ow >/dev/null 2>"$WORK/ow.err"
grep -q "warning: reading without a consumer entry" "$WORK/ow.err" &&
	fail "said on an overwrite channel: $(cat "$WORK/ow.err")"
exit 0
