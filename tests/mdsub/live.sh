#!/bin/sh
# A live publisher: messages arrive while mdsub waits (each wait strategy),
# a publisher restart and a segment replacement are reported and followed,
# SIGTERM ends cleanly with the summary and frees the consumer entry.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub live 0
for w in adaptive spin yield block; do
	"$MDSUB" -o raw -n 5 -w $w live >"$WORK/$w" 2>"$WORK/$w.err" &
	reader=$!
	wait_registered live 1
	pub live 5
	wait $reader || fail "-w $w: exit status"
	[ "$(wc -l <"$WORK/$w")" -eq 5 ] || fail "-w $w: 5 messages expected"
done

# restart: stopped, then a new publisher resumes; the reader continues
"$MDSUB" -o raw -n 4 live >"$WORK/restart" 2>"$WORK/restart.err" &
reader=$!
wait_registered live 1
pub live 2
# the second publisher once mdsub saw the first one stop
wait_for grep -q '^mdsub: live: publisher pid [0-9]* stopped$' "$WORK/restart.err"
pub live 2
wait $reader || fail "restart: exit status"
[ "$(wc -l <"$WORK/restart")" -eq 4 ] || fail "restart: 4 messages expected"
grep -q '^mdsub: live: publisher pid [0-9]* stopped$' "$WORK/restart.err" ||
	fail "restart: no stopped notice: $(cat "$WORK/restart.err")"

# replacement: another geometry; the reader reattaches and reads on
"$MDSUB" -o raw -n 3 -t quote live >"$WORK/repl" 2>"$WORK/repl.err" &
reader=$!
wait_registered live 1
pub -t live 1
pub -t -R -g 16:4 live 2
wait $reader || fail "replace: exit status"
grep -q '^mdsub: live: segment replaced, reattaching$' "$WORK/repl.err" ||
	fail "replace: no notice: $(cat "$WORK/repl.err")"
[ "$(wc -l <"$WORK/repl")" -eq 3 ] || fail "replace: 3 messages expected"

# several channels at once, blocking wait
pub two 0
"$MDSUB" -o raw -n 4 live two >"$WORK/multi" 2>&1 &
reader=$!
wait_registered two 1
pub -g 16:4 live 2
pub two 2
wait $reader || fail "two channels: exit status"
[ "$(grep -c '^two ' "$WORK/multi")" -eq 2 ] || fail "two channels: $(cat "$WORK/multi")"

# SIGTERM: status 0, summary, entry freed
"$MDSUB" --summary live >/dev/null 2>"$WORK/term" &
reader=$!
wait_registered live 1
kill -TERM $reader
wait $reader || fail "SIGTERM: exit status"
grep -q '^live: 0 messages' "$WORK/term" || fail "SIGTERM: summary"
wait_registered live 0

# --duration ends the run
status 0 "$MDSUB" -d 0.2 live

# an idle reader with the default wait does not spin: under 10% of a CPU
# with one channel (futex) and with two (waits of up to 20 ms in turn)
for chans in live "live two"; do
	"$MDSUB" -d 1.5 $chans &
	reader=$!
	sleep 1.2
	ticks=$(awk '{ print $14 + $15 }' "/proc/$reader/stat")
	wait $reader || fail "idle $chans: exit status"
	[ "$ticks" -le $(($(getconf CLK_TCK) / 10)) ] ||
		fail "idle reader of '$chans' used $ticks clock ticks in 1.2 s"
done
exit 0
