#!/bin/sh
# The channel archive (doc/protocol.md, "Archive", "Replay, then live"),
# with real mdpub processes:
#  - a reader that starts more than 10 rings behind a publisher publishing
#    at full rate gets every message exactly once, in order, from the
#    archive's rotated files and then the ring;
#  - a rate-limited publisher: the late reader catches up and reads on live;
#  - a new file at the configured time of day, read back as one;
#  - overwrite mode at full rate: what the archive missed is logged, and a
#    replaying reader counts exactly that as lost;
#  - mdpub killed mid-run, a cut record at the end of its last file: the
#    next mdpub archives on in a new file, readers trim the cut record and
#    count exactly what the restart could not archive;
#  - writes that fail (a file size limit): counted; a replay reads what
#    the archive lost from the ring while the ring has it;
#  - mdpub killed with a large last file: the next start finds its end
#    from the resume note, walking only what the last flush had not
#    covered;
#  - a full disk (a 256 KiB tmpfs in a mount namespace of its own, root
#    only): no empty or header-only file is left, new files are tried at
#    most once a second, failures counted, the loss exact;
#  - a symbolic link, a group-writable directory or another user's as the
#    archive is refused, by mdpub (and a link by a reader);
#  - the directory and files get the channel's group and a mode from its
#    file_mode: a reader in the group replays, one outside cannot (root
#    only);
#  - a file whose name is far ahead of everything published: mdsub says
#    so once and replays every message (it waited forever before);
#  - mdsub --from TIME starts at the first message stamped at or after it;
#  - mdsub --retransmit answers re-requests for messages older than its
#    store and the ring from the archive, by a reader kept open across
#    requests (opened again only for one behind it).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
shared_map # TSan: the archive's reader on the channel's own mapping

RING=4096 # slots_per_block 1024 x block_count 4
GEOM="slots_per_block=1024 block_count=4"

# files AR CHANNEL: the first sequence numbers of its files, one a line
files() {
	ls "$1" 2>/dev/null | sed -n "s/^$2\.[0-9a-f]\{16\}\.\([0-9]\{20\}\)\..*\.rec\$/\1/p" |
		sed 's/^0*\([0-9]\)/\1/'
}

# wait_files AR CHANNEL SEQ: until a file of it starts past SEQ
wait_files() {
	i=0
	while :; do
		last=$(files "$1" "$2" | tail -n 1)
		[ -n "$last" ] && [ "$last" -gt "$3" ] && return
		i=$((i + 1))
		[ "$i" -le 1200 ] || fail "no archive file past seq $3 in $1"
		sleep 0.05
	done
}

# replay NAME READER-ARGS...: the test reader (a minute at most), its
# tally in $WORK/NAME.out, "replayed N" in $WORK/NAME.err; fails unless
# it exits 0 (status would send the reason to the redirection too)
replay() {
	n=$1
	shift
	"$READER" --timeout 60 "$@" >"$WORK/$n.out" 2>"$WORK/$n.err" ||
		fail "reader $*: $(cat "$WORK/$n.err" "$WORK/$n.out")"
}

# counter LOG NAME: the value after "NAME " on the archive's stats line
counter() {
	sed -n "/channel .*: archive .*: written /s/.* $2 \([0-9]*\).*/\1/p" "$1" |
		tail -n 1
}

# 1. full rate (lossless: the archive holds the publisher back rather
# than lose), files of at most 1 MB; a reader 10 rings behind.
AR=$WORK/ar1
channel full.conf full source=synthetic rate=0 mode=lossless $GEOM \
	archive="$AR" archive_size=1000000
start full -c "$WORK/full.conf"
wait_files "$AR" full $((10 * RING))
replay full --from 0 --until 200000 --synthetic full
stop "$PID"
expect "$WORK/full.out" "messages 200000 quote $(sed -n 's/.* quote \([0-9]*\) .*/\1/p' "$WORK/full.out") trade $(sed -n 's/.* trade \([0-9]*\) .*/\1/p' "$WORK/full.out") status 1 heartbeat 0 other 0 lost 0"
expect "$WORK/full.out" "first 0 last 199999 up 1 down 0 bad 0"
replayed=$(sed -n 's/^replayed //p' "$WORK/full.err")
[ "$replayed" -ge $((10 * RING)) ] || fail "only $replayed messages from the archive"
echo "full rate: $replayed of 200000 messages from the archive"
written=$(counter "$WORK/full.log" written)
grep -q "channel full: archive $AR: written $written files [0-9]* lost 0 errors 0" \
	"$WORK/full.log" || fail "archive counters: $(grep 'archive ' "$WORK/full.log")"
