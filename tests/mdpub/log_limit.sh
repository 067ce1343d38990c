#!/bin/sh
# Rate-limited lines (malformed input) on two channels: each count of the
# lines not logged names its channel and kind ("channel a: malformed
# lines: N similar messages not logged"), is logged a second after the
# flood stops while mdpub keeps running, and at SIGTERM for what is left;
# per channel, the lines logged plus the counts are exactly the malformed
# lines sent. Before, the count said "(N similar messages not logged)"
# with no channel, and came only with a later line of the same kind.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

# bad FD N: N malformed CSV lines into descriptor FD
bad() {
	awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) print "X,bad" }' >&"$1" ||
		fail "write $2 lines"
}

# said LOG CHANNEL: malformed lines logged plus the counts not logged
said() {
	awk -v ch="channel $2: " '
		index($0, ch) && / line [0-9]*: malformed: / { n++ }
		index($0, ch "malformed lines: ") && / similar messages not logged$/ {
			n += $(NF - 4)
		}
		END { print n + 0 }' "$1"
}

mkfifo "$WORK/a.fifo" "$WORK/b.fifo" || fail "mkfifo"
conf ab.conf <<END
[global]
stats_interval = 0
[channel a]
source = lines
format = csv
file = $WORK/a.fifo
[channel b]
source = lines
format = csv
file = $WORK/b.fifo
END
start ab -c "$WORK/ab.conf"
wait_log ab "channel a: publishing from sequence"
wait_log ab "channel b: publishing from sequence"
sleep 0.2 # a writer's first bytes come after mdpub waits for them
# held open: the sources never end, only SIGTERM stops them
exec 3>"$WORK/a.fifo" 4>"$WORK/b.fifo"

# a flood that stops: its count comes while mdpub keeps running
bad 3 300
bad 4 200
counted ab "channel a: in 0 out 0 malformed 300 "
counted ab "channel b: in 0 out 0 malformed 200 "
wait_log ab "channel a: malformed lines: [0-9]* similar messages not logged$"
wait_log ab "channel b: malformed lines: [0-9]* similar messages not logged$"
[ "$(said "$WORK/ab.log" a)" -eq 300 ] || fail "channel a: $(said "$WORK/ab.log" a) of 300 said"
[ "$(said "$WORK/ab.log" b)" -eq 200 ] || fail "channel b: $(said "$WORK/ab.log" b) of 200 said"

# a second flood, then SIGTERM at once: the rest counted at the stop
bad 3 1000
bad 4 700
counted ab "channel a: in 0 out 0 malformed 1300 "
counted ab "channel b: in 0 out 0 malformed 900 "
stop "$PID"
exec 3>&- 4>&-
[ "$(said "$WORK/ab.log" a)" -eq 1300 ] || fail "channel a: $(said "$WORK/ab.log" a) of 1300 said"
[ "$(said "$WORK/ab.log" b)" -eq 900 ] || fail "channel b: $(said "$WORK/ab.log" b) of 900 said"
# no count without its channel's name; each before its channel's final
# counters
grep "similar messages not logged" "$WORK/ab.log" |
	grep -qv "channel [ab]: malformed lines: " && fail "a count with no channel"
for ch in a b; do
	awk -v ch="channel $ch: " 'index($0, ch "in ") { last = NR }
		index($0, ch) && /not logged$/ { count = NR }
		END { exit !(count && count < last) }' "$WORK/ab.log" ||
		fail "channel $ch: its last count after its final counters"
done
exit 0
