#!/bin/sh
# --status shows the publisher's counters in the segment (exact values,
# rates), the consumers with their process names and rates, and the
# segment directory's use; -o json gives the same fields (checked one by
# one), -o prometheus the exposition format (checked line by line);
# hostile consumer, process and counter names come out escaped, and an
# absurd counters table is reported, never a crash.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

# bytes the files take, as mdbus_dir_usage() counts them
used() {
	t=0
	for f in "$MDBUS_DIR"/mdbus.*; do
		t=$((t + $(stat -c '%b * %B' "$f")))
	done
	echo "$t"
}

# counters: published 5 (total), level 42 (gauge), x.y-Z_9 7 (total)
pub -c alpha 5
pub beta 2
# a consumer whose name and process name hold a quote, a backslash, a
# control byte and a byte that is no UTF-8
name=$(printf 'we"ird\\na\001me\377')
"$TOOL" hold alpha "$name" 'p"r\oc' 30 &
holder=$!
trap 'kill $holder 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_registered alpha 1
bytes=$(used)

# text
status 0 "$MDSUB" --status alpha beta >"$WORK/text"
grep -q '^alpha: layout 4\.1, ' "$WORK/text" || fail "text: title: $(cat "$WORK/text")"
grep -Eq '^  COUNTER +VALUE +RATE/S$' "$WORK/text" || fail "text: counter header"
grep -Eq '^  published +5 +0$' "$WORK/text" || fail "text: published"
grep -Eq '^  level +42 +\(gauge\)$' "$WORK/text" || fail "text: level"
grep -Eq '^  x\.y-Z_9 +7 +0$' "$WORK/text" || fail "text: x.y-Z_9"
[ "$(grep -c '^  COUNTER ' "$WORK/text")" -eq 1 ] || fail "text: beta has no counters"
grep -Eq '^  CONSUMER +PID +PROCESS +STATE +POSITION +LAG +LOST +RATE/S$' \
	"$WORK/text" || fail "text: consumer header"
grep -Fq "  we\"ird\\\\na\\x01me\\xff" "$WORK/text" || fail "text: consumer name escaped"
grep -Eq " $holder p\"r\\\\\\\\oc +alive +5 +0 +0 +0$" "$WORK/text" ||
	fail "text: consumer: $(cat "$WORK/text")"
grep -q "^segment directory $MDBUS_DIR: 6 mdbus files, .* ($bytes bytes); file system " \
	"$WORK/text" || fail "text: directory: $(cat "$WORK/text")"

# json: one document, each field exact
status 0 "$MDSUB" --status -o json alpha beta >"$WORK/json"
[ "$(wc -l <"$WORK/json")" -eq 1 ] || fail "json: one line"
"$TOOL" json <"$WORK/json" || fail "json: not one JSON object"
"$TOOL" jget channels.0.channel channels.0.layout channels.0.mode \
	channels.0.slot_size channels.0.capacity channels.0.write_num \
	channels.0.rate channels.0.publisher.state channels.0.publisher.process \
	channels.0.consumers_in_use channels.0.max_consumers \
	channels.0.counters.0.id channels.0.counters.0.label \
	channels.0.counters.0.kind channels.0.counters.0.value \
	channels.0.counters.0.rate channels.0.counters.1.label \
	channels.0.counters.1.kind channels.0.counters.1.value \
	channels.0.counters.1.rate channels.0.counters.2.label \
	channels.0.counters.2.value channels.0.counters.3 \
	channels.0.consumers.0.name channels.0.consumers.0.pid \
	channels.0.consumers.0.process channels.0.consumers.0.state \
	channels.0.consumers.0.position channels.0.consumers.0.lag \
	channels.0.consumers.0.lost channels.0.consumers.0.rate \
	channels.1.channel channels.1.counters channels.1.consumers \
	channels.2 directory.path directory.files directory.bytes \
	<"$WORK/json" >"$WORK/got"
cat >"$WORK/want" <<END
alpha
4.1
overwrite
128
65536
5
0.0
stopped
null
1
64
0
published
total
5
0.0
level
gauge
42
null
x.y-Z_9
7
absent
$(printf 'we"ird\\na\001me\303\277')
$holder
p"r\\oc
alive
5
0
0
0.0
beta
[]
[]
absent
$MDBUS_DIR
6
$bytes
END
same "$WORK/want" "$WORK/got" "json fields"
status 0 "$MDSUB" --list -o json >"$WORK/list"
"$TOOL" jget channels.0.channel channels.0.consumers_in_use \
	channels.0.counters channels.1.write_num directory <"$WORK/list" >"$WORK/got"
