#!/bin/sh
# When the live publisher a segment names cannot be seen (/proc mounted
# with hidepid=2 and the viewer not its user), mdsub does not know that
# publisher's user, and says so: JSON owner_not_publisher null (not
# false), Prometheus owner_not_publisher="" (as publisher_process is for
# a hidden process), text "OWNER, the publisher's user unknown". The
# segment here is nobody's file naming root's live process, as owner.sh's
# "fake": a viewer told "false" would take it for honest.
# Needs root, runuser and unshare -m with a private /proc mount, else
# skips.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null ||
	! command -v unshare >/dev/null; then
	echo "SKIP: needs root, runuser and unshare"
	exit 77
fi
id -u nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
if ! unshare -m sh -c 'mount -t proc -o hidepid=2 proc /proc' 2>/dev/null; then
	echo "SKIP: cannot mount /proc with hidepid=2 in a mount namespace"
	exit 77
fi

chmod 0755 "$MDBUS_DIR"
STICKY=$MDBUS_DIR/sticky
mkdir "$STICKY" && chmod 1777 "$STICKY" || fail "sticky directory"
MDBUS_DIR=$STICKY
as_nobody() {
	runuser -u nobody -- env MDBUS_DIR="$STICKY" "$@"
}
# as_hidden_nobody CMD...: CMD as nobody with /proc mounted hidepid=2
as_hidden_nobody() {
	unshare -m -- sh -c 'mount -t proc -o hidepid=2 proc /proc &&
		exec runuser -u nobody -- env MDBUS_DIR="$0" "$@"' "$STICKY" "$@"
}

# a live process of root's for the segment to name
sleep 60 &
rootpid=$!
trap 'kill $rootpid 2>/dev/null; rm -rf "$TOP" "$WORK"' EXIT
TOP=$(dirname "$STICKY")
as_nobody "$TOOL" pub fake 2 || fail "nobody's segment"
# pub_pid and pub_state (active) at 192, pub_start 0 (not known) at 200
as_nobody "$TOOL" poke fake 192 $((rootpid | 1 << 32)) &&
	as_nobody "$TOOL" poke fake 200 0 || fail "poke as nobody"

# seen without hidepid (root): said to differ, as in owner.sh
status 0 "$MDSUB" --status -o json fake >"$WORK/json"
[ "$("$TOOL" jget channels.0.owner_not_publisher <"$WORK/json")" = true ] ||
	fail "root's view: $(cat "$WORK/json")"

# nobody under hidepid=2: the publisher is live (kill(2) says so) but its
# process cannot be read: its user is not known
status 0 as_hidden_nobody "$MDSUB" --status -o json fake >"$WORK/json"
[ "$("$TOOL" jget channels.0.publisher.state channels.0.publisher.process \
	channels.0.publisher.uid channels.0.owner \
	channels.0.owner_not_publisher <"$WORK/json" | tr '\n' ' ')" = \
	"active null null nobody null " ] ||
	fail "hidden publisher, JSON: $(cat "$WORK/json")"
status 0 as_hidden_nobody "$MDSUB" --list -o json >"$WORK/json"
[ "$("$TOOL" jget channels.0.owner_not_publisher <"$WORK/json")" = null ] ||
	fail "hidden publisher, --list JSON: $(cat "$WORK/json")"

status 0 as_hidden_nobody "$MDSUB" --status fake >"$WORK/status"
grep -qx "  owner: nobody, the publisher's user unknown" "$WORK/status" ||
	fail "hidden publisher, text: $(cat "$WORK/status")"
status 0 as_hidden_nobody "$MDSUB" --list >"$WORK/list"
[ "$(sed -En 's/^fake +([^ ]+ +){9}//p' "$WORK/list")" = \
	"nobody, the publisher's user unknown" ] ||
	fail "hidden publisher, --list: $(cat "$WORK/list")"

status 0 as_hidden_nobody "$MDSUB" --status -o prometheus >"$WORK/prom"
grep -qx 'mdbus_channel_info{channel="fake",mode="overwrite",layout="[0-9.]*",publisher_state="active",publisher_process="",owner="nobody",owner_not_publisher=""} 1' \
	"$WORK/prom" || fail "hidden publisher, prometheus: $(grep _info "$WORK/prom")"
kill $rootpid
exit 0
