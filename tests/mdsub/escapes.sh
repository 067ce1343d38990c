#!/bin/sh
# Strings written into shared memory by anyone (consumer names here; symbols
# and status texts in malformed.sh) never reach the terminal as control
# bytes: --status shows them escaped as \xNN, and a backslash as \\.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub esc 1
name=$(printf 'a\033]0;owned\007\\b')
"$MDSUB" -N "$name" -n 1000 esc >/dev/null 2>&1 &
reader=$!
trap 'kill $reader 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_registered esc 1
status 0 "$MDSUB" --status esc >"$WORK/status"
LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177-\377]')" "$WORK/status" &&
	fail "--status wrote control bytes: $(od -c "$WORK/status" | head)"
grep -Fq '  a\x1b]0;owned\x07\\b ' "$WORK/status" ||
	fail "--status: escaped name: $(cat "$WORK/status")"
exit 0
