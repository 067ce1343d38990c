#!/bin/sh
# mdpub command line: --help, --version, bad options and their exit codes.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

status 0 "$MDPUB" --help >"$WORK/help"
grep -q '^Usage: mdpub \[OPTION\]' "$WORK/help" || fail "--help text"
for opt in --config --test --daemonize --pidfile --duration --verbose; do
	grep -q -- "$opt" "$WORK/help" || fail "--help does not name $opt"
done
grep -q -- "--foreground" "$WORK/help" && fail "--help names --foreground"
status 0 "$MDPUB" --version >"$WORK/version"
grep -q '^mdpub (mdbus) [0-9]' "$WORK/version" || fail "--version text"

# usage errors: exit 64, one line and the hint, as mdsub
usage_error() {
	msg=$1
	shift
	status 64 "$MDPUB" "$@" 2>"$WORK/err"
	printf 'mdpub: %s\nTry '"'"'mdpub --help'"'"' for more information.\n' \
		"$msg" >"$WORK/want"
	diff -u "$WORK/want" "$WORK/err" >&2 || fail "mdpub $*: usage error text"
}
usage_error "unknown option '--bogus'" --bogus
usage_error "unknown option '-f'" -f
usage_error "unknown option '-t'" -t
usage_error "unexpected argument 'extra'" extra
usage_error "option '--config' needs an argument" --config
usage_error "option '-p' needs an argument" -p
usage_error "--duration: '0' is not a number of seconds above 0, at most 1e9" --duration 0
usage_error "--duration: 'soon' is not a number of seconds above 0, at most 1e9" -d soon
usage_error "--duration: '1e308' is not a number of seconds above 0, at most 1e9" -d 1e308

# short options mean in mdpub what they mean in mdsub, or are not mdsub's
sed -n 's/^static const char short_opts\[\] = "\(.*\)";$/\1/p' \
	"$top_srcdir/clients/opts.c" | tr -d ':' | fold -w1 >"$WORK/mdsub-letters"
[ -s "$WORK/mdsub-letters" ] || fail "mdsub's short options not found"
for l in c T b p v; do
	grep -qx "$l" "$WORK/mdsub-letters" && fail "mdpub -$l is another option in mdsub"
done
grep -qx d "$WORK/mdsub-letters" || fail "mdsub has no -d (--duration, as mdpub)"

# every man page's footer has the one version and date configure gave,
# and mdpub(8) names the default configuration --help names
for m in mdpub.8 mdpub.conf.5 mdsub.1 libmdbus.3; do
	f=$top_builddir/man/$m
	[ -f "$f" ] || fail "$f not built"
	grep '@[A-Za-z_]*@' "$f" && fail "$m: unsubstituted"
	sed -n 's/^\.TH [^ ]* [0-9] \([^ ]*\) "\([^"]*\)".*/\1 \2/p' "$f"
done | sort -u >"$WORK/footers"
[ "$(wc -l <"$WORK/footers")" -eq 1 ] || fail "man page footers differ: $(cat "$WORK/footers")"
grep -q '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] mdbus [0-9]' "$WORK/footers" ||
	fail "footer without date and version: $(cat "$WORK/footers")"
default=$(sed -n 's/.*(default \([^ ]*\) if it exists.*/\1/p' "$WORK/help")
grep -qxF ".I $default" "$top_builddir/man/mdpub.8" ||
	fail "mdpub(8) does not name $default"

# a missing config file is an error at start and with -t
status 1 "$MDPUB" -T -c "$WORK/none.conf" 2>"$WORK/err"
expect "$WORK/err" "mdpub: $WORK/none.conf: No such file or directory"
status 1 "$MDPUB" -T -c "$WORK" 2>"$WORK/err"
expect "$WORK/err" "mdpub: $WORK: Is a directory"
status 1 "$MDPUB" -c "$WORK/none.conf" 2>"$WORK/err"
grep -q "$WORK/none.conf: No such file or directory" "$WORK/err" || fail "start with a missing config"
[ -z "$(ls "$MDBUS_DIR")" ] || fail "segments made without a config"

# -v: info, -vv: debug, in normal running; none without
printf '[channel v]\nsource = synthetic\nreap_interval = 0.05\n' >"$WORK/v.conf"
for v in "" -v -vv; do
	status 0 "$MDPUB" $v -c "$WORK/v.conf" --duration 0.3 2>"$WORK/v$v.log"
done
grep -q 'mdpub\[\(info\|debug\)\]' "$WORK/v.log" && fail "info without -v"
grep -q 'mdpub\[info\]: channel v: 256-byte slots' "$WORK/v-v.log" || fail "-v: no info"
grep -q 'mdpub\[debug\]' "$WORK/v-v.log" && fail "-v: debug"
grep -q 'mdpub\[debug\]: channel v: reap: ' "$WORK/v-vv.log" || fail "-vv: no debug"
exit 0