grep -q "channel full: stopped at sequence $written\$" "$WORK/full.log" ||
	fail "not all $written messages archived"
nfiles=$(files "$AR" full | wc -l)
[ "$nfiles" -ge 3 ] || fail "$nfiles files: no rotation by size"
[ "$(counter "$WORK/full.log" files)" -eq "$nfiles" ] || fail "files counted"
big=$(find "$AR" -name 'full.*.rec' -size +1000000c | wc -l)
[ "$big" -eq 0 ] || fail "$big files larger than archive_size"
[ "$(stat -c %a "$AR"/full.*.rec | sort -u)" = 640 ] || fail "file mode"
rm -rf "$AR"

# 2. rate-limited: the late reader replays, catches up and reads on live
# (a ring of 1024: the archive flushes every 256 messages)
AR=$WORK/ar2
channel slow.conf slow source=synthetic rate=20000 mode=lossless \
	slots_per_block=256 block_count=4 archive="$AR"
start slow -c "$WORK/slow.conf"
wait_log slow "channel slow: archive $AR from sequence 0"
# 14000 messages: more than 10 rings (0.7 s, longer on a loaded machine)
slow_written() {
	[ "$("$MDSUB" --status slow | sed -n 's/^ *write_num: \([0-9]*\).*/\1/p')" -ge 14000 ]
}
wait_for slow_written
replay slow --from 0 --until 40000 --synthetic slow
stop "$PID"
grep -q ' lost 0$' "$WORK/slow.out" || fail "slow: $(cat "$WORK/slow.out")"
grep -q '^first 0 last [0-9]* up 1 down 0 bad 0$' "$WORK/slow.out" ||
	fail "slow: $(cat "$WORK/slow.out")"
replayed=$(sed -n 's/^replayed //p' "$WORK/slow.err")
[ "$replayed" -ge 10240 ] && [ "$replayed" -lt 40000 ] ||
	fail "slow: $replayed messages from the archive: never went live"
echo "rate-limited: $replayed of 40000 messages from the archive"

# 2b. a new file at the configured time of day (UTC, to the second): two
# files, the second named at or after that time, read back as one
AR=$WORK/ar2b
now=$(date -u +%s)
at=$(date -u -d "@$((now + 3))" +%H:%M:%S)
channel tod.conf tod source=synthetic rate=5000 mode=lossless $GEOM \
	archive="$AR" archive_rotate="$at"
start tod -c "$WORK/tod.conf"
wait_log tod "channel tod: archive $AR from sequence 0"
# until the rotation made the second file (then no third: one a day)
rotated() { [ "$(files "$AR" tod | wc -l)" -ge 2 ]; }
wait_for rotated
stop "$PID"
[ "$(files "$AR" tod | wc -l)" -eq 2 ] ||
	fail "rotation at $at UTC: files $(ls "$AR")"
# (named by its first message's time, which may be a moment before the
# rotation that put it in the new file)
day=$(ls "$AR" | sed -n '2s/^tod\.[0-9a-f]*\.[0-9]*\.\([0-9]\{8\}\)T\([0-9]\{6\}\)\..*/\1 \2/p')
t2=$(date -u -d "$(echo "$day" | sed 's/\(..\)\(..\)\(..\)$/\1:\2:\3/')" +%s) ||
	fail "the second file's name: $(ls "$AR" | sed -n 2p)"
[ "$t2" -ge $((now + 2)) ] ||
	fail "the second file ($(ls "$AR" | sed -n 2p)) starts before $at"
replay tod --from 0 --until down tod
grep -q '^first 0 last [0-9]* up 1 down 1 bad 0$' "$WORK/tod.out" &&
	grep -q ' lost 0$' "$WORK/tod.out" || fail "tod: $(cat "$WORK/tod.out")"
echo "time of day: a new file at $at UTC, read back whole"
rm -rf "$AR"

# 3. overwrite mode at full rate: the archive falls behind, says so and
# counts it; a replay counts exactly that as lost
AR=$WORK/ar3
channel over.conf over source=synthetic rate=0 count=200000 $GEOM archive="$AR"
status 0 "$MDPUB" -c "$WORK/over.conf" 2>"$WORK/over.log"
alost=$(counter "$WORK/over.log" lost)
echo "overwrite mode: the archive lost $alost of 200002"
[ "$alost" -eq 0 ] || grep -q "channel over: ARCHIVE LOST [0-9]* messages" \
	"$WORK/over.log" || fail "archive loss not logged"