printf '%s\n' alpha 1 absent 2 absent >"$WORK/want"
same "$WORK/want" "$WORK/got" "--list json fields"

# --watch -o json: one document a refresh, rates from the second on
status 0 "$MDSUB" --watch=0.1 -d 0.5 -o json alpha >"$WORK/watch"
[ "$(wc -l <"$WORK/watch")" -ge 3 ] || fail "--watch json: $(cat "$WORK/watch")"
"$TOOL" json <"$WORK/watch" || fail "--watch json: not JSON lines"
head -n 1 "$WORK/watch" | "$TOOL" jget channels.0.rate channels.0.counters.0.rate \
	>"$WORK/got"
tail -n 1 "$WORK/watch" | "$TOOL" jget channels.0.rate channels.0.counters.0.rate \
	>>"$WORK/got"
printf '%s\n' null null 0.0 0.0 >"$WORK/want"
same "$WORK/want" "$WORK/got" "--watch json rates"

# prometheus: every line a comment of the format or a sample of a
# declared family; label values escaped
status 0 "$MDSUB" --status -o prometheus >"$WORK/prom"
v='"([^"\\]|\\[\\"n])*"'
grep -Ev "^# HELP mdbus_[a-z_]+ .+\$|^# TYPE mdbus_[a-z_]+ (counter|gauge)\$|^mdbus_[a-z_]+\\{[a-z_]+=$v(,[a-z_]+=$v)*\\} [0-9]+(\\.[0-9]+)?\$" \
	"$WORK/prom" >"$WORK/bad" && fail "prometheus: bad lines: $(cat "$WORK/bad")"
