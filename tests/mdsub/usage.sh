#!/bin/sh
# Bad arguments: a message naming the problem and exit 64 (EX_USAGE);
# --help and --version exit 0; a missing channel is a clear error (1).
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

usage_error() {
	"$MDSUB" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ $rc -eq 64 ] || fail "'mdsub $*' exited $rc, expected 64"
	[ -s "$WORK/out" ] && fail "'mdsub $*' wrote to stdout"
	grep -q "^mdsub: " "$WORK/err" || fail "'mdsub $*': no message"
	grep -q "mdsub --help" "$WORK/err" || fail "'mdsub $*': no usage hint"
}

usage_error
usage_error --bogus chan
usage_error -x chan
usage_error -o xml chan
usage_error -n 0 chan
usage_error -n -3 chan
usage_error -n 12abc chan
usage_error --from somewhere chan
usage_error -w fast chan
usage_error -t nosuchtype chan
usage_error -d 0 chan
usage_error -d abc chan
usage_error --stats=-1 chan
usage_error 'bad/channel'
usage_error "$(printf '%065d' 0)"
usage_error --record a.rec one two
usage_error --forward udp://127.0.0.1:9 one two
usage_error --list chan
usage_error --interface 300.1.1.1 --forward udp://239.1.1.1:9 chan
usage_error --forward tcp://127.0.0.1:9 chan
usage_error --forward udp://127.0.0.1 chan
usage_error --forward "udp://[::1:9" chan
usage_error --ttl 300 --forward udp://127.0.0.1:9 chan
usage_error --batch-bytes 10 --forward udp://127.0.0.1:9 chan
usage_error --session elevenchars --forward udp://127.0.0.1:9 chan
usage_error -N "$(printf '%032d' 0)" chan
usage_error chan -o
grep -q "needs an argument" "$WORK/err" || fail "missing argument message"

status 0 "$MDSUB" --help >"$WORK/help"
grep -q '^Usage: mdsub' "$WORK/help" || fail "--help text"
status 0 "$MDSUB" --version >"$WORK/version"
grep -q '^mdsub (mdbus) ' "$WORK/version" || fail "--version text"

"$MDSUB" nosuch >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] || fail "missing channel: exit status"
grep -q '^mdsub: nosuch: cannot subscribe: ' "$WORK/err" ||
	fail "missing channel message: $(cat "$WORK/err")"
exit 0