replay over --from 0 --until down over
# (the reader counts no loss before its first message: that is its seq)
first=$(sed -n 's/^first \([0-9]*\) last 200001 up [01] down 1 bad 0$/\1/p' "$WORK/over.out")
set -- $(sed -n 's/^messages \([0-9]*\) .* lost \([0-9]*\)$/\1 \2/p' "$WORK/over.out")
[ -n "$first" ] && [ "$1" -eq $((200002 - alost)) ] &&
	[ $(($2 + first)) -eq "$alost" ] || fail "over: $(cat "$WORK/over.out")"

# 4. mdpub killed while it archives; its last file then ends in a cut
# record (as a crash inside a write leaves it)
AR=$WORK/ar4
channel crash.conf crash source=synthetic rate=0 mode=lossless $GEOM \
	archive="$AR" archive_size=1000000
start crash -c "$WORK/crash.conf"
wait_files "$AR" crash $((10 * RING))
kill -KILL "$PID"
wait "$PID" 2>/dev/null
last=$AR/$(ls "$AR" | tail -n 1)
printf '\030\000\000\000\011\000\000\000\377\377' >>"$last" # 10 bytes of a record
channel crash2.conf crash source=synthetic rate=0 count=100000 mode=lossless \
	$GEOM archive="$AR" archive_size=1000000
status 0 "$MDPUB" -c "$WORK/crash2.conf" 2>"$WORK/crash2.log"
alost=$(counter "$WORK/crash2.log" lost)
echo "after kill -9: $alost messages not archived"
# what the archive lost is what the killed mdpub published and its archive
# had not written: none of the new publisher's (its first messages were
# lost too, the "up" status among them, while its gate did not know of
# its archive's reader, registered behind the ring or a ring behind)
resumed=$(sed -n 's/.*channel crash: publishing from sequence \([0-9]*\),.*/\1/p' "$WORK/crash2.log")
before=$(sed -n 's/.*ARCHIVE LOST [0-9]* messages before seq \([0-9]*\):.*/\1/p' "$WORK/crash2.log" | tail -n 1)
[ -z "$before" ] || [ "$before" -le "$resumed" ] ||
	fail "the archive lost messages up to $before, past $resumed where this publisher began"
! grep -q "message dropped\|dropped at stop" "$WORK/crash2.log" ||
	fail "$(grep "message dropped\|dropped at stop" "$WORK/crash2.log")"
replay crash --from 0 --until down crash
grep -q "^first 0 last [0-9]* up 2 down 1 bad 0\$" "$WORK/crash.out" ||
	fail "crash: $(cat "$WORK/crash.out")"
last=$(sed -n 's/^first 0 last \([0-9]*\) .*/\1/p' "$WORK/crash.out")
expect "$WORK/crash.out" "messages $((last + 1 - alost)) quote $(sed -n 's/.* quote \([0-9]*\) .*/\1/p' "$WORK/crash.out") trade $(sed -n 's/.* trade \([0-9]*\) .*/\1/p' "$WORK/crash.out") status 3 heartbeat 0 other 0 lost $alost"

# 4a. mdpub killed with a last file of megabytes: the next start walks
# only the records after the resume note (at most a flush's worth), and
# a replay is exact
AR=$WORK/ar4a
channel big.conf big source=synthetic rate=0 mode=lossless $GEOM archive="$AR"
start big -c "$WORK/big.conf"
i=0
until [ "$(cat "$AR"/big.*.rec 2>/dev/null | wc -c)" -gt 4000000 ]; do
	i=$((i + 1))
	[ "$i" -le 1200 ] || fail "big: no 4 MB archived"
	sleep 0.05
done
kill -KILL "$PID"
wait "$PID" 2>/dev/null
last=$(ls "$AR"/big.*.rec)
printf '\030\000\000\000\011\000\000\000\377\377' >>"$last" # a cut record
size=$(stat -c %s "$last")
channel big2.conf big source=synthetic rate=0 count=1000 mode=lossless $GEOM \
	archive="$AR"
status 0 "$MDPUB" -c "$WORK/big2.conf" 2>"$WORK/big2.log"
from=$(sed -n "s/.*channel big: archive file big\..*\.rec ends at sequence [0-9]* (its records walked from byte \([0-9]*\) of $size)\$/\1/p" \
	"$WORK/big2.log")
