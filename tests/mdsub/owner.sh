#!/bin/sh
# --list and --status show who owns each channel's segment file (the user
# name, or the uid when it has none), and say so when that is not the
# user of the live publisher the segment's header names: another user can
# put a file under a channel's name in a directory anyone may write (as
# /dev/shm) and name root's publisher in it. Text, JSON and Prometheus.
# A user whose passwd entry is long is shown by name (and --owner takes
# it), not as a number. Reading another user's segment from a directory
# anyone may write with no owner named is warned of.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

# owner_col FILE CHANNEL: the OWNER column of CHANNEL's --list line (the
# rest of the line after the ten columns before it)
owner_col() {
	sed -En "s/^$2 +([^ ]+ +){9}//p" "$1"
}

# the owner's lines of --list and --status of CHANNEL, as they are
# (state, owner column; owner line): lines CHANNEL
lines() {
	status 0 "$MDSUB" --list >"$WORK/list" || exit 1
	printf '%s|%s\n' "$(awk -v c="$1" '$1 == c { print $5 }' "$WORK/list")" \
		"$(owner_col "$WORK/list" "$1")"
	status 0 "$MDSUB" --status "$1" >"$WORK/status" || exit 1
	grep '^  owner: ' "$WORK/status"
}

me=$(id -un)
pub alpha 3
lines alpha >"$WORK/got"
printf '%s\n' "stopped|$me" "  owner: $me" >"$WORK/want"
same "$WORK/want" "$WORK/got" "own stopped channel"
status 0 "$MDSUB" --list -o json >"$WORK/json"
[ "$("$TOOL" jget channels.0.owner channels.0.owner_uid \
	channels.0.owner_not_publisher <"$WORK/json" | tr '\n' ' ')" = \
	"$me $(id -u) false " ] || fail "own channel, JSON: $(cat "$WORK/json")"

