#!/bin/sh
# --unlink removes a channel's files (segment, consumer tables, hidden
# segments, lock file last) and nothing else; refuses while a live
# publisher owns the channel unless --force (then the lock file stays
# with the publisher); refuses other users' files (when the test runs as
# root, which can make them), removing nothing; never follows a symbolic
# link and never blocks on a FIFO under a channel's name. Another user's
# stray consumer table file or hidden segment under the channel's names
# does not block the removal: it is left and named.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

files() { # files: the names in the segment directory, one line
	(cd "$MDBUS_DIR" && ls -A | tr '\n' ' ')
}
unlinked() { # unlinked WANT-STATUS WANT-LINE ARGS...
	w=$1 line=$2
	shift 2
	status "$w" "$MDSUB" --unlink "$@" 2>"$WORK/err"
	grep -qxF -- "$line" "$WORK/err" || fail "--unlink $*: $(cat "$WORK/err")"
}

pub feed 3
[ "$(files)" = "mdbus.feed mdbus.feed+$(cd "$MDBUS_DIR" && ls | sed -n 's/^mdbus.feed+\([0-9a-f]\{16\}\)$/\1/p') mdbus.feed+lock " ] ||
	fail "files of a channel: $(files)"
unlinked 0 "mdsub: channel feed: 3 files removed" feed
[ -z "$(files)" ] || fail "left behind: $(files)"
unlinked 1 "mdsub: channel feed in $MDBUS_DIR: no file to remove" feed

# leftovers of crashed creators and old epochs go too; names that are
# not the channel's stay
pub x 1
pub xy 1
: >"$MDBUS_DIR/mdbus.x~0123456789abcdef"
: >"$MDBUS_DIR/mdbus.x+fedcba9876543210"
: >"$MDBUS_DIR/mdbus.x+junk"
: >"$MDBUS_DIR/mdbus.x~junk"
unlinked 0 "mdsub: channel x: 5 files removed" x
[ "$(files | tr ' ' '\n' | grep -c '^mdbus\.xy')" -eq 3 ] || fail "other channel touched: $(files)"
[ -e "$MDBUS_DIR/mdbus.x+junk" ] && [ -e "$MDBUS_DIR/mdbus.x~junk" ] ||
	fail "a name not of the channel was removed"
rm -f "$MDBUS_DIR/mdbus.x+junk" "$MDBUS_DIR/mdbus.x~junk"
status 0 "$MDSUB" --unlink xy 2>/dev/null

# a live publisher: refused, nothing removed; --force removes all but its
# lock file; once it is gone, the lock file too
"$TOOL" pub live 1 -k 20 &
PUB=$!
trap 'kill $PUB 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_for sh -c "\"$MDSUB\" --status live | grep -q 'publisher: active'"
before=$(files)
unlinked 1 "mdsub: channel live is owned by live publisher pid $PUB: not removed (stop it first, or --force)" live
[ "$(files)" = "$before" ] || fail "refused --unlink removed files: $(files)"
unlinked 0 "mdsub: channel live: 2 files removed" --force live
grep -qxF "mdsub: channel live: its publisher pid $PUB runs on and keeps its lock file: readers attached read on, no new one finds the channel" "$WORK/err" ||
	fail "--force: $(cat "$WORK/err")"
[ "$(files)" = "mdbus.live+lock " ] || fail "after --force: $(files)"
status 1 "$MDSUB" -u live 2>/dev/null
kill $PUB
wait $PUB
unlinked 0 "mdsub: channel live: 1 file removed" live

# a symbolic link under a channel's name is removed itself, never its
# target; under its lock file's name it is refused; a FIFO does not block
echo keep >"$WORK/target"
ln -s "$WORK/target" "$MDBUS_DIR/mdbus.sym"
unlinked 0 "mdsub: channel sym: 1 file removed" sym
[ "$(cat "$WORK/target")" = keep ] || fail "symlink target changed"
ln -s "$WORK/target" "$MDBUS_DIR/mdbus.sl+lock"
status 1 "$MDSUB" --unlink sl 2>"$WORK/err"
grep -q "mdbus.sl+lock: Too many levels of symbolic links" "$WORK/err" || fail "symlinked lock: $(cat "$WORK/err")"
[ -L "$MDBUS_DIR/mdbus.sl+lock" ] && [ "$(cat "$WORK/target")" = keep ] || fail "symlinked lock file removed or followed"
rm "$MDBUS_DIR/mdbus.sl+lock"
mkfifo "$MDBUS_DIR/mdbus.fifo"
unlinked 0 "mdsub: channel fifo: 1 file removed" fifo

# another user's file under one of the names: nothing of the channel removed
if [ "$(id -u)" -eq 0 ]; then
	pub other 1
	before=$(files)
	chown 65534 "$MDBUS_DIR/mdbus.other+lock"
	unlinked 1 "mdsub: mdbus.other+lock is a regular file of uid 65534, not this user's (uid 0): nothing removed; remove the channel as its owner" other
	[ "$(files)" = "$before" ] || fail "another user's channel touched: $(files)"
else
	echo "another user's files not checked: not root"
fi

# Another user's stray consumer table file and hidden segment under a
# channel's names, in a sticky directory (as /dev/shm): the owner of the
# channel removes its own files, and the strays are left and named
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP part: strays of another user need root (runuser -u nobody)"
	exit 0
fi
chmod 0755 "$MDBUS_DIR"
STICKY=$MDBUS_DIR/sticky
mkdir "$STICKY" && chmod 1777 "$STICKY" || fail "sticky directory"
as_nobody() {
	runuser -u nobody -- env MDBUS_DIR="$STICKY" "$@"
}
as_nobody "$TOOL" pub mine 2 || fail "publisher as nobody"
: >"$STICKY/mdbus.mine+0123456789abcdef"
: >"$STICKY/mdbus.mine~fedcba9876543210"
as_nobody "$MDSUB" --unlink mine 2>"$WORK/err" ||
	fail "stray of another user blocked --unlink: $(cat "$WORK/err")"
grep -qxF "mdsub: channel mine: 3 files removed; 2 files of other users left (no part of this user's channel; only their owner or root may remove them): mdbus.mine+0123456789abcdef (uid 0), mdbus.mine~fedcba9876543210 (uid 0)" \
	"$WORK/err" || fail "strays: $(cat "$WORK/err")"
[ "$(cd "$STICKY" && ls -A | tr '\n' ' ')" = "mdbus.mine+0123456789abcdef mdbus.mine~fedcba9876543210 " ] ||
	fail "after --unlink with strays: $(cd "$STICKY" && ls -A)"
# only strays: nothing of this user's to remove (exit 1), named
status 1 as_nobody "$MDSUB" --unlink mine 2>"$WORK/err"
grep -qxF "mdsub: channel mine in $STICKY: no file of this user to remove; 2 files of other users left (no part of this user's channel; only their owner or root may remove them): mdbus.mine+0123456789abcdef (uid 0), mdbus.mine~fedcba9876543210 (uid 0)" \
	"$WORK/err" || fail "only strays: $(cat "$WORK/err")"
exit 0