[ -n "$from" ] && [ $((size - from)) -ge 10 ] && [ $((size - from)) -lt 1048576 ] ||
	fail "big: the end of a $size-byte file found walking from byte '$from'"
echo "after kill -9: the end of a $size-byte file found walking $((size - from)) bytes"
alost=$(counter "$WORK/big2.log" lost)
replay big --from 0 --until down big
grep -q "^first 0 last [0-9]* up 2 down 1 bad 0\$" "$WORK/big.out" &&
	grep -q " lost $alost\$" "$WORK/big.out" || fail "big: $(cat "$WORK/big.out"), archive lost $alost"
rm -rf "$AR"

# 4b. writes that fail (a file size limit: EFBIG, as a full disk's
# ENOSPC) cost the archive messages, counted, logged, exact; the
# publisher publishes everything
AR=$WORK/ar7
channel fsz.conf fsz source=synthetic rate=50000 count=150000 slot_size=128 \
	$GEOM archive="$AR" archive_flush=0.01
(ulimit -f 4096 && exec "$MDPUB" -c "$WORK/fsz.conf") 2>"$WORK/fsz.log" ||
	fail "mdpub with a file size limit exited $?"
grep -q "channel fsz: in 150000 out 150000 " "$WORK/fsz.log" || fail "publisher held up"
grep -q "channel fsz: archive $AR/fsz\..*\.rec: File too large: [0-9]* messages lost" \
	"$WORK/fsz.log" || fail "write failure not logged"
alost=$(counter "$WORK/fsz.log" lost)
[ "$(counter "$WORK/fsz.log" errors)" -ge 1 ] && [ "$alost" -gt 0 ] ||
	fail "write failures not counted"
replay fsz --from 0 --until down fsz
expect "$WORK/fsz.out" "first 0 last 150001 up 1 down 1 bad 0"
# (what the archive lost that the ring still holds is read there)
set -- $(sed -n 's/^messages \([0-9]*\) .* lost \([0-9]*\)$/\1 \2/p' "$WORK/fsz.out")
[ $(($1 + $2)) -eq 150002 ] && [ "$2" -le "$alost" ] ||
	fail "fsz: $(cat "$WORK/fsz.out"), archive lost $alost"
echo "file size limit: the archive lost $alost of 150002"

# 4c. a full disk: a 256 KiB tmpfs as the archive, in a mount namespace
# of the test's own (root only). The files fill it; then every try of a
# new file fails: none is left behind empty or with a header only, the
# tries come at most once a second (the back-off), each is counted, and
# a replay inside the namespace counts exactly what the archive lost.
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	AR=$WORK/ar8
	mkdir -m 750 "$AR"
	channel nsp.conf nsp source=synthetic rate=20000 count=60000 \
		slot_size=128 $GEOM archive="$AR" archive_size=65536 \
		archive_flush=0.01
	unshare -m --propagation private sh -c '
		mount -t tmpfs -o size=256k,mode=0750 tmpfs "$1" || exit 99
		"$2" -c "$3/nsp.conf" 2>"$3/nsp.log" || exit 98
		find "$1" -name "nsp.*.rec" -size -121c >"$3/nsp.small"
		ls "$1" | grep -c "^nsp\..*\.rec\$" >"$3/nsp.files"
		"$4" --timeout 60 --from 0 --until down nsp >"$3/nsp.out" \
			2>"$3/nsp.err"' sh "$AR" "$MDPUB" "$WORK" "$READER" ||
		fail "full disk: exit $? $(cat "$WORK/nsp.err" 2>/dev/null)"
	grep -q "channel nsp: archive $AR/nsp\..*\.rec: No space left on device" \
		"$WORK/nsp.log" || fail "full disk not logged"
	[ ! -s "$WORK/nsp.small" ] ||
		fail "files left empty or with a header only: $(cat "$WORK/nsp.small")"
	errors=$(counter "$WORK/nsp.log" errors)
	[ "$errors" -ge 2 ] && [ "$errors" -le 20 ] ||
		fail "full disk: $errors errors in a run of 3 s"
	[ "$(counter "$WORK/nsp.log" files)" -eq "$(cat "$WORK/nsp.files")" ] ||
		fail "files counted $(counter "$WORK/nsp.log" files), $(cat "$WORK/nsp.files") there"
	alost=$(counter "$WORK/nsp.log" lost)
	expect "$WORK/nsp.out" "first 0 last 60001 up 1 down 1 bad 0"
	set -- $(sed -n 's/^messages \([0-9]*\) .* lost \([0-9]*\)$/\1 \2/p' "$WORK/nsp.out")
	[ $(($1 + $2)) -eq 60002 ] && [ "$2" -le "$alost" ] && [ "$alost" -gt 0 ] ||
		fail "full disk: $(cat "$WORK/nsp.out"), archive lost $alost"
	echo "full disk: $errors failures, the archive lost $alost of 60002, no empty file"
