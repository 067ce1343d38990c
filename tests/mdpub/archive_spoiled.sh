#!/bin/sh
# A channel with an archive starts while a writer of its consumer table
# (any registered reader may write it: file_mode 0660 and a group) keeps
# spoiling the table's header: the channel starts, publishes, and its
# archive writes every message, reading without an entry while the table
# refuses it (doc/protocol.md, "Consumer table file"). Before, the
# archive asked the channel's statistics for its epoch, which fail while
# the table is spoiled, and registered without the fallback a full table
# gets: "channel sp: archive: fails validation ...", "mdpub failed to
# start", exit 1, on every start (attack run: nobody, a member of the
# channel's group, kept root's mdpub from starting). A writer of the
# table that frees the archive's entry whenever it is there: the archive
# registers again each time where it was, said rate-limited (before, one
# WARNING each time, about 900 lines a second, saying it was evicted as
# stalled; attack run), and still archives every message. So does
# mdsub's line of it (one a time before), which goes on reading in order.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
shared_map # TSan: the archive's reader on the channel's own mapping

command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
AR=$WORK/ar
channel sp.conf sp source=synthetic rate=2000 file_mode=0660 \
	slots_per_block=1024 block_count=4 archive="$AR"
start sp -c "$WORK/sp.conf"
wait_log sp "channel sp: archive $AR from sequence 0"
stop "$PID"

# the writer: zeroes the magic of whatever table file is under the
# channel's name (the publisher makes a new one when it finds it spoiled)
python3 - "$MDBUS_DIR" <<'PY' &
import glob, mmap, os, sys
while True:
    for p in glob.glob(sys.argv[1] + "/mdbus.sp+*"):
        if p.endswith("+lock"):
            continue
        try:
            fd = os.open(p, os.O_RDWR)
        except OSError:
            continue
        try:
            with mmap.mmap(fd, 4096) as t:
                t[0:8] = bytes(8)
        except (OSError, ValueError):
            pass
        os.close(fd)
PY
SPOILER=$!
PIDS="$PIDS $SPOILER"
sleep 0.5

for run in 1 2 3; do
	start sp$run -c "$WORK/sp.conf" --duration 1
	wait "$PID"
	rc=$?
	[ "$rc" -eq 0 ] || fail "start $run with the table spoiled: mdpub exited $rc"
	grep -q "channel sp: publishing from sequence [0-9]*, source synthetic" "$WORK/sp$run.log" ||
		fail "start $run: the channel did not publish"
	n=$(sed -n 's/.*channel sp: stopped at sequence \([0-9]*\)$/\1/p' "$WORK/sp$run.log")
	grep -q "channel sp: archive $AR: written [0-9]* files [0-9]* lost 0 errors 0\$" "$WORK/sp$run.log" ||
		fail "start $run: $(grep 'archive .*: written' "$WORK/sp$run.log")"
done
kill "$SPOILER"
wait "$SPOILER" 2>/dev/null
# the table as its publisher would mend it, for the registered reader below
python3 - "$MDBUS_DIR" <<'PY'
import glob, mmap, os, sys
for p in glob.glob(sys.argv[1] + "/mdbus.sp+*"):
    if not p.endswith("+lock"):
        with open(p, "r+b") as f, mmap.mmap(f.fileno(), 4096) as t:
            t[0:8] = b"DBUSTAB1"
PY

# every message of the three runs is in the archive, in order
"$READER" --timeout 60 --from 0 --until caught-up --synthetic sp >"$WORK/all.out" 2>"$WORK/all.err" ||
	fail "replay: $(cat "$WORK/all.err" "$WORK/all.out")"
grep -q "^messages [0-9]* .* lost 0\$" "$WORK/all.out" || fail "replay: $(cat "$WORK/all.out")"
echo "3 starts with the table spoiled throughout: published, $n messages archived, none lost"

channel ev.conf ev source=synthetic rate=2000 slots_per_block=1024 \
	block_count=64 archive="$WORK/ev"
start ev -c "$WORK/ev.conf"
wait_log ev "channel ev: archive $WORK/ev from sequence 0"
"$MDSUB" -o raw -N victim -d 6 ev >"$WORK/victim.out" 2>"$WORK/victim.err" &
victim=$!
wait_for sh -c "\"$MDSUB\" --status ev | grep -q victim"
"$top_builddir/tests/mdsub/testtool" evict ev victim 3 >"$WORK/victim.freed" &
evictor=$!
freed=$("$top_builddir/tests/mdsub/testtool" evict ev archive 3) || fail "testtool evict"
wait "$evictor" || fail "testtool evict victim"
wait "$victim" || fail "mdsub -N victim: $(tail -3 "$WORK/victim.err")"
stop "$PID"
vfreed=$(cat "$WORK/victim.freed")
vsaid=$(grep -c "^mdsub: ev: consumer entry taken away (evicted, reclaimed as dead, freed by a writer of the consumer table, or the table was cut); rejoining at seq [0-9]*" "$WORK/victim.err")
[ "$vfreed" -ge 20 ] && [ "$vsaid" -ge 1 ] && [ "$vsaid" -le 12 ] ||
	fail "mdsub's entry freed $vfreed times, said $vsaid times: $(tail -3 "$WORK/victim.err")"
grep -q "(\([0-9]*\) more since the last such line)$" "$WORK/victim.err" ||
	fail "mdsub: no count of what was not said"
awk 'NR > 1 && $2 != seq + 1 || $6 != 0 { bad++ } { seq = $2 } END { exit !(NR > 1000 && !bad) }' \
	"$WORK/victim.out" || fail "mdsub: $(wc -l <"$WORK/victim.out") messages, not in sequence or lost some"
said=$(grep -c "channel ev: archive: consumer entry taken away (evicted as stalled, or freed by a writer of the consumer table): registered again at sequence [0-9]*$" "$WORK/ev.log")
[ "$freed" -ge 20 ] && [ "$said" -ge 1 ] && [ "$said" -le 12 ] ||
	fail "the archive's entry freed $freed times, said $said times: $(tail -5 "$WORK/ev.log")"
grep -q "channel ev: archive consumer entry: [0-9]* similar messages not logged$" "$WORK/ev.log" ||
	fail "no count of what was not said"
grep -q "channel ev: archive $WORK/ev: written [0-9]* files [0-9]* lost 0 errors 0\$" "$WORK/ev.log" ||
	fail "ev: $(grep 'archive .*: written' "$WORK/ev.log")"
"$READER" --timeout 60 --from 0 --until caught-up --synthetic ev >"$WORK/ev.out" 2>"$WORK/ev.err" ||
	fail "replay of ev: $(cat "$WORK/ev.err" "$WORK/ev.out")"
grep -q "^messages [0-9]* .* lost 0\$" "$WORK/ev.out" || fail "replay of ev: $(cat "$WORK/ev.out")"
echo "the archive's entry freed $freed times in 3 s: said $said times, every message archived; mdsub's $vfreed times: said $vsaid times, nothing lost"
shared_map_used
