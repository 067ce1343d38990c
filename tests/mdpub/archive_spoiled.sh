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
# channel's group, kept root's mdpub from starting).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

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
