#!/bin/sh
# Bad arguments, and options that would have no effect: the reason and the
# usage hint, exit 64 (EX_USAGE); --help and --version exit 0; a missing
# channel is a clear error (1) on stderr.
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
usage_error --from 24:00 chan
usage_error --from 9:30 chan
usage_error --from 09:30:61 chan
usage_error --from 2026-13-02T09:30Z chan
usage_error --from 2026-12-02T09:30ZZ chan
usage_error --from 09:30:00.1234567891 chan
usage_error --from @12x chan
usage_error --archive /tmp --list
usage_error -w fast chan
usage_error -t nosuchtype chan
usage_error --grep '(' chan
grep -q "invalid --grep pattern '(': " "$WORK/err" || fail "bad pattern: $(cat "$WORK/err")"
usage_error --exclude 'a{2' chan
usage_error --list --grep x
usage_error --unlink
usage_error -u ./x.rec
usage_error --stats ./x.rec
usage_error --from latest ./x.rec
usage_error --forward udp://127.0.0.1:9 ./x.rec
usage_error --file x.rec chan
usage_error --info
usage_error --info --file x.rec y.rec
usage_error --verify -n 1 x.rec
usage_error --unlink -o json chan
usage_error --unlink --status chan
usage_error --unlink -n 1 chan
usage_error -d 0 chan
usage_error -d abc chan
usage_error --stats=-1 chan
# an interval of 1 ns printed a line per channel on every pass, and
# --watch redrew the status in a loop, a CPU kept busy
usage_error --stats=0.000000001 chan
grep -q "invalid interval (0.01..86400 seconds) '0.000000001'" "$WORK/err" ||
	fail "interval message: $(cat "$WORK/err")"
usage_error --watch=0.001 -d 1
usage_error --stats=86401 chan
usage_error 'bad*channel'
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
# a heartbeat period of 1 ns sent 127 000 packets a second when idle
usage_error --heartbeat 0.000000001 --forward udp://127.0.0.1:9 chan
grep -q "invalid heartbeat (0.001..3600 seconds) '0.000000001'" "$WORK/err" ||
	fail "heartbeat message: $(cat "$WORK/err")"
usage_error --heartbeat 3601 --forward udp://127.0.0.1:9 chan
usage_error -N "$(printf '%032d' 0)" chan
usage_error chan -o
grep -q "needs an argument" "$WORK/err" || fail "missing argument message"
[ "$(wc -l <"$WORK/err")" -eq 2 ] || fail "usage error: more than the reason and the hint"

# a bad port is a usage error naming it
usage_error --forward udp://127.0.0.1:99999 chan
grep -q "invalid port '99999' in 'udp://127.0.0.1:99999'" "$WORK/err" ||
	fail "port message: $(cat "$WORK/err")"
usage_error --forward udp://127.0.0.1:0 chan
usage_error --forward udp://127.0.0.1:http chan

# an option that would change nothing is refused, naming both
usage_error --list -o csv
grep -q -- "--list prints text or json$" "$WORK/err" || fail "--list -o csv: $(cat "$WORK/err")"
usage_error --list -o prometheus
usage_error --watch -o prometheus
usage_error --status -o raw
grep -q -- "--status prints text or json or prometheus$" "$WORK/err" ||
	fail "--status -o raw: $(cat "$WORK/err")"
usage_error -o prometheus chan
grep -q -- "-o prometheus is an output of --status$" "$WORK/err" ||
	fail "-o prometheus chan: $(cat "$WORK/err")"
usage_error --status -n 5 chan
usage_error --watch --from oldest
usage_error --list -d 1
usage_error --list --status
usage_error --stats -o csv chan
grep -q -- "--stats prints text or json, not csv" "$WORK/err" || fail "--stats -o csv: $(cat "$WORK/err")"
usage_error --stats -o raw chan
usage_error --stats --summary chan
usage_error --stats -q chan
usage_error --record x.rec --forward udp://127.0.0.1:9 chan
usage_error --record x.rec -o json chan
usage_error --forward udp://127.0.0.1:9 -q chan
usage_error --ttl 3 chan
grep -q -- "--ttl needs --forward" "$WORK/err" || fail "--ttl: $(cat "$WORK/err")"
usage_error --session abc chan
usage_error -o json --no-header chan
usage_error -q --no-header chan
usage_error -a -N me chan
usage_error --force chan

# -F is --from; -W is --watch
status 0 "$MDSUB" -W0.1 -d 0.15 >/dev/null
pub feed 3
status 0 "$MDSUB" -o raw -F 1 -u feed >"$WORK/from"
[ "$(cut -d' ' -f2 "$WORK/from" | tr '\n' ' ')" = "1 2 " ] || fail "-F 1: $(cat "$WORK/from")"

status 0 "$MDSUB" --help >"$WORK/help"
grep -q '^Usage: mdsub' "$WORK/help" || fail "--help text"
status 0 "$MDSUB" --version >"$WORK/version"
grep -q '^mdsub (mdbus) ' "$WORK/version" || fail "--version text"

"$MDSUB" nosuch >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] || fail "missing channel: exit status"
[ -s "$WORK/out" ] && fail "missing channel: stdout"
grep -q '^mdsub: nosuch: cannot subscribe: ' "$WORK/err" ||
	fail "missing channel message: $(cat "$WORK/err")"
exit 0
