#!/bin/sh
# A segment directory another user owns, itself or any directory above
# it, is refused by mdpub (-T and at start) naming it, its owner and the
# fix, as libmdbus refuses it to every publisher (mdbus_pub_config_check());
# so is, at start, an archive inside another user's directory.
# Before, root's mdpub took /tmp/X made ahead by nobody (mkdir in sticky
# /tmp, or /dev/shm) and published there, and nobody, owning the
# directory, renamed root's running segment away, removed its table and
# lock and published his own channel under the name: root's readers read
# nobody's quotes while root's mdpub went on, unaware (attack run).
# So is a symbolic link of another user's on the way to either, or any
# link in a directory another user may change.
# Root's own directory, and a sticky one anyone may write, still do.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
	echo "SKIP: another user's directory needs root and runuser"
	exit 77
fi
nobody=$(id -u nobody) || { echo "SKIP: no user nobody"; exit 77; }

# a sticky directory anyone may write (as /tmp and /dev/shm), and in it
# a directory nobody made ahead of us, and one of ours inside his
TOP=$WORK/top
mkdir -m 1777 "$TOP" && chmod 755 "$WORK" || fail "sticky directory"
runuser -u nobody -- mkdir -m 755 "$TOP/his" "$TOP/above" ||
	fail "nobody's directories"
mkdir "$TOP/above/ours" "$TOP/mine" || fail "root's directories"

for d in his above/ours mine; do
	channel "${d##*/}.conf" sd source=synthetic rate=1000 dir="$TOP/$d"
done
# refused CONF DIR OWNED: -T and a start refuse dir DIR, naming OWNED
# (nobody's), and make no segment
refused() {
	text="segment directory $2: $3 is uid $nobody's, not root's or this user's (uid 0)"
	"$MDPUB" -T -c "$WORK/$1.conf" 2>"$WORK/$1.err"
	rc=$?
	[ "$rc" -eq 1 ] && grep -qF -- "$text" "$WORK/$1.err" ||
		fail "-T, $1: exit $rc: $(cat "$WORK/$1.err")"
	"$MDPUB" -c "$WORK/$1.conf" --duration 1 2>"$WORK/$1.log"
	rc=$?
	[ "$rc" -eq 1 ] && grep -qF -- "$text" "$WORK/$1.log" ||
		fail "start, $1: exit $rc: $(cat "$WORK/$1.log")"
	[ ! -e "$2/mdbus.sd" ] || fail "$1: a segment was made in $2"
}
refused his "$TOP/his" "$TOP/his"
refused ours "$TOP/above/ours" "$TOP/above"
echo "nobody's directory, and ours inside nobody's, refused"

# an archive in nobody's directory: refused at start, nothing made
# there (before, mdpub made it and archived into it, and nobody renamed
# it away while mdpub wrote on into it and put an empty directory of his
# in its place: root's mdsub --from 0 counted 13038 archived messages
# lost, and the next start refused nobody's directory)
# mdpub -T refuses it too (it said OK, and start then refused)
channel arch.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/his/ar"
# refused_archive CONF DIR WHAT [ARCHIVE]: -T and a start refuse CONF's
# archive (DIR/ar unless given), naming DIR (nobody's) above it
refused_archive() {
	text="[channel sd]: archive ${4:-$2/ar}: $2 above it is uid $nobody's, not root's or mdpub's user's (uid 0)"
	for run in -T --duration=1; do
		"$MDPUB" "$run" -c "$WORK/$1.conf" >"$WORK/$1.out" 2>"$WORK/$1.log"
		rc=$?
		[ "$rc" -eq 1 ] && grep -qF -- "$text" "$WORK/$1.log" ||
			fail "$3, $run: exit $rc: $(cat "$WORK/$1.log")"
	done
}
refused_archive arch "$TOP/his" "archive in nobody's directory"
[ ! -e "$TOP/his/ar" ] || fail "the archive was made in nobody's directory"
echo "an archive in nobody's directory refused, by -T too"