else
	echo "full disk part skipped: not root, or no mount namespace (unshare -m)"
fi

# 4d. the consumer table full of live readers when mdpub starts (readers
# that registered while no publisher ran; anyone who may write the table
# can fill it too): the channel starts all the same (it failed to start:
# "mdpub failed to start"), its archive reads without an entry, says so,
# and takes one as soon as one frees
if [ -x "${MDSUB:-}" ]; then
	AR=$WORK/ar8
	channel full2.conf full2 source=synthetic rate=2000 mode=lossless \
		max_consumers=2 $GEOM archive="$AR"
	start full2 -c "$WORK/full2.conf"
	wait_log full2 "channel full2: archive $AR from sequence 0"
	stop "$PID"
	"$MDSUB" -N r1 -q full2 2>"$WORK/r1.err" &
	r1=$!
	"$MDSUB" -N r2 -q full2 2>"$WORK/r2.err" &
	r2=$!
	PIDS="$PIDS $r1 $r2"
	i=0
	until [ "$("$MDSUB" --status full2 | grep -c '^ *r[12] ')" -eq 2 ]; do
		i=$((i + 1))
		[ "$i" -le 1200 ] || fail "readers not registered: $(cat "$WORK/r1.err" "$WORK/r2.err")"
		sleep 0.05
	done
	start full2b -c "$WORK/full2.conf"
	wait_log full2b "channel full2: archive: consumer table full (2 entries, all held by live readers): reading without an entry"
	wait_log full2b "channel full2: publishing from sequence"
	kill "$r1"
	wait "$r1" 2>/dev/null
	wait_log full2b "channel full2: archive: registered at sequence"
	"$MDSUB" --status full2 | grep -q '^ *archive ' ||
		fail "the archive holds no entry: $("$MDSUB" --status full2)"
	kill "$r2"
	wait "$r2" 2>/dev/null
	stop "$PID"
	echo "a full table at start: the archive read without an entry, then took one"
fi

# 4e. the archive's entry taken while the table is full of live readers
# (a writer of the table copies a live reader's state word and owner tag
# into it): the archive, evicted, cannot register again; it reads on
# without an entry, archives every message, and a stop ends at once
# (mdpub hung at its stop before: its archive tried for an entry every
# second, never looking at the stop, for as long as the readers lived)
if [ -x "${MDSUB:-}" ] && command -v python3 >/dev/null; then
	AR=$WORK/ar8b
	channel full3.conf full3 source=synthetic rate=2000 \
		max_consumers=2 $GEOM archive="$AR"
	start full3 -c "$WORK/full3.conf"
	wait_log full3 "channel full3: archive $AR from sequence 0"
	"$MDSUB" -N r1 -q full3 2>"$WORK/r1.err" &
	r1=$!
	PIDS="$PIDS $r1"
	registered full3 r1 "$WORK/r1.err"
	table=$(ls "$MDBUS_DIR" | grep -x 'mdbus\.full3+[0-9a-f]\{16\}')
	python3 - "$MDBUS_DIR/$table" <<'PY' || fail "the archive's entry not taken"
import mmap, sys
with open(sys.argv[1], "r+b") as f:
    t = mmap.mmap(f.fileno(), 0)
    # entries of 128 bytes from 4096: state word, owner tag, ..., name at 32
    at = {t[e + 32:e + 64].rstrip(b"\0"): e for e in (4096, 4224)}
    t[at[b"archive"]:at[b"archive"] + 16] = t[at[b"r1"]:at[b"r1"] + 16]
