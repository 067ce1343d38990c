#!/bin/sh
# `mdsub X | head` ends quietly with status 0, and frees its consumer entry.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub big 20000
for fmt in text json; do
	{
		"$MDSUB" -o $fmt --from oldest big 2>"$WORK/err"
		echo $? >"$WORK/rc"
	} | head -n 2 >"$WORK/out"
	[ "$(cat "$WORK/rc")" -eq 0 ] || fail "-o $fmt | head: exit $(cat "$WORK/rc")"
	grep -v '^mdsub: big: publisher pid [0-9]* stopped [0-9.]* s ago; waiting for it$' \
		"$WORK/err" && fail "-o $fmt | head: stderr: $(cat "$WORK/err")"
	[ "$(wc -l <"$WORK/out")" -eq 2 ] || fail "-o $fmt | head: output"
done
"$MDSUB" --status big | grep -q 'consumers: 0 of' ||
	fail "consumer entry not freed"
exit 0