# a symbolic link of nobody's on the way (his own, in the sticky
# directory) to root's directory: refused, as the archive's parent and as
# the segment directory, naming the link. Before, the real path was
# checked alone and passed, the configured path was announced, and
# nobody then pointed his link at a directory of his: root's mdsub
# --from 0 read his empty directory and counted 5421 archived messages
# lost (attack run); readers of the segment directory, which go by the
# link too, would read his segments under the channel's name.
mkdir "$TOP/real" || fail "root's directory"
runuser -u nobody -- ln -s "$TOP/real" "$TOP/hislink" || fail "nobody's link"
channel arlink.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/hislink/ar"
channel sdlink.conf sd source=synthetic rate=1000 dir="$TOP/hislink"
refused_archive arlink "$TOP/hislink" "archive through nobody's link"
[ ! -e "$TOP/real/ar" ] || fail "the archive was made through nobody's link"
refused sdlink "$TOP/hislink" "$TOP/hislink"
[ ! -e "$TOP/real/mdbus.sd" ] || fail "a segment was made through nobody's link"
# refused_T CONF WHAT TEXT: -T refuses CONF saying TEXT
refused_T() {
	"$MDPUB" -T -c "$WORK/$1.conf" >/dev/null 2>"$WORK/$1.log" &&
		fail "$2: accepted"
	grep -qF -- "$3" "$WORK/$1.log" || fail "$2: $(cat "$WORK/$1.log")"
}
# a link of nobody's inside the target of one of root's: refused too
ln -s "$TOP/hislink" "$TOP/rootlink" || fail "root's link"
channel arlink2.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/rootlink/ar"
refused_T arlink2 "archive through root's link to nobody's" \
	"$TOP/hislink above it is uid $nobody's"
# root's own link to the same directory: taken
ln -s "$TOP/real" "$TOP/ourlink" || fail "root's link"
channel arours.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/ourlink/ar"
"$MDPUB" -T -c "$WORK/arours.conf" >/dev/null 2>"$WORK/arours.log" ||
	fail "archive through root's own link: $(cat "$WORK/arours.log")"
# root's own link, but in a directory nobody may change: in his own
# directory, and in root's directory that anyone may write (not sticky).
# Who owns a link does not matter: no one can change one, only rename it
# away and put another in its place, which whoever may write its
# directory can. Before, each was taken: a real path of root's, and a
# link of root's.
ln -s "$TOP/real" "$TOP/his/rootlink" || fail "root's link in nobody's"
mkdir -m 777 "$TOP/open" && chmod 777 "$TOP/open" &&
	ln -s "$TOP/real" "$TOP/open/rootlink" ||
	fail "root's link in an open directory"
channel arhis.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/his/rootlink/ar"
refused_archive arhis "$TOP/his" "archive through root's link in nobody's directory" \
	"$TOP/his/rootlink/ar"
channel sdhis.conf sd source=synthetic rate=1000 dir="$TOP/his/rootlink"
refused sdhis "$TOP/his/rootlink" "$TOP/his"
channel aropen.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/open/rootlink/ar"
refused_T aropen "archive through root's link in an open directory" \
	"$TOP/open above it is writable by anyone and not sticky"
[ ! -e "$TOP/real/ar" ] || fail "the archive was made through a link others may replace"
# ".." out of nobody's directory (his, in the sticky one) back into
# root's: refused, naming his. Before, both were taken, their real path
# being root's, and nobody then renamed his away and put a link of his
# there: ".." led into his tree, and root's readers (the segment
# directory, the archive announced) to an empty directory of his
# (attack run)
channel sddot.conf sd source=synthetic rate=1000 dir="$TOP/his/../mine"
refused sddot "$TOP/his/../mine" "$TOP/his"
channel ardot.conf sd source=synthetic rate=1000 dir="$TOP/mine" \
	archive="$TOP/his/../real/ar"
refused_archive ardot "$TOP/his" "archive through .. out of nobody's directory" \
	"$TOP/his/../real/ar"
# out of root's own: taken
channel sdrootdot.conf sd source=synthetic rate=1000 dir="$TOP/real/../mine" \
	archive="$TOP/real/../real/ar"
"$MDPUB" -T -c "$WORK/sdrootdot.conf" >/dev/null 2>"$WORK/sdrootdot.log" ||
	fail ".. out of root's directory: $(cat "$WORK/sdrootdot.log")"
echo "nobody's link on the way refused (archive, segment directory); root's taken"
echo ".. out of nobody's directory refused, out of root's taken"
echo "root's link in nobody's directory, or in one anyone may write, refused"

# root's own, in the sticky directory: published
"$MDPUB" -c "$WORK/mine.conf" --duration 1 >"$WORK/mine.log" 2>&1 ||
	fail "root's directory: $(cat "$WORK/mine.log")"
grep -q "channel sd: publishing from sequence 0" "$WORK/mine.log" ||
	fail "root's directory: $(cat "$WORK/mine.log")"
echo "root's own directory in a sticky one: published"
