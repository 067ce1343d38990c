#!/bin/sh
# The bridge with NATS credentials: tests/nats/nkeys.py makes an operator,
# accounts and users (NKeys and JWTs, with python3-nacl) and a server in
# operator mode (memory resolver) that wants them, and a server with one
# NKey user. With the right .creds file (--nats-creds, creds =) and the
# right seed (--nats-nkey, nkey =) a channel arrives complete and in
# order. Refused, exit 1 at once, naming the fix: no credentials, a file
# that is not there, one others may read, a FIFO, garbage, a .creds file
# without its seed, a symbolic link, 1 GB, a user of an account the
# server does not trust, and a user without permission on the subjects
# (mdsub when the server refuses its first message, mdpub's source when
# it subscribes). Each program opens its file exactly once (strace), and
# after the file was swapped for a stranger's and the server restarted,
# both sign in again with what they read at start: delivery resumes.
. "${top_srcdir:-.}/tests/nats/helpers.sh"
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import nacl.signing' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "SKIP: needs python3 with PyNaCl (Debian package python3-nacl; tests/deps.sh --suite)"; exit 77; }
command -v timeout >/dev/null || { echo "SKIP: needs timeout (coreutils)"; exit 77; }

K=$WORK/keys
mkdir -m 700 "$K" || fail "mkdir"
"$PY" "$top_srcdir/tests/nats/nkeys.py" "$K" || fail "nkeys.py"
nats_start c1 -c "$K/server.conf"
URL=nats://127.0.0.1:$(nats_port c1)
nats_start k1 -c "$K/nkey.conf"
KURL=nats://127.0.0.1:$(nats_port k1)

channel src.conf src source=synthetic rate=20000 count=2000 mode=lossless
run_channel src
SRC=$PID
dump_channel src
wait "$RPID" || fail "reader of src"
wait "$SRC"
sent=$(dir_write_num "$MDBUS_DIR" src)
[ "${sent:-0}" -gt 2000 ] || fail "src wrote ${sent:-nothing}"

