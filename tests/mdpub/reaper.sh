#!/bin/sh
# Dead readers' entries are freed by the channel's reaper thread
# ("rp:NAME", daemons/reaper.c), not by the thread that publishes
# ("md:NAME"): a reap reads /proc, about 10 us an entry in use, a
# millisecond at 64 readers, and that time is not taken from publishing.
# An interposer (mdpub/proc_open.c) logs each open of a /proc .../stat
# file in mdpub with its thread's name. Three readers registered, one
# then SIGKILLed: its entry is reclaimed, logged once, and the readers'
# stat files were opened by the reaper alone. Before, the channel's
# thread reaped (mdbus_pub_reap() from a timer of its loop) and opened
# each of them at each reap: fails. A reaper held up (SIGSTOP) does not
# run the turns it missed back to back.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

HOOK=$top_builddir/tests/mdpub/.libs/proc_open.so
[ -f "$HOOK" ] || fail "no $HOOK: make check builds it"

channel r.conf r source=synthetic symbols=3 rate=200 reap_interval=0.05
env LD_PRELOAD="$HOOK" PROC_OPEN_LOG="$WORK/opens" \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$MDPUB" -v -c "$WORK/r.conf" >"$WORK/r.log" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_log r "channel r: publishing from sequence"
READERS=
for i in 1 2 3; do
	"$READER" --from latest --until 1000000000 --timeout 600 r \
		>/dev/null 2>&1 &
	READERS="$READERS $!"
	PIDS="$PIDS $!"
done
# each reader's stat file opened by a reap (a deadline, not a timing
# assertion)
for r in $READERS; do
	i=0
	until grep -q "/proc/$r/task/$r/stat\$" "$WORK/opens" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le 1200 ] || fail "reader $r: its stat file never opened"
		sleep 0.05
	done
done
set -- $READERS
kill -KILL "$1"
wait "$1" 2>/dev/null
wait_log r "channel r: 1 consumer entries reclaimed"
# a few more reaps of the two left
n=$(grep -c "/proc/$2/task/$2/stat\$" "$WORK/opens")
i=0
until [ "$(grep -c "/proc/$2/task/$2/stat\$" "$WORK/opens")" -ge $((n + 3)) ]; do
	i=$((i + 1))
	[ "$i" -le 1200 ] || fail "no more reaps of reader $2"
	sleep 0.05
done
# stopped for 2 s, 40 turns missed: not run back to back after (race
# review of b7401e9: 501 in 100 ms after 5 s at 0.01 s). In the 0.5 s
# from the SIGCONT, 10 turns and a few more at most.
kill -STOP "$PID"
sleep 2
n=$(grep -c "/proc/$2/task/$2/stat\$" "$WORK/opens")
kill -CONT "$PID"
sleep 0.5
m=$(grep -c "/proc/$2/task/$2/stat\$" "$WORK/opens")
[ $((m - n)) -le 14 ] ||
	fail "$((m - n)) reaps of reader $2 in 0.5 s after a stop of 2 s"
kill -TERM "$2" "$3"
kill -TERM "$PID"
wait "$PID" || fail "mdpub exited $?"
[ "$(grep -c "consumer entries reclaimed" "$WORK/r.log")" -eq 1 ] ||
	fail "reclaims logged: $(grep "consumer entries reclaimed" "$WORK/r.log")"
for r in $READERS; do
	grep "/proc/$r/task/$r/stat\$" "$WORK/opens" | grep -v '^rp:r ' >"$WORK/other"
	[ -s "$WORK/other" ] &&
		fail "reader $r's stat file opened by other threads than the reaper: $(sort "$WORK/other" | uniq -c)"
done
echo "reaper: $(grep -c '^rp:r ' "$WORK/opens") opens by the reaper, none by the channel's thread"