awk '/^# TYPE / { if (seen[$3]++) { print "twice: " $3; exit 1 }
		  if ($3 ~ /_total$/ && $4 != "counter") { print "not a counter: " $3; exit 1 }
		  type[$3] = 1; next }
     /^#/ { next }
     { n = $0; sub(/\{.*/, "", n); if (!type[n]) { print "undeclared: " n; exit 1 } }' \
	"$WORK/prom" || fail "prometheus families"
sed "s/HOLDER/$holder/; s/OWNERNAME/$(id -un)/" >"$WORK/want" <<'END'
mdbus_channel_readable{channel="alpha"} 1
mdbus_channel_info{channel="alpha",mode="overwrite",layout="4.1",publisher_state="stopped",publisher_process="",owner="OWNERNAME",owner_not_publisher="0"} 1
mdbus_channel_messages_total{channel="alpha"} 5
mdbus_channel_messages_total{channel="beta"} 2
mdbus_publisher_counter_total{channel="alpha",counter="published"} 5
mdbus_publisher_counter_total{channel="alpha",counter="x.y-Z_9"} 7
mdbus_publisher_gauge{channel="alpha",gauge="level"} 42
mdbus_consumer_up{channel="alpha",consumer="we\"ird\\\\na\\x01me\\xff",pid="HOLDER",process="p\"r\\\\oc"} 1
mdbus_consumer_position{channel="alpha",consumer="we\"ird\\\\na\\x01me\\xff",pid="HOLDER",process="p\"r\\\\oc"} 5
mdbus_consumer_lag_messages{channel="alpha",consumer="we\"ird\\\\na\\x01me\\xff",pid="HOLDER",process="p\"r\\\\oc"} 0
mdbus_consumer_lost_total{channel="alpha",consumer="we\"ird\\\\na\\x01me\\xff",pid="HOLDER",process="p\"r\\\\oc"} 0
END
echo "mdbus_dir_files{dir=\"$MDBUS_DIR\"} 6" >>"$WORK/want"
echo "mdbus_dir_bytes{dir=\"$MDBUS_DIR\"} $bytes" >>"$WORK/want"
while IFS= read -r line; do
	grep -qxF -- "$line" "$WORK/prom" || fail "prometheus: no line $line"
done <"$WORK/want"
[ "$(grep -c '^mdbus_consumer_up{' "$WORK/prom")" -eq 1 ] || fail "prometheus: consumers"

# a hostile counters table: a label with a quote, a newline and a
# backslash is escaped; an absurd count is reported, the rest still shown
"$TOOL" poke alpha 1284 0x005c0a22 || fail poke
status 0 "$MDSUB" --status -o prometheus alpha >"$WORK/prom2"
grep -qxF 'mdbus_publisher_counter_total{channel="alpha",counter="\"\\x0a\\\\"} 5' \
	"$WORK/prom2" || fail "prometheus: hostile label: $(grep counter_total "$WORK/prom2")"
# three totals labelled y, y and y#1 (kind and the label's first bytes
# at 1280 + 32 * i): no two series alike, as Prometheus refuses a file
# with a duplicate. Before, the second was renamed y#1, the third's own
"$TOOL" poke alpha 1280 0x7900000000 && "$TOOL" poke alpha 1312 0x7900000000 &&
	"$TOOL" poke alpha 1344 0x0031237900000000 || fail poke
status 0 "$MDSUB" --status -o prometheus alpha >"$WORK/prom3"
grep '^mdbus_publisher_counter_total{' "$WORK/prom3" | sed 's/} .*//' >"$WORK/series"
[ "$(sort -u "$WORK/series" | wc -l)" -eq 3 ] && [ "$(wc -l <"$WORK/series")" -eq 3 ] ||
	fail "prometheus: counters y, y, y#1: $(cat "$WORK/series")"
grep -qxF 'mdbus_publisher_counter_total{channel="alpha",counter="y#1#2"} 7' "$WORK/prom3" ||
	fail "prometheus: the literal y#1 renamed: $(cat "$WORK/prom3" | grep counter_total)"
"$TOOL" poke alpha 1024 0xffffffff || fail poke
status 0 "$MDSUB" --status alpha >"$WORK/absurd"
grep -q '^  counters: unreadable: .*claims 4294967295 counters, at most 24 exist' \
	"$WORK/absurd" || fail "absurd count: $(cat "$WORK/absurd")"
grep -Eq "^  we\"ird.* $holder " "$WORK/absurd" || fail "absurd count: consumers"
status 0 "$MDSUB" --status -o json alpha >"$WORK/absurd.json"
"$TOOL" jget channels.0.counters channels.0.counters_error channels.0.write_num \
	<"$WORK/absurd.json" >"$WORK/got"
grep -qx absent "$WORK/got" && grep -q 'claims 4294967295 counters' "$WORK/got" &&
	grep -qx 5 "$WORK/got" || fail "absurd count json: $(cat "$WORK/got")"
status 0 "$MDSUB" --status -o prometheus alpha >"$WORK/absurd.prom"
grep -q '^mdbus_publisher_counter' "$WORK/absurd.prom" && fail "absurd count: counters printed"
grep -q '^mdbus_channel_messages_total{channel="alpha"} 5$' "$WORK/absurd.prom" ||
	fail "absurd count prometheus"

# a table of 4096 consumers forged so that each of the 2048 named v
# after the first skips the 2048 labels v#2048 .. v#4095 that the first
# half took: every series once. Before, each "#N" tried scanned all the
# earlier labels, four times: 2.5 minutes of CPU (attack run); the 60 s
# bound is a hang's, not a speed's (now 0.1 s)
pub -C 4096 crowd 1
"$TOOL" crowd crowd 4096 || fail "crowd"
status 0 timeout 60 "$MDSUB" --status -o prometheus crowd >"$WORK/crowd"
grep '^mdbus_consumer_up{' "$WORK/crowd" | sed 's/,pid=.*//' >"$WORK/series"
[ "$(sort -u "$WORK/series" | wc -l)" -eq 4096 ] && [ "$(wc -l <"$WORK/series")" -eq 4096 ] ||
	fail "prometheus: 4096 forged consumers: $(sort "$WORK/series" | uniq -c | sort -rn | head -3)"
sed -n '2048p;2049p;2050p;4096p' "$WORK/series" >"$WORK/got"
printf 'mdbus_consumer_up{channel="crowd",consumer="%s"\n' 'v#4095' v 'v#4096' 'v#6142' |
	diff - "$WORK/got" || fail "prometheus: 4096 forged consumers' labels"

# live: a publisher and a reader at work show rates above 0 (the
# publisher's own counter, the write count, the reader's position)
"$TOOL" pub -c -r live 1000000000 &
livepub=$!
wait_for sh -c "\"$MDSUB\" --status live | grep -q 'published'"
"$MDSUB" -q -N reader live &
livesub=$!
trap 'kill $holder $livepub $livesub 2>/dev/null; rm -rf "$MDBUS_DIR" "$WORK"' EXIT
wait_registered live 1
status 0 "$MDSUB" --status -o json live >"$WORK/live"
kill $livepub $livesub
wait $livepub $livesub 2>/dev/null
"$TOOL" jget channels.0.rate channels.0.counters.0.rate channels.0.consumers.0.rate \
	<"$WORK/live" >"$WORK/got"
grep -Ev '^[1-9][0-9]*\.[0-9]$' "$WORK/got" && fail "live rates: $(cat "$WORK/got")"
exit 0