# About one run in ten, this operator-mode server answers a connection
# with credentials it trusts (good, denied) by "Authorization Violation"
# as if it did not know the user; the cause is not found yet (the JWTs are
# made once, the same file works just before and after). Such a refusal
# of a known user is retried, twice at most, and said in the log; the
# stranger's is what its case asserts.
known_refused() { # known_refused FILE ARGS...: 0 when to retry
	f=$1
	shift
	case "$*" in *stranger*) return 1 ;; esac
	grep -q "the server does not know the user of" "$f" || return 1
	echo "note: the server refused known credentials ($*): retried"
}
# publishing NAME HOW: mdpub -c $WORK/NAME.conf, started by HOW (bg:
# traced as NAME, see bg below; start: not traced), until it publishes
# channel NAME; started again, twice at most, when the server refuses the
# known user at once (known_refused), else a failure. The pid to wait for
# in $UP, the program's in $UPPID.
publishing() {
	for try in 1 2 3; do
		if [ "$2" = bg ]; then
			bg "$1" "$MDPUB" -c "$WORK/$1.conf"
			UP=$BG UPPID=$BGPID
		else
			start "$1" -c "$WORK/$1.conf"
			UP=$PID UPPID=$PID
		fi
		i=0
		until grep -q "channel $1: publishing from" "$WORK/$1.log" ||
			! kill -0 "$UPPID" 2>/dev/null; do
			i=$((i + 1))
			[ $i -le 1200 ] || fail "no 'channel $1: publishing from' in $1.log"
			sleep 0.05
		done
		grep -q "channel $1: publishing from" "$WORK/$1.log" && return 0
		wait "$UP"
		[ "$try" -lt 3 ] && known_refused "$WORK/$1.log" "$1" ||
			fail "mdpub $1 did not start: $(cat "$WORK/$1.log")"
	done
}
# Each program opens its creds or nkey file once, by name, checks that
# descriptor and reads it; the client library gets what was read, never
# the name (nothing can swap the file after the check). strace counts the
# opens of the runs named in $COUNTED; without it (tests/deps.sh --suite)
# they are not counted. LeakSanitizer cannot work under ptrace: it is off
# in those runs (the others, and common/t_nats_nkey, check for leaks).
STRACE=$(command -v strace || true)
[ -n "$STRACE" ] && ! "$STRACE" -o /dev/null true 2>/dev/null && STRACE=
[ -n "$STRACE" ] || echo "note: no working strace: opens of the files not counted"
COUNTED=" creds nkey rc fwd "
counted() { [ -n "$STRACE" ] && case $COUNTED in *" $1 "*) true ;; *) false ;; esac; }
# strace_exec NAME CMD...: becomes strace running CMD, opens into NAME.trace
strace_exec() {
	t=$WORK/$1.trace
	shift
	exec env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		"$STRACE" -f -qq -e trace=open,openat -o "$t" "$@"
}
# traced NAME CMD...: CMD, under strace if NAME is counted
traced() {
	n=$1
	shift
	if counted "$n"; then (strace_exec "$n" "$@"); else "$@"; fi
}
# bg NAME CMD...: CMD in the background (traced if NAME is counted),
# output in NAME.log; $BG the pid to wait for (strace's when traced),
# $BGPID the program's. A traced CMD is started by a shell that writes
# its own pid into NAME.pid and then becomes CMD: strace's children are
# not only CMD (at start strace forks short-lived children of its own
# to probe ptrace), and a pid taken from them made the test wait for
# ever on a CMD it took for dead (kill -0 of a probe that had exited).
bg() {
	n=$1
	shift
	if counted "$n"; then
		rm -f "$WORK/$n.pid"
		strace_exec "$n" sh -c 'echo $$ >"$0" && exec "$@"' \
			"$WORK/$n.pid" "$@" >"$WORK/$n.log" 2>&1 &
	else
		"$@" >"$WORK/$n.log" 2>&1 &
	fi
	BG=$!
	BGPID=$BG
	PIDS="$PIDS $BG"
	i=0
	while counted "$n" && ! [ -s "$WORK/$n.pid" ]; do
		i=$((i + 1)); [ $i -le 1200 ] || fail "$n: strace started nothing"
		sleep 0.05
	done
	counted "$n" && BGPID=$(cat "$WORK/$n.pid")
	PIDS="$PIDS $BGPID"
}
# opened NAME PATH N: the run traced as NAME opened PATH N times
opened() {
	[ -n "$STRACE" ] || return 0
	got=$(grep -cF "\"$2\"" "$WORK/$1.trace")
	[ "$got" -eq "$3" ] ||
		fail "$1 opened $2 $got times, not $3: $(grep -F "\"$2\"" "$WORK/$1.trace")"
}
# mdsub NAME [ARGS...]: forwards src (all of it) with ARGS, output in NAME.fwd
mdsub() {
	n=$1
	shift
	for try in 1 2 3; do
		traced "$n" timeout 60 "$MDSUB" --from oldest --until-caught-up src "$@" \
			>"$WORK/$n.fwd" 2>&1
		rc=$?
		[ "$try" -lt 3 ] && known_refused "$WORK/$n.fwd" "$@" || return $rc
	done
}
# refused_fwd NAME TEXT ARGS...: mdsub exits 1 and says TEXT
refused_fwd() {
	n=$1 text=$2
	shift 2
	mdsub "$n" "$@"
	rc=$?
	[ "$rc" -eq 1 ] || fail "mdsub $*: exit $rc, not 1: $(cat "$WORK/$n.fwd")"
	grep -qF -- "$text" "$WORK/$n.fwd" ||
		fail "mdsub $*: no '$text' in: $(cat "$WORK/$n.fwd")"
}
refused_fwd none "Authorization Violation: the server wants credentials (--nats-creds=FILE or --nats-nkey=SEEDFILE)" \
	--forward "$URL"