PY
	wait_log full3 "channel full3: archive: .*consumer table.* full"
	kill -TERM "$PID"
	ended_within "$PID" 5
	[ "$rc" -eq 0 ] || fail "mdpub exited $rc after SIGTERM (137: killed, still running 5 s after it)"
	grep -q "channel full3: archive: consumer table full (2 entries, all held by live readers): reading without an entry" "$WORK/full3.log" ||
		fail "the archive, evicted in a full table, did not read on without an entry"
	n=$(sed -n 's/.*channel full3: stopped at sequence \([0-9]*\)$/\1/p' "$WORK/full3.log")
	grep -q "channel full3: archive $AR: written $n files [0-9]* lost 0 errors 0\$" "$WORK/full3.log" ||
		fail "archive after its eviction: $(grep 'archive .*: written' "$WORK/full3.log"), stopped at $n"
	kill "$r1"
	wait "$r1" 2>/dev/null
	echo "the archive's entry taken in a full table: read on without one, $n archived, stopped at once"
fi

# 4f. the channel's last write a skip (mdpub --replay --keep-seq: the
# record after a gap of 48 is larger than the slot payload, dropped): the
# archive's stop counts the 48 lost, with no message after them to count
# them, and mdpub ends (exit 2: a record dropped); it waited for a
# message past them for ever
big=$(printf "%0300d" 0)
{ header 65536; record 0 1000 a; record 1 2000 b; record 50 3000 "$big"; } >"$WORK/gap.rec"
AR=$WORK/ar8c
start gap --replay "$WORK/gap.rec" --keep-seq --speed 0 --set archive="$AR"
ended_within "$PID" 10
[ "$rc" -eq 2 ] || fail "mdpub --replay ending in a skip exited $rc (137: killed, still running after 10 s), not 2"
grep -q "channel rec: ARCHIVE LOST 48 messages before seq 50: " "$WORK/gap.log" &&
	grep -q "channel rec: archive $AR: written 2 files 1 lost 48 errors 0\$" "$WORK/gap.log" &&
	grep -q "channel rec: stopped at sequence 50\$" "$WORK/gap.log" ||
	fail "a last write that skipped: $(grep 'rec: \(archive\|stopped\)' "$WORK/gap.log")"
echo "the last write a skip: the archive counted its 48 lost and stopped"

# 5. hostile directories: a symbolic link, a directory others may write
mkdir "$WORK/real"
ln -s "$WORK/real" "$WORK/link"
channel link.conf link source=synthetic count=10 archive="$WORK/link"
refused link "archive $WORK/link is a symbolic link: not followed"
[ ! -e "$MDBUS_DIR/mdbus.link" ] || fail "a segment was left behind"
mkdir -m 770 "$WORK/shared"
chmod 770 "$WORK/shared"
channel shared.conf shared source=synthetic count=10 archive="$WORK/shared"
refused shared "archive $WORK/shared is writable by group or others"
if [ "$(id -u)" -eq 0 ]; then # another user's directory (root only)
	mkdir -m 750 "$WORK/theirs"
	chown 65534 "$WORK/theirs" || fail "chown"
	channel theirs.conf theirs source=synthetic count=10 archive="$WORK/theirs"
	refused theirs "archive $WORK/theirs belongs to another user"
fi
# 5b. the channel's group and file_mode (root only): the directory
# mdpub makes is 750 and the files 640 in group nogroup; nobody (in it)
# replays every message, daemon (not in it) may read neither
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 &&
	id daemon >/dev/null 2>&1; then
	grp=$(id -gn nobody)
	AR=$WORK/ar9
	chmod 711 "$WORK" "$MDBUS_DIR"
	channel grp.conf grp source=synthetic rate=0 count=20000 mode=lossless \
		$GEOM archive="$AR" archive_size=100000 group="$grp" file_mode=0640
	status 0 "$MDPUB" -c "$WORK/grp.conf" 2>"$WORK/grp.log"
	[ "$(stat -c '%a %G' "$AR")" = "750 $grp" ] ||
		fail "directory: $(stat -c '%a %G' "$AR")"
	[ "$(stat -c '%a %G' "$AR"/* | sort -u)" = "640 $grp" ] ||
		fail "files: $(stat -c '%a %G %n' "$AR"/*)"
	runuser -u nobody -- "$READER" --timeout 60 --from 0 --until down grp \
		>"$WORK/grp.out" 2>"$WORK/grp.err" ||
		fail "nobody (group $grp): $(cat "$WORK/grp.err" "$WORK/grp.out")"
	expect "$WORK/grp.out" "first 0 last 20001 up 1 down 1 bad 0"
	grep -q ' lost 0$' "$WORK/grp.out" || fail "grp: $(cat "$WORK/grp.out")"
	[ "$(sed -n 's/^replayed //p' "$WORK/grp.err")" -gt 10000 ] ||
		fail "nobody did not replay: $(cat "$WORK/grp.err")"
	file=$(ls "$AR" | head -n 1)
	runuser -u daemon -- cat "$AR/$file" >/dev/null 2>&1 &&
		fail "daemon, outside group $grp, read $file"
	runuser -u daemon -- ls "$AR" >/dev/null 2>&1 &&
		fail "daemon, outside group $grp, listed the archive"
	runuser -u daemon -- "$READER" --timeout 60 --from 0 --until down grp \
		>/dev/null 2>&1 && fail "daemon, outside group $grp, replayed"
	chmod 700 "$WORK" "$MDBUS_DIR"
	echo "group $grp: nobody replayed, daemon could not"
