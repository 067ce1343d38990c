#!/bin/sh
# Another user's file under a channel's lock file name (mdbus.CH+lock),
# made before mdpub starts in a sticky directory anyone may write, such
# as /dev/shm (the default): with replace = yes (the default) mdpub, as
# root, removes it when no process holds a lock on it and starts the
# channel with a lock file of its own, as it already replaced such a
# user's segment under the channel's name; a symbolic link there is
# removed, never followed; so is an empty directory or a socket there or
# under the segment's name. With replace = no, or while a process of that
# user holds the file locked, it is refused as before, naming its owner.
# A second name of a file of root's own there (a channel group's member
# may hard-link its table file) is removed the same way, the file kept.
# Before, one `touch /dev/shm/mdbus.demo+lock` by any local user made
# every start of root's mdpub fail ("mdpub failed to start", exit 1;
# attack run).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
	echo "SKIP: another user's files need root and runuser"
	exit 77
fi
nobody=$(id -u nobody) || { echo "SKIP: no user nobody"; exit 77; }
command -v flock >/dev/null || { echo "SKIP: no flock(1)"; exit 77; }

ST=$WORK/sticky
mkdir -m 1777 "$ST" && chmod 755 "$WORK" || fail "sticky directory"
: >"$WORK/target"
as_nobody() { runuser -u nobody -- "$@"; }

# run NAME [KEY=VALUE]: mdpub with channel NAME in $ST for a second,
# its log in $WORK/NAME.log, its exit status in $rc
run() {
	channel "$1.conf" "$1" source=synthetic rate=1000 dir="$ST" ${2:-}
	"$MDPUB" -c "$WORK/$1.conf" --duration 1 >"$WORK/$1.log" 2>&1
	rc=$?
}

# publishes NAME: run exits 0 having published, and leaves a lock file
# of root's, mode 600
publishes() {
	run "$1"
	[ "$rc" -eq 0 ] && grep -q "channel $1: publishing from sequence 0" "$WORK/$1.log" ||
		fail "$1: exit $rc: $(cat "$WORK/$1.log")"
	[ "$(stat -c '%F %u %a' "$ST/mdbus.$1+lock")" = "regular file 0 600" ] ||
		fail "$1: lock file $(stat -c '%F %u %a' "$ST/mdbus.$1+lock")"
}

# refused NAME [KEY=VALUE]: run exits 1 naming nobody's lock file, kept
refused() {
	run "$@"
	[ "$rc" -eq 1 ] && grep -qF "channel $1: its lock file $ST/mdbus.$1+lock is a file of uid $nobody mode 600 with 1 name(s)" "$WORK/$1.log" ||
		fail "$1: exit $rc: $(cat "$WORK/$1.log")"
	[ "$(stat -c %u "$ST/mdbus.$1+lock")" = "$nobody" ] || fail "$1: nobody's lock file gone"
}

# hold FILE [as_nobody]: a process (of nobody's) holds FILE locked, $holder
hold() {
	${2:-} flock "$1" sleep 60 &
	holder=$!
	PIDS="$PIDS $holder"
	i=0
	until ! flock -n "$1" true; do
		i=$((i + 1))
		[ "$i" -le 600 ] || fail "flock of $1 not taken"
		sleep 0.05
	done
}

as_nobody sh -c "umask 077; : >'$ST/mdbus.sq+lock'" || fail "nobody's file"
publishes sq
echo "nobody's file under the lock's name: replaced, the channel published"

as_nobody ln -s "$WORK/target" "$ST/mdbus.sl+lock" || fail "nobody's link"
publishes sl
[ -f "$WORK/target" ] && [ ! -s "$WORK/target" ] || fail "the link was followed"
echo "nobody's symbolic link under the lock's name: removed, not followed"

# what is no file under either name, nobody's: an empty directory, a
# socket, a symbolic link (the segment's name): removed or replaced, the
# channel published. Before, each made mdpub exit 1 ("is a socket, not a
# segment: remove it", "open its lock file ...: Is a directory")
as_nobody mkdir "$ST/mdbus.dl+lock" || fail "nobody's directory"
publishes dl
as_nobody mkdir "$ST/mdbus.ds" || fail "nobody's directory"
publishes ds
if command -v python3 >/dev/null; then # sockets
	for n in so+lock ss; do
		as_nobody python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$ST/mdbus.$n')" ||
			fail "nobody's socket"
	done
	publishes so
	publishes ss
else
	mkdir "$ST/mdbus.ss" # a directory again
	publishes ss
fi
as_nobody ln -s "$WORK/target" "$ST/mdbus.ls" || fail "nobody's link"
publishes ls
[ -f "$WORK/target" ] && [ ! -s "$WORK/target" ] || fail "the link was followed"
for n in ds ss ls; do
	[ "$(stat -c '%F %u' "$ST/mdbus.$n")" = "regular file 0" ] ||
		fail "$n: the segment's name: $(stat -c '%F %u' "$ST/mdbus.$n")"
done
# a directory nobody filled is his to remove: refused, naming it
as_nobody mkdir "$ST/mdbus.df" && as_nobody touch "$ST/mdbus.df/x" ||
	fail "nobody's directory"
run df
[ "$rc" -eq 1 ] && grep -qF "channel df: $ST/mdbus.df is a directory, not a segment: remove it" "$WORK/df.log" ||
	fail "df: exit $rc: $(cat "$WORK/df.log")"
echo "nobody's empty directory, socket or link under either name: removed or replaced; a directory with files: refused"

# a second name of a file of root's: a member of a channel's group may
# hard-link its table file (mode 0660; fs.protected_hardlinks lets whoever
# may read and write a file link it) under another channel's lock file
# name. Removed, the file kept. Before, mdpub refused to start ("... is a
# file of uid 0 mode 660 with 2 name(s)", attack run), replace or not
printf 'the table\n' >"$ST/mdbus.grp+table" && chmod 660 "$ST/mdbus.grp+table" &&
	ln "$ST/mdbus.grp+table" "$ST/mdbus.hl+lock" || fail "root's file linked"
publishes hl
[ "$(stat -c '%h' "$ST/mdbus.grp+table")" = 1 ] &&
	[ "$(cat "$ST/mdbus.grp+table")" = "the table" ] || fail "the linked file changed"
# ... but not while a process holds a lock on it (a live channel's lock)
: >"$ST/mdbus.live+lock" && chmod 600 "$ST/mdbus.live+lock" || fail "root's lock"
hold "$ST/mdbus.live+lock"
ln "$ST/mdbus.live+lock" "$ST/mdbus.hh+lock" || fail "root's lock linked"
run hh
[ "$rc" -eq 1 ] && grep -qF "channel hh: its lock file $ST/mdbus.hh+lock is a file of uid 0 mode 600 with 2 name(s)" "$WORK/hh.log" ||
	fail "hh: exit $rc: $(cat "$WORK/hh.log")"
[ "$(stat -c '%h' "$ST/mdbus.live+lock")" = 2 ] || fail "a held file's second name removed"
kill "$holder"
echo "a second name of root's own file under the lock's name: removed, unless a process holds it locked"

as_nobody sh -c "umask 077; : >'$ST/mdbus.no+lock'" || fail "nobody's file"
refused no replace=no
echo "with replace = no: refused, naming nobody's file"

as_nobody sh -c "umask 077; : >'$ST/mdbus.held+lock'" || fail "nobody's file"
hold "$ST/mdbus.held+lock" as_nobody
refused held
kill "$holder"
echo "nobody's file locked by his live process: refused, naming it"