refused_fwd absent "$K/absent.creds: No such file or directory" \
	--forward "$URL" --nats-creds "$K/absent.creds"
cp "$K/good.creds" "$K/loose.creds"
chmod 640 "$K/loose.creds"
refused_fwd loose "others may read or write it (mode 0640): chmod 600 $K/loose.creds" \
	--forward "$URL" --nats-creds "$K/loose.creds"
mkfifo -m 600 "$K/fifo.creds"
refused_fwd fifo "$K/fifo.creds: not a regular file" \
	--forward "$URL" --nats-creds "$K/fifo.creds"
printf 'not a creds file\n' >"$K/garbage.creds"
chmod 600 "$K/garbage.creds"
refused_fwd garbage "$K/garbage.creds: no user JWT (a line -----BEGIN NATS USER JWT-----, the JWT, an END line)" \
	--forward "$URL" --nats-creds "$K/garbage.creds"
sed '/BEGIN USER NKEY SEED/,$d' "$K/good.creds" >"$K/noseed.creds"
chmod 600 "$K/noseed.creds"
refused_fwd noseed "$K/noseed.creds: no user NKey seed (a line -----BEGIN USER NKEY SEED-----, the seed SU..., an END line)" \
	--forward "$URL" --nats-creds "$K/noseed.creds"
ln -s "$K/good.creds" "$K/link.creds"
refused_fwd link "$K/link.creds: a symbolic link, which could be pointed elsewhere: give the file itself" \
	--forward "$URL" --nats-creds "$K/link.creds"
: >"$K/huge.creds"
chmod 600 "$K/huge.creds"
truncate -s 1G "$K/huge.creds"
refused_fwd huge "$K/huge.creds: 1073741824 bytes, not 1 to 65536: not a credentials or seed file" \
	--forward "$URL" --nats-creds "$K/huge.creds"
refused_fwd stranger "the server does not know the user of $K/stranger.creds" \
	--forward "$URL" --nats-creds "$K/stranger.creds"
refused_fwd denied "the user of the credentials may not publish on mdbus.src.>" \
	--forward "$URL" --nats-creds "$K/denied.creds"
grep -q "Permissions Violation for Publish to" "$WORK/denied.fwd" ||
	fail "denied: the server's words: $(cat "$WORK/denied.fwd")"
status 64 "$MDSUB" --forward "$URL" --nats-creds "$K/good.creds" \
	--nats-nkey "$K/nkey.seed" src 2>"$WORK/both.fwd"
grep -qF -- "--nats-creds or --nats-nkey, not both" "$WORK/both.fwd" ||
	fail "creds and nkey: $(cat "$WORK/both.fwd")"
refused_fwd seed "$K/good.creds: not a user NKey seed" \
	--forward "$KURL" --nats-nkey "$K/good.creds"

# mdpub's source: the same refusals at start, exit 1
refused_src() { # refused_src NAME TEXT KEY=VALUE...
	n=$1 text=$2
	shift 2
	channel "$n.conf" "$n" source=nats "$@"
	for try in 1 2 3; do
		timeout 60 "$MDPUB" -c "$WORK/$n.conf" >"$WORK/$n.log" 2>&1
		rc=$?
		[ "$try" -lt 3 ] && known_refused "$WORK/$n.log" "$@" || break
	done
	[ "$rc" -eq 1 ] || fail "mdpub $*: exit $rc, not 1"
	grep -qF -- "$text" "$WORK/$n.log" || fail "mdpub $*: no '$text'"
}
refused_src pnone "the server wants credentials (creds = FILE or nkey = SEEDFILE)" \
	"url=$URL" 'subject=mdbus.src.>'
refused_src ploose "chmod 600 $K/loose.creds" \
	"url=$URL" 'subject=mdbus.src.>' "creds=$K/loose.creds"
refused_src pdenied "subject mdbus.src.>: Permissions Violation for Subscription to" \
	"url=$URL" 'subject=mdbus.src.>' "creds=$K/denied.creds"