else
	echo "group part skipped: not root, or no user nobody or daemon"
fi

"$READER" --from 0 --archive "$WORK/link" full >/dev/null 2>"$WORK/rlink.err"
[ $? -eq 1 ] || fail "reader of an archive through a symbolic link"
grep -q "archive $WORK/link is a symbolic link: not followed" "$WORK/rlink.err" ||
	fail "reader: $(cat "$WORK/rlink.err")"

# 6. mdsub --from TIME: the first message stamped at or after it, from
# the archive (its ring holds the last 4096 of 60002)
[ -x "${MDSUB:-}" ] || { echo "mdsub part skipped: mdsub not built"; exit 0; }
AR=$WORK/ar6
channel tm.conf tm source=synthetic rate=0 count=60000 mode=lossless $GEOM \
	archive="$AR" archive_size=100000
status 0 "$MDPUB" -c "$WORK/tm.conf" 2>"$WORK/tm.log"
name=$(ls "$AR" | sed -n 3p)
stamp=$(echo "$name" | sed 's/.*\.\([0-9]\{8\}T[0-9]\{6\}\)\.\([0-9]\{9\}\)Z\.rec$/\1 \2/')
set -- $stamp
iso=$(echo "$1" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\)$/\1-\2-\3T\4:\5:\6/').$2
t_ns=$(TZ=UTC0 date -d "$(echo "$iso" | tr T ' ')" +%s)$2
"$MDSUB" --from 0 -u -o csv --no-header tm >"$WORK/all.csv" || fail "mdsub --from 0"
[ "$(wc -l <"$WORK/all.csv")" -eq 60002 ] || fail "mdsub --from 0: $(wc -l <"$WORK/all.csv") lines"
want=$(awk -F, -v t="$t_ns" '($3 "") >= (t "") { print $2; exit }' "$WORK/all.csv")
[ "$want" -lt $((60002 - RING)) ] || fail "seq $want is in the ring"
for from in "${iso}Z" "@${t_ns%?????????}.$2"; do
	got=$("$MDSUB" --from "$from" -n 1 -o csv --no-header tm 2>/dev/null | cut -d, -f2)
	[ "$got" = "$want" ] || fail "--from $from: seq $got, want $want"
done
got=$(TZ=UTC0 "$MDSUB" --from "$iso" -n 1 -o csv --no-header tm 2>/dev/null | cut -d, -f2)
[ "$got" = "$want" ] || fail "--from $iso (local time, TZ=UTC0): seq $got, want $want"
# an archive file read as a recording (mdsub --file): the same start
first=$(echo "$name" | sed 's/^tm\.[0-9a-f]*\.0*\([0-9][0-9]*\)\..*/\1/')
got=$("$MDSUB" --file "$AR/$name" --from "${iso}Z" -n 1 -o csv --no-header | cut -d, -f2)
[ "$got" = "$first" ] || fail "--file --from ${iso}Z: seq $got, want $first"
# a file whose name is far ahead of everything published, stamped before
# everything (the file a start by time picks): said to be corrupt, once,
# and every message is replayed; it used to send the reader to wait for
# that sequence in the ring, for ever
epoch=$(echo "$name" | sed 's/^tm\.\([0-9a-f]*\)\..*/\1/')
bad=tm.$epoch.09000000000000000000.19700101T000000.000000000Z.rec
{ header 65536; record 9000000000000000000 1 x; } >"$AR/$bad"
timeout 60 "$MDSUB" --from "${iso}Z" -u -o csv --no-header tm \
	>"$WORK/far.csv" 2>"$WORK/far.err" || fail "--from past a far name: $?"
