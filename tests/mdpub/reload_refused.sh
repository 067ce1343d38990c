#!/bin/sh
# A reload that fails in any way changes nothing: a file libmdbus would
# refuse (capacity, segment size, file mode, group, directory) is rejected
# by the check before any channel stops, with FILE:LINE; a file whose new
# or changed channels cannot start is undone, every channel running again
# as it was.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

good='[global]\nstats_interval = 0\n[channel keep]\nsource = synthetic\nrate = 2000\n'
printf "$good" >"$WORK/m.conf"
start m -c "$WORK/m.conf"
wait_log m "channel keep: publishing from sequence 0,"
"$READER" --synthetic --until down keep >"$WORK/keep.out" &
KEEP=$!

# publishing: 200 new messages arrive (0.1 s at its rate; the reader's
# 60 s deadline is for a loaded machine)
publishing() {
	"$READER" --from latest --until 200 keep >/dev/null ||
		fail "channel keep no longer publishing after: $1"
}

# count TEXT: how many lines of m.log have TEXT
count() {
	grep -c -- "$1" "$WORK/m.log"
}

# wait_count TEXT N: waits until m.log has N lines with TEXT
wait_count() {
	i=0
	while [ "$(count "$1")" -lt "$2" ]; do
		i=$((i + 1))
		[ "$i" -le 1200 ] || fail "not $2 lines '$1' in m.log"
		sleep 0.05
	done
}

rejected='m.conf rejected, the running configuration stays: 1 channel running'
n=0
for bad in 'slots_per_block = 1\nblock_count = 1' \
	'slots_per_block = 2147483648\nblock_count = 4' \
	'slot_size = 1048576\nslots_per_block = 65536\nblock_count = 256' \
	'file_mode = 0666' \
	'group = no-such-group.mdbus' \
	"dir = $WORK/missing"; do
	n=$((n + 1))
	printf "$good$bad\n" >"$WORK/m.conf"
	kill -HUP "$PID"
	wait_count "$rejected" "$n"
	[ "$(count "m.conf:3: \[channel keep\]: ")" -eq "$n" ] ||
		fail "no FILE:LINE for: $bad"
	publishing "$bad"
done
grep -q "channel keep: stopped" "$WORK/m.log" && fail "keep was stopped by a refused reload"
kill -0 "$KEEP" 2>/dev/null || fail "the reader of keep saw FEED_DOWN"

# a changed channel and a new one that cannot start (another geometry
# under its name, replace = no): both undone, keep back as it was
printf '[channel other]\nsource = synthetic\ncount = 1\n' >"$WORK/o.conf"
status 0 "$MDPUB" -c "$WORK/o.conf" 2>"$WORK/o.log"
printf "${good}seed = 7\n[channel other]\nsource = synthetic\nslot_size = 512\nreplace = no\n" \
	>"$WORK/m.conf"
kill -HUP "$PID"
wait_count "$rejected" $((n + 1))
expect_once() {
	[ "$(count "$1")" -eq 1 ] || fail "'$1' not logged once"
}
expect_once "mdpub\[err\]: channel other exists with slot 256 .* asked slot 512 "
[ "$(count "channel keep: publishing from sequence")" -eq 3 ] ||
	fail "keep was not restarted with its previous settings"
publishing "a start that failed"
# a new channel that cannot start before a changed one: the changed one,
# asked to stop with the others changed (their waits overlap), starts
# again with its previous settings though the reload never reached it
printf "[global]\nstats_interval = 0\n[channel other]\nsource = synthetic\nslot_size = 512\nreplace = no\n[channel keep]\nsource = synthetic\nrate = 2000\nseed = 9\n" \
	>"$WORK/m.conf"
kill -HUP "$PID"
wait_count "$rejected" $((n + 2))
[ "$(count "channel keep: publishing from sequence")" -eq 4 ] ||
	fail "keep was not restarted with its previous settings"
publishing "a changed channel after one that failed"
# and a good reload still works afterwards
printf "${good}seed = 7\n" >"$WORK/m.conf"
kill -HUP "$PID"
wait_count "m.conf loaded, 1 channel running" 1
publishing "a good reload"
stop "$PID"
wait "$KEEP" || fail "keep: reader"
grep -q ' lost 0$' "$WORK/keep.out" || fail "keep lost messages: $(cat "$WORK/keep.out")"
grep -q ' up 1 down 1 bad 0$' "$WORK/keep.out" || fail "keep: $(cat "$WORK/keep.out")"
exit 0