grep -qF "may not subscribe to it: give it that permission" "$WORK/pdenied.log" ||
	fail "mdpub denied: $(cat "$WORK/pdenied.log")"
refused_src pstranger "the server does not know the user of $K/stranger.creds" \
	"url=$URL" 'subject=mdbus.src.>' "creds=$K/stranger.creds"
refused_src pnokey "the server wants credentials" "url=$KURL" 'subject=mdbus.src.>'

# relay NAME URL MDPUB-KEY MDSUB-ARGS...: src through the server to
# channel NAME, every message, in order
relay() {
	n=$1 url=$2 key=$3
	shift 3
	channel "$n.conf" "$n" source=nats "url=$url" 'subject=mdbus.src.>' \
		"$key" mode=lossless
	publishing "$n" start
	DST=$UP
	dump_channel "$n"
	RD=$RPID
	mdsub "$n" --forward "$url" "$@" || fail "mdsub $*: $(cat "$WORK/$n.fwd")"
	grep -q "nats: $sent published, 0 acknowledged, 0 duplicates, 0 errors" \
		"$WORK/$n.fwd" || fail "mdsub $*: $(cat "$WORK/$n.fwd")"
	i=0
	until kill -USR1 "$DST" && sleep 0.1 &&
		grep -q "channel $n: in $sent out $sent malformed 0 gaps 0 (lost 0) " \
			"$WORK/$n.log"; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$n did not get $sent: $(grep "channel $n: in" "$WORK/$n.log" | tail -n 1)"
	done
	stop "$DST"
	wait "$RD" || fail "reader of $n"
	same_market_data "$WORK/src.out" "$WORK/$n.out"
}
relay creds "$URL" "creds=$K/good.creds" --nats-creds "$K/good.creds"
opened creds "$K/good.creds" 1
relay nkey "$KURL" "nkey=$K/nkey.seed" --nats-nkey "$K/nkey.seed"
opened nkey "$K/nkey.seed" 1

# Reconnection, the file swapped: an mdpub source and an mdsub forwarder,
# both with creds swap.creds, relay channel feed (lines written into a
# FIFO) through server r1. After the first 1000 lines arrived, swap.creds
# is replaced (renamed over) by a stranger's credentials and r1 restarted
# on its port: both sign the new server's nonce again with the key they
# read at start (a library given the name would read the stranger's, which
# r1 refuses), subscribe and publish again, and the next 1000 arrive too.
nats_start r1 -c "$K/server.conf" -m -1
RPORT=$(nats_port r1)
RURL=nats://127.0.0.1:$RPORT
cp "$K/good.creds" "$K/swap.creds"
# forwarder: mdsub forwarding channel feed to r1 with swap.creds, traced
# as fwd; the pid to wait for in $FWD, the program's in $FWDPID
forwarder() {
	bg fwd "$MDSUB" --from oldest --forward "$RURL" \
		--nats-creds "$K/swap.creds" feed
	FWD=$BG FWDPID=$BGPID
}
# r1_ready [first]: waits until r1 has both clients and the source's
# subscription; fails at once, with its output, when mdpub rc or the
# forwarder has exited, but with `first` starts the forwarder again
# (twice at most) when the server refused its known user at once
# (known_refused)
r1_ready() {
	i=0 tries=1
	until monitor r1 '/connz?subs=1' | tr -d ' \n' |
		grep -q '"num_connections":2,.*"subscriptions_list":\["mdbus\.feed\.'; do
		kill -0 "$RCPID" 2>/dev/null || fail "mdpub rc exited: $(cat "$WORK/rc.log")"
		if ! kill -0 "$FWDPID" 2>/dev/null; then
			wait "$FWD"
			[ -n "${1:-}" ] && [ $tries -lt 3 ] &&
				known_refused "$WORK/fwd.log" fwd ||
				fail "the forwarder exited: $(cat "$WORK/fwd.log")"
			tries=$((tries + 1))
			forwarder
		fi
		i=$((i + 1))
		[ $i -le 600 ] || fail "r1: not both clients: $(monitor r1 /connz | tr -d ' \n' | head -c 400); rc: $(cat "$WORK/rc.log"); forwarder: $(cat "$WORK/fwd.log")"
		sleep 0.1
	done
}
# fed N: channel rc got all of feed's first N lines and status records
fed() {
	i=0
	until w=$(dir_write_num "$MDBUS_DIR" feed) && [ "${w:-0}" -gt "$1" ] &&
		kill -USR1 "$RCPID" && sleep 0.1 &&
		grep -q "channel rc: in $w out $w malformed 0 gaps 0 (lost 0) " \
			"$WORK/rc.log"; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "rc did not get ${w:-?} after $1 lines: $(grep "channel rc: in" "$WORK/rc.log" | tail -n 1)"
	done
}
# the writer: 1000 lines, and 1000 more once feed.more exists
mkfifo "$WORK/feed.fifo"
{
	yes 'Q,AAPL,189.5,100,189.52,200' | head -n 1000
	until [ -e "$WORK/feed.more" ]; do sleep 0.05; done
	yes 'T,MSFT,5,6' | head -n 1000
} >"$WORK/feed.fifo" &
WRITER=$!
PIDS="$PIDS $WRITER"
# no idle heartbeat message (default: one a second): one published
# while r1 restarts reaches r1 before rc has subscribed there again, and
# is lost (core NATS), which a loaded machine made happen
channel feed.conf feed source=lines format=csv "file=$WORK/feed.fifo" \
	mode=lossless heartbeat=60