[ "$(grep -c "archive file $bad: its first sequence number is past everything published" \
	"$WORK/far.err")" -eq 1 ] || fail "far name: $(cat "$WORK/far.err")"
grep -q "reading on (what it hid is counted lost)" "$WORK/far.err" ||
	fail "far name: $(cat "$WORK/far.err")"
[ "$(cut -d, -f2 "$WORK/far.csv" | head -n 1)" = "$want" ] &&
	[ "$(wc -l <"$WORK/far.csv")" -eq $((60002 - want)) ] ||
	fail "far name: $(wc -l <"$WORK/far.csv") messages from $(head -n 1 "$WORK/far.csv"): $(cat "$WORK/far.err")"
rm "$AR/$bad"
# a file under an archive name that is a symbolic link (to the real
# file): refused, said once, and the replay goes on with the next file,
# what it held counted lost; it used to end the run (exit 1)
second=$(ls "$AR" | sed -n 2p)
third=$(ls "$AR" | sed -n 3p)
seq_of() { echo "$1" | sed 's/^tm\.[0-9a-f]*\.0*\([0-9][0-9]*\)\..*/\1/'; }
held=$(($(seq_of "$third") - $(seq_of "$second")))
[ "$held" -gt 0 ] && [ "$(seq_of "$third")" -lt $((60002 - RING)) ] ||
	fail "second file $second, third $third"
mv "$AR/$second" "$WORK/moved.rec" && ln -s "$WORK/moved.rec" "$AR/$second" ||
	fail "symlink"
timeout 60 "$MDSUB" --from 0 -u -o csv --no-header tm >"$WORK/link.csv" \
	2>"$WORK/link.err" || fail "--from 0 past a symbolic link: $? $(cat "$WORK/link.err")"
[ "$(grep -c "archive file $second: Too many levels of symbolic links; reading on (what it hid is counted lost)" \
	"$WORK/link.err")" -eq 1 ] || fail "symbolic link: $(cat "$WORK/link.err")"
[ "$(wc -l <"$WORK/link.csv")" -eq $((60002 - held)) ] ||
	fail "symbolic link: $(wc -l <"$WORK/link.csv") messages, want $((60002 - held))"
rm "$AR/$second" && mv "$WORK/moved.rec" "$AR/$second" || fail "restore"

# 7. mdsub --forward --retransmit answers re-requests for messages its
# store (100) and the ring (4096) no longer hold from the archive, and
# one past the end with a heartbeat: the channel of case 6, forwarded
# from its first message (the archive's: numbers from before the
# session's first are not answered, mdpub/rtx_filter.sh). Its reader
# stays open: the rest (11-20) is read on, a request ahead (111) reads
# past 90 messages (21-110), only one behind (1) opens it again: 2
# readers for 4 answers.
REQ=$top_builddir/tests/mdsub/requester
"$MDSUB" --forward udp://127.0.0.1:9 --from 0 --session OLDER \
	--retransmit=127.0.0.1:0 --retransmit-depth=100 --linger=0 tm \
	2>"$WORK/rtx.err" &
fwd=$!
PIDS="$PIDS $fwd"
port=$(rtx_port "$WORK/rtx.err")
i=0 # until it has forwarded all 60002
until "$MDSUB" --status -o json tm | grep -q '"position":60002'; do
	i=$((i + 1))
	[ $i -lt 1200 ] || fail "not forwarded in 60 s: $("$MDSUB" --status tm)"
	sleep 0.05
done
for ask in "1 10" "11 10" "111 1" "1 1"; do
	set -- $ask
	out=$("$REQ" "$port" OLDER $1 $2 1) || fail "requester: $out"
	echo "$out" | grep -q "^answers 1 messages $2 " ||
		fail "messages $1 + $2 from the archive: $out"
done
out=$("$REQ" "$port" OLDER 60003 10 1) || fail "requester: $out"
echo "$out" | grep -q '^answers 0 .* heartbeats 1$' ||
	fail "not a heartbeat past the end: $out"
kill -TERM "$fwd"
wait "$fwd"
grep -q "retransmission: 5 requests served (22 messages), 0 refused (allow 0, rate 0, session 0, malformed 0), 0 out of range (before the session 0, filtered out 0), 4 read from the archive (readers opened 2, messages skipped 90)$" \
	"$WORK/rtx.err" || fail "retransmission counts: $(cat "$WORK/rtx.err")"
shared_map_used
echo "retransmission: messages 1-20, 111 and 1 answered from the archive by 2 readers"
exit 0
