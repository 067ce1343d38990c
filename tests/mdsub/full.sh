#!/bin/sh
# A consumer table full of live readers: mdsub is refused with the table's
# size and the two ways out (read without an entry: -a; more entries: the
# publisher's max_consumers), exits 1, and -a then reads.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

printf '[global]\nstats_interval = 0\n[channel full]\nsource = synthetic\nrate = 100\nmax_consumers = 1\n' \
	>"$WORK/full.conf"
chmod 0644 "$WORK/full.conf"
"$MDPUB" -c "$WORK/full.conf" --duration 120 2>"$WORK/pub.log" &
pub=$!
"$MDSUB" --wait-for-channel -N first -q full 2>"$WORK/first.err" &
first=$!
trap 'kill $pub $first 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_registered full 1
status 1 "$MDSUB" -n 1 full >/dev/null 2>"$WORK/full.err"
grep -qx "mdsub: full: cannot subscribe: consumer table full (1 entries, all held by live readers): read without an entry (-a, --anonymous), or raise the publisher's max_consumers" \
	"$WORK/full.err" || fail "table full: $(cat "$WORK/full.err")"
status 0 "$MDSUB" -a -n 1 -o csv full >"$WORK/anon.out"
grep -q '^full,' "$WORK/anon.out" || fail "-a read nothing: $(cat "$WORK/anon.out")"
exit 0
