#!/bin/sh
# mdpub command line: --help, --version, bad options and their exit codes.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

status 0 "$MDPUB" --help >"$WORK/help"
grep -q '^Usage: mdpub \[OPTION\]' "$WORK/help" || fail "--help text"
for opt in --config --test --foreground --pidfile --duration --verbose; do
	grep -q -- "$opt" "$WORK/help" || fail "--help does not name $opt"
done
status 0 "$MDPUB" --version >"$WORK/version"
grep -q '^mdpub (mdbus) [0-9]' "$WORK/version" || fail "--version text"

status 2 "$MDPUB" --bogus 2>"$WORK/err"
status 2 "$MDPUB" -f extra 2>"$WORK/err"
expect "$WORK/err" "mdpub: unexpected argument 'extra'"
status 2 "$MDPUB" -f --duration 0 2>"$WORK/err"
expect "$WORK/err" "mdpub: --duration: '0' is not a number of seconds > 0"
status 2 "$MDPUB" -f --duration soon 2>"$WORK/err"

# a missing config file is an error at start and with -t
status 1 "$MDPUB" -t -c "$WORK/none.conf" 2>"$WORK/err"
expect "$WORK/err" "mdpub: $WORK/none.conf: No such file or directory"
status 1 "$MDPUB" -t -c "$WORK" 2>"$WORK/err"
expect "$WORK/err" "mdpub: $WORK: Is a directory"
status 1 "$MDPUB" -f -c "$WORK/none.conf" 2>"$WORK/err"
grep -q "$WORK/none.conf: No such file or directory" "$WORK/err" || fail "start with a missing config"
[ -z "$(ls "$MDBUS_DIR")" ] || fail "segments made without a config"
exit 0