# a passwd entry too long for a first buffer of 1 KiB (glibc's ERANGE,
# as for a long gecos or home from a directory service; interposer
# mdsub/pw_erange.c) is still a name: shown, and --owner takes it
PW=$top_builddir/tests/mdsub/.libs/pw_erange.so
[ -f "$PW" ] || fail "no $PW: make check builds it"
pw_long() {
	env LD_PRELOAD="$PW" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
status 0 pw_long "$MDSUB" --list >"$WORK/list"
[ "$(owner_col "$WORK/list" alpha)" = "$me" ] ||
	fail "long passwd entry, --list: $(cat "$WORK/list")"
status 0 pw_long "$MDSUB" --owner="$me" --status alpha >"$WORK/status" 2>&1
grep -qx "  owner: $me" "$WORK/status" ||
	fail "long passwd entry, --owner: $(cat "$WORK/status")"

# a live publisher of our own: its user is the owner, nothing to say
"$TOOL" pub -k 60 live 1 &
livepub=$!
TOP=$MDBUS_DIR
trap 'kill $livepub 2>/dev/null; rm -rf "$TOP" "$WORK"' EXIT
wait_for sh -c "\"$MDSUB\" --status live | grep -q '^  publisher: active'"
lines live >"$WORK/got"
printf '%s\n' "active|$me" "  owner: $me" >"$WORK/want"
same "$WORK/want" "$WORK/got" "own live publisher"
kill $livepub

if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
	echo "SKIP: another user's segments need root and runuser"
	exit 77
fi
nobody=$(id -u nobody) || { echo "SKIP: no user nobody"; exit 77; }

# a uid without a name is shown as its number
nameless=54321
while getent passwd "$nameless" >/dev/null; do nameless=$((nameless + 1)); done
pub nameless 1
chown "$nameless" "$MDBUS_DIR/mdbus.nameless" "$MDBUS_DIR"/mdbus.nameless+*
lines nameless >"$WORK/got"
printf '%s\n' "stopped|$nameless" "  owner: $nameless" >"$WORK/want"
same "$WORK/want" "$WORK/got" "uid without a name"
status 0 "$MDSUB" --status -o json nameless >"$WORK/json"
[ "$("$TOOL" jget channels.0.owner channels.0.owner_uid <"$WORK/json" |
	tr '\n' ' ')" = "null $nameless " ] || fail "nameless, JSON: $(cat "$WORK/json")"

# in a sticky directory anyone may write, nobody makes segments himself
chmod 0755 "$MDBUS_DIR"
STICKY=$MDBUS_DIR/sticky
mkdir "$STICKY" && chmod 1777 "$STICKY" || fail "sticky directory"
as_nobody() {
	runuser -u nobody -- env MDBUS_DIR="$STICKY" "$@"
}
as_nobody "$TOOL" pub -k 60 honest 1 &
honest=$!
trap 'kill $livepub $honest 2>/dev/null; rm -rf "$TOP" "$WORK"' EXIT
as_nobody "$TOOL" pub fake 2 || fail "nobody's segment"
# fake names this (root's) shell as its live publisher: pub_pid and
# pub_state (active) at 192, pub_start 0 (not known) at 200
as_nobody "$TOOL" poke fake 192 $(($$ | 1 << 32)) &&
	as_nobody "$TOOL" poke fake 200 0 || fail "poke as nobody"
MDBUS_DIR=$STICKY
wait_for sh -c "\"$MDSUB\" --status honest | grep -q '^  publisher: active'"
# nobody's own live publisher: nothing to say
lines honest >"$WORK/got"
printf '%s\n' "active|nobody" "  owner: nobody" >"$WORK/want"
same "$WORK/want" "$WORK/got" "nobody's own publisher"
# nobody's file naming root's process: said in both
lines fake >"$WORK/got"
printf '%s\n' "active|nobody, not the publisher's user root" \
	"  owner: nobody, not the publisher's user root" >"$WORK/want"
same "$WORK/want" "$WORK/got" "nobody's segment naming root's publisher"
grep -q "^  publisher: active, pid $$ " "$WORK/status" ||
	fail "fake's publisher: $(cat "$WORK/status")"
status 0 "$MDSUB" --status -o json fake >"$WORK/json"
[ "$("$TOOL" jget channels.0.owner channels.0.owner_uid \
	channels.0.owner_not_publisher channels.0.publisher.uid <"$WORK/json" |
	tr '\n' ' ')" = "nobody $nobody true 0 " ] ||
	fail "fake, JSON: $(cat "$WORK/json")"
status 0 "$MDSUB" --status -o prometheus >"$WORK/prom"
grep -q '^mdbus_channel_info{channel="fake",.*,owner="nobody",owner_not_publisher="1"} 1$' \
	"$WORK/prom" &&
	grep -q '^mdbus_channel_info{channel="honest",.*,owner="nobody",owner_not_publisher="0"} 1$' \
	"$WORK/prom" || fail "prometheus: $(grep _info "$WORK/prom")"
# reading another user's segment from a directory anyone may write, with
# no owner named, is said on stderr (once): that user is trusted, and
# anyone could have made the file; not with --owner or MDBUS_OWNER, not
# for our own segment, nor in a directory others may not write
warning="mdsub: honest: warning: reading user nobody's segment (uid $nobody) in $STICKY, where any user may make one: name the publisher's user with --owner (or MDBUS_OWNER) to refuse anyone else's"
status 0 "$MDSUB" -u -q honest 2>"$WORK/err"
[ "$(cat "$WORK/err")" = "$warning" ] || fail "no owner named: $(cat "$WORK/err")"
# an empty --dir is the default, $MDBUS_DIR here, as the library takes
# it (the warning named /dev/shm, and looked at it; --status too)
status 0 "$MDSUB" --dir= -u -q honest 2>"$WORK/err"
[ "$(cat "$WORK/err")" = "$warning" ] || fail "--dir=: $(cat "$WORK/err")"
status 0 "$MDSUB" --dir= --status honest >"$WORK/status"
grep -q "^segment directory $STICKY: " "$WORK/status" ||
	fail "--dir= --status: $(cat "$WORK/status")"
status 0 "$MDSUB" -u -q --owner=nobody honest 2>"$WORK/err"
[ ! -s "$WORK/err" ] || fail "--owner=nobody: $(cat "$WORK/err")"
status 0 env MDBUS_OWNER=nobody "$MDSUB" -u -q honest 2>"$WORK/err"
[ ! -s "$WORK/err" ] || fail "MDBUS_OWNER=nobody: $(cat "$WORK/err")"
# (stopped publishers: mdsub says so, nothing more)
pub own 1
status 0 "$MDSUB" -u -q own 2>"$WORK/err"
grep -q "stopped" "$WORK/err" && ! grep -q "warning" "$WORK/err" ||
	fail "own segment: $(cat "$WORK/err")"
status 0 env MDBUS_DIR="$TOP" "$MDSUB" -u -q nameless 2>"$WORK/err"
grep -q "stopped" "$WORK/err" && ! grep -q "warning" "$WORK/err" ||
	fail "a directory others may not write: $(cat "$WORK/err")"
# the same segment once others may write there: named by its uid
chmod 1777 "$TOP"
status 0 env MDBUS_DIR="$TOP" "$MDSUB" -u -q nameless 2>"$WORK/err"
chmod 0755 "$TOP"
grep -qx "mdsub: nameless: warning: reading user $nameless's segment (uid $nameless) in $TOP, where any user may make one: .*" \
	"$WORK/err" || fail "nameless, 1777: $(cat "$WORK/err")"
# and once the users of a group other than root's may write there (its
# sticky bit lets them make files, not rename ours); not root's group
chgrp "$(id -g nobody)" "$TOP" && chmod 1775 "$TOP" || fail "group directory"
status 0 env MDBUS_DIR="$TOP" "$MDSUB" -u -q nameless 2>"$WORK/err"
grep -qx "mdsub: nameless: warning: reading user $nameless's segment (uid $nameless) in $TOP, where users of its group may make one: .*" \
	"$WORK/err" || fail "nameless, 1775 of nobody's group: $(cat "$WORK/err")"
chgrp 0 "$TOP"
status 0 env MDBUS_DIR="$TOP" "$MDSUB" -u -q nameless 2>"$WORK/err"
chmod 0755 "$TOP"
grep -q "warning" "$WORK/err" && fail "root's group: $(cat "$WORK/err")"
# a directory of another user (0755) that he made in one anyone may
# write: he may make a segment there, which root's reader read with no
# warning before (attack run: nobody's mkdir before the administrator's);
# said, naming him. Not for one root made and gave him (a parent only
# root may write: the setup libmdbus(3) recommends), nor with --owner
NOBODYS=$STICKY/nobodys
runuser -u nobody -- mkdir -m 0755 "$NOBODYS" || fail "nobody's directory"
runuser -u nobody -- env MDBUS_DIR="$NOBODYS" "$TOOL" pub his 2 ||
	fail "nobody's segment in his directory"
status 0 env MDBUS_DIR="$NOBODYS" "$MDSUB" -u -q his 2>"$WORK/err"
grep -qx "mdsub: his: warning: reading user nobody's segment (uid $nobody) in $NOBODYS, where its owner, user nobody (uid $nobody), may make one: .*" \
	"$WORK/err" || fail "nobody's directory: $(cat "$WORK/err")"
status 0 env MDBUS_DIR="$NOBODYS" "$MDSUB" --owner=nobody -u -q his 2>"$WORK/err"
grep -q "warning" "$WORK/err" && fail "nobody's directory, --owner=nobody: $(cat "$WORK/err")"
GIVEN=$TOP/given
mkdir -m 0755 "$GIVEN" && chown nobody "$GIVEN" || fail "a directory given to nobody"
runuser -u nobody -- env MDBUS_DIR="$GIVEN" "$TOOL" pub his 2 ||
	fail "nobody's segment in the directory given to him"
status 0 env MDBUS_DIR="$GIVEN" "$MDSUB" -u -q his 2>"$WORK/err"
grep -q "warning" "$WORK/err" && fail "a directory given to nobody: $(cat "$WORK/err")"
# a user's directory of his private group (the group of his name, his
# primary one, no other member: Debian's daemon), 0775 as umask 002
# makes it: his publisher takes it, and readers read it (a group may
# write it, but it lets nobody else); another group's is refused
if [ "$(getent passwd daemon | cut -d: -f4)" = "$(getent group daemon | cut -d: -f3)" ] &&
	[ -z "$(getent group daemon | cut -d: -f4)" ]; then
	UPG=$TOP/upg
	mkdir -m 0775 "$UPG" && chown daemon:daemon "$UPG" || fail "daemon's directory"
	runuser -u daemon -- env MDBUS_DIR="$UPG" "$TOOL" pub upg 2 ||
		fail "a directory of daemon's private group refused"
	status 0 env MDBUS_DIR="$UPG" "$MDSUB" --owner=daemon -u -q upg 2>"$WORK/err"
	chgrp "$(id -g nobody)" "$UPG"
	runuser -u daemon -- env MDBUS_DIR="$UPG" "$TOOL" pub upg2 2 \
		2>"$WORK/err" && fail "a directory of nobody's group taken"
	grep -q "writable by its group and not sticky" "$WORK/err" ||
		fail "nobody's group: $(cat "$WORK/err")"
else
	echo "no user daemon with a private group: that case not run"
fi
# --owner=root refuses nobody's files outright, naming the owner
status 1 "$MDSUB" --owner=root --status fake >"$WORK/refused" 2>/dev/null
grep -q "^fake: unreadable: channel fake: the segment belongs to uid $nobody, not to the expected owner (uid 0)" \
	"$WORK/refused" || fail "--owner=root: $(cat "$WORK/refused")"
kill $honest
exit 0