run_channel feed
FEED=$PID
dump_channel feed
RFEED=$RPID
PIDS="$PIDS $RFEED"
channel rc.conf rc source=nats "url=$RURL" 'subject=mdbus.feed.>' \
	"creds=$K/swap.creds" mode=lossless
publishing rc bg
RC=$UP RCPID=$UPPID
dump_channel rc
RRC=$RPID
PIDS="$PIDS $RRC"
forwarder
r1_ready first
fed 1000
cp "$K/stranger.creds" "$K/evil.creds"
mv -f "$K/evil.creds" "$K/swap.creds"
nats_kill r1
nats_start r1 -c "$K/server.conf" -m -1 -p "$RPORT"
r1_ready
: >"$WORK/feed.more"
wait "$WRITER" || fail "the writer of feed"
wait "$FEED" || fail "mdpub feed"
fed 2000
# stopped NAME PID WAITPID: sends SIGTERM to PID, fails unless WAITPID
# (the process to reap: strace when traced) exits 0 within 60 s
stopped() {
	kill -TERM "$2" || fail "$1: no process $2 to stop"
	i=0
	while s=$(sed 's/.*) //' "/proc/$3/stat" 2>/dev/null) &&
		[ "${s%% *}" != Z ]; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$1 did not stop on SIGTERM: $(cat "$WORK/$1.log")"
		sleep 0.1
	done
	wait "$3" || fail "$1 exited $?: $(cat "$WORK/$1.log")"
}
stopped fwd "$FWDPID" "$FWD"
grep -q "nats: $w published, 0 acknowledged, 0 duplicates, 0 errors" \
	"$WORK/fwd.log" || fail "mdsub --forward (reconnecting): $(cat "$WORK/fwd.log")"
stopped rc "$RCPID" "$RC"
wait "$RFEED" || fail "reader of feed"
wait "$RRC" || fail "reader of rc"
same_market_data "$WORK/feed.out" "$WORK/rc.out"
[ "$(grep -c '^[QT] ' "$WORK/rc.out")" -eq 2000 ] ||
	fail "rc: $(grep -c '^[QT] ' "$WORK/rc.out") quotes and trades, not 2000"
opened rc "$K/swap.creds" 1
opened fwd "$K/swap.creds" 1
echo "relayed $sent messages with a .creds file and with an NKey seed;" \
	"$w through a server restarted after the .creds file was swapped"
exit 0
