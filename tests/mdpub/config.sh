#!/bin/sh
# mdpub.conf parsing: the sample is accepted, every error of a bad file is
# named FILE:LINE with its reason, edge cases (empty file, the embedded
# default, [global] defaults inherited by channels); a config that is not
# a regular file, or that another user could change, is refused at once.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

# the shipped sample and the embedded default pass -t
status 0 "$MDPUB" -T -c "$top_srcdir/conf/mdpub.conf" >"$WORK/out"
expect "$WORK/out" "$top_srcdir/conf/mdpub.conf: OK, 1 channel"
# and so do its commented-out examples once enabled, with a group, a
# directory and an archive directory that exist here (nkey is the other
# way of giving creds: not both)
sed 's/^; //' "$top_srcdir/conf/mdpub.conf" >"$WORK/as-is.conf"
# (the nats example only when mdpub has the nats source)
sed -e "s|^group = .*|group = $(id -g)|" -e "s|^dir = .*|dir = $MDBUS_DIR|" \
	-e "s|^archive = .*|archive = $WORK/archive|" -e '/^nkey = /d' \
	"$WORK/as-is.conf" >"$WORK/sample.conf"
n=5
if [ "${MDBUS_NATS_BUILT:-no}" != yes ]; then
	sed -i '/^\[channel fromnats\]/,/^$/d' "$WORK/sample.conf"
	n=4
fi
status 0 "$MDPUB" -T -c "$WORK/sample.conf" >"$WORK/out"
expect "$WORK/out" "$WORK/sample.conf: OK, $n channels"

# mdpub.conf(5) says the sample shows every key: each key of the parser's
# tables ({"key", SET_...} in daemons/) is set or given as an example there
keys=$(sed -n 's/.*{"\([a-z_]*\)", SET_.*/\1/p' "$top_srcdir"/daemons/*.c | sort -u)
[ "$(echo "$keys" | wc -l)" -ge 60 ] || fail "found only these keys: $keys"
for k in $keys; do
	grep -Eq "^(; )?$k = " "$top_srcdir/conf/mdpub.conf" ||
		fail "conf/mdpub.conf does not show the key $k"
done

# the README's configuration examples (indented blocks from "[channel")
# pass -T as printed (a '#' after a value is no comment: mdpub.conf(5))
awk -v dir="$WORK" '
	/^    \[channel / { n++; f = dir "/readme" n ".conf" }
	f && /^    / { sub(/^    /, ""); print > f; next }
	{ f = "" }' "$top_srcdir/README.md"
[ -f "$WORK/readme2.conf" ] || fail "the README's two config examples not found"
for f in "$WORK"/readme*.conf; do
	if grep -q '^source = nats' "$f" && [ "${MDBUS_NATS_BUILT:-no}" != yes ]; then
		continue
	fi
	"$MDPUB" -T -c "$f" >"$WORK/out" 2>&1 ||
		fail "README example $f refused: $(cat "$WORK/out")"
	expect "$WORK/out" "$f: OK, 1 channel"
done

conf good.conf <<'END'
# every key once
[global]
log_level = info
syslog = no
stats_interval = 0
slot_size = 128
heartbeat = 0.5

[channel a.b-C_1]
source = synthetic
symbols = 3
rate = 0
seed = 18446744073709551615
trades = 0.5
count = 10
slots_per_block = 64
block_count = 2
max_consumers = 8
mode = lossless
file_mode = 0600
dir = /dev/shm
reap_interval = 1
stall_evict = 0
replace = no
nudge_anonymous = no

[channel r]
source = replay
file = /nonexistent/is/checked/at/start
speed = 0
loop = yes
timestamps = recorded

[channel u]
source = udp
listen = [::1]:5000
interface = 127.0.0.1
session = S1
rcvbuf = 1048576
jump_confirm = 16
timestamps = sender

[channel l1]
source = lines
format = binance
connect = localhost:9
reconnect = 0.5

[channel l2]
source = lines
listen = *:9000

[channel l3]
source = lines
file = -
END
status 0 "$MDPUB" -T -c "$WORK/good.conf" >"$WORK/out"
expect "$WORK/out" "$WORK/good.conf: OK, 6 channels"

conf bad.conf <<'END'
; a bad config
[global]
log_level = loud
stats_interval = -1
bogus = 1
slot_size = 300

[channel ok]
source = synthetic
rate = fast
symbols = 0
colour = blue

[channel bad/name]
source = synthetic

[channel ok]
source = synthetic

[channel nosrc]
mode = lossless

[channel unknown]
source = carrier-pigeon

[channel rep]
source = replay
speed = 2

[channel net]
source = udp
listen = nowhere

[channel lin]
source = lines
file = -
listen = :9000
format = xml

[global]
syslog = yes

[weird]
x = 1
this line is not ini
END
B=$WORK/bad.conf
SOURCES="synthetic replay udp lines"
[ "${MDBUS_NATS_BUILT:-no}" = yes ] && SOURCES="$SOURCES nats"
cat >"$WORK/want" <<END
mdpub: $B:3: log_level: 'loud' is not one of err warning notice info debug
mdpub: $B:4: stats_interval: '-1' is not 0 nor a number in 0.01..86400
mdpub: $B:5: unknown key 'bogus' in [global]
mdpub: $B:6: slot_size: 300 is not a power of two
mdpub: $B:10: rate: 'fast' is not a number in 0..1e+09
mdpub: $B:11: symbols: '0' is not an integer in 1..100000
mdpub: $B:12: unknown key 'colour' (neither a channel key nor one of source synthetic)
mdpub: $B:14: invalid channel name 'bad/name' (want [A-Za-z0-9._-]{1,64})
mdpub: $B:17: channel 'ok' already defined at line 8
mdpub: $B:20: [channel nosrc] has no source = key
mdpub: $B:24: source: 'carrier-pigeon' is not one of $SOURCES
mdpub: $B:26: [channel rep]: source replay needs file = PATH
mdpub: $B:30: [channel net]: 'nowhere' is not HOST:PORT
mdpub: $B:34: [channel lin]: source lines needs exactly one of file = PATH|-, listen = HOST:PORT, connect = HOST:PORT
mdpub: $B:38: format: 'xml' is not one of csv binance
mdpub: $B:40: [global] must come before the first [channel]
mdpub: $B:43: unknown section [weird] (want [global] or [channel NAME])
mdpub: $B:45: syntax error: neither [section] nor key = value
END
status 1 "$MDPUB" -T -c "$B" 2>"$WORK/got" >"$WORK/out"
diff -u "$WORK/want" "$WORK/got" >&2 || fail "bad.conf errors"
[ -s "$WORK/out" ] && fail "-t printed OK for a bad file"
# the same file refuses to start, with the same errors
status 1 "$MDPUB" -c "$B" 2>"$WORK/got"
grep -q "$B:45: syntax error" "$WORK/got" || fail "start with a bad config"

# edge cases, one error each
edge() {
	printf '%b' "$1" >"$WORK/edge.conf"
	status 1 "$MDPUB" -T -c "$WORK/edge.conf" 2>"$WORK/got"
	expect "$WORK/got" "mdpub: $WORK/edge.conf:$2"
}
edge '' "1: no [channel NAME] section"
edge '; only a comment\n[global]\nlog_level = debug\n' "3: no [channel NAME] section"
edge '[channel x]\nsource = synthetic\nslot_size = 32\n' "3: slot_size: '32' is not an integer in 64..1048576"
edge '[channel x]\nsource = synthetic\nslot_size = 2097152\n' "3: slot_size: '2097152' is not an integer in 64..1048576"
edge '[channel x]\nsource = synthetic\nblock_count = -4\n' "3: block_count: '-4' is not an integer in 1..2147483648"
edge '[channel x]\nsource = synthetic\nfile_mode = 0999\n' "3: file_mode: '0999' is not an octal mode in 0..511"
edge '[channel x]\nsource = synthetic\nreplace = maybe\n' "3: replace: 'maybe' is not yes or no"
edge '[channel x]\nsource = synthetic\ngroup =\n' "3: group: empty value"
edge '[channel x]\nsource = synthetic\nseed = 18446744073709551616\n' "3: seed: '18446744073709551616' is not an integer in 0..18446744073709551615"
edge '[channel x]\nsource = udp\nlisten = :70000\n' "1: [channel x]: ':70000': bad port"
edge '[channel x]\nsource = udp\nlisten = :1\njump_confirm = 17\n' "4: jump_confirm: '17' is not an integer in 1..16"
# a bound compared as an integer: one past it refused (as doubles, 2^62 +
# 1 .. 2^62 + 512 and 1e18 + 64 were taken; fuzzing)
edge '[channel x]\nsource = udp\nlisten = :1\nsession = S\njump_window = 4611686018427387905\n' "5: jump_window: '4611686018427387905' is not an integer in 1..4611686018427387904"
edge '[channel x]\nsource = synthetic\ncount = 1000000000000000001\n' "3: count: '1000000000000000001' is not an integer in 0..1000000000000000000"
edge '[channel x]\nsource = udp\nlisten = :1\nsession = ELEVENCHARS\n' "1: [channel x]: session: longer than 10 characters"
# slots too small for every message the source makes (64-byte quotes and
# trades): -T said OK, and the channel dropped all it was given
edge '[channel x]\nsource = synthetic\nslot_size = 64\n' "1: [channel x]: source synthetic makes messages of 64 bytes, a slot of 64 carries 40: set slot_size = 128 or more"
edge '[channel x]\nsource = lines\nfile = -\nslot_size = 64\n' "1: [channel x]: source lines makes messages of 64 bytes, a slot of 64 carries 40: set slot_size = 128 or more"
# 1 ns between counter lines logged a line per channel at every pass of
# the event loop; 0 (off) stays
edge '[global]\nstats_interval = 0.000000001\n[channel x]\nsource = synthetic\n' "2: stats_interval: '0.000000001' is not 0 nor a number in 0.01..86400"
printf '[global]\nstats_interval = 0\n[channel x]\nsource = synthetic\n' >"$WORK/off.conf"
status 0 "$MDPUB" -T -c "$WORK/off.conf" >/dev/null
edge '[channel ]\nsource = synthetic\n' "1: invalid channel name '' (want [A-Za-z0-9._-]{1,64})"
edge '[channel x]\n\nsource = synthetic\n  [channel x]\nsource = replay\n' "4: channel 'x' already defined at line 1"

# what libmdbus would refuse is refused here, at the channel's header
x='[channel x]\nsource = synthetic\n'
edge "${x}slots_per_block = 1\nblock_count = 1\n" "1: [channel x]: capacity 1 out of [2, 2^32]"
edge "${x}slots_per_block = 2147483648\nblock_count = 4\n" "1: [channel x]: capacity 8589934592 out of [2, 2^32]"
edge "${x}slot_size = 1048576\nslots_per_block = 65536\nblock_count = 256\n" "1: [channel x]: segment larger than 2^40 bytes"
edge "${x}file_mode = 0662\n" "1: [channel x]: file mode 662 is writable by others; readers refuse such segments"
edge "${x}group = no-such-group.mdbus\n" "1: [channel x]: unknown group 'no-such-group.mdbus'"
# a number past gid_t is refused, not cut to another group's id (2^32 +
# 1000 was gid 1000, 2^32 - 1 left the daemon's group, a number past
# long's range the same)
edge "${x}group = 4294968296\n" "1: [channel x]: group id '4294968296' out of 0..4294967294"
edge "${x}group = 4294967295\n" "1: [channel x]: group id '4294967295' out of 0..4294967294"
edge "${x}group = 99999999999999999999\n" "1: [channel x]: group id '99999999999999999999' out of 0..4294967294"
edge "${x}dir = $WORK/missing\n" "1: [channel x]: segment directory $WORK/missing: No such file or directory"
# and at start, with the same FILE:LINE, before any segment is made
status 1 "$MDPUB" -c "$WORK/edge.conf" 2>"$WORK/got"
grep -qF "$WORK/edge.conf:1: [channel x]: segment directory" "$WORK/got" ||
	fail "start does not name FILE:LINE: $(cat "$WORK/got")"

# lines are never cut: a channel name of 64 characters, a directory path
# of 3000 bytes; a line over 8192 bytes is one error, its tail unread
name=$(printf 'n%.0s' $(seq 64))
long=$MDBUS_DIR
while [ ${#long} -lt 3000 ]; do long=$long/$(printf 'd%.0s' $(seq 200)); done
mkdir -p "$long" || fail "mkdir $long"
printf '[channel %s]\nsource = synthetic\ncount = 3\ndir = %s\n' "$name" \
	"$long" >"$WORK/long.conf"
status 0 "$MDPUB" -T -c "$WORK/long.conf" >"$WORK/out"
status 0 "$MDPUB" -c "$WORK/long.conf" 2>"$WORK/long.log"
[ -f "$long/mdbus.$name" ] || fail "no segment $long/mdbus.$name: $(ls "$MDBUS_DIR")"
pad=$(printf 'x%.0s' $(seq 8200))
printf '[channel x]\nsource = synthetic\n; %s slot_size = 33\n' "$pad" \
	>"$WORK/edge.conf"
status 1 "$MDPUB" -T -c "$WORK/edge.conf" 2>"$WORK/got"
expect "$WORK/got" "mdpub: $WORK/edge.conf:3: line longer than 8192 bytes"
[ "$(wc -l <"$WORK/got")" -eq 1 ] || fail "an overlong line gave more than one error"

# the file itself: a FIFO is refused without reading it (it would hang
# -T, start and reload: `timeout` makes that a failure, at a deadline no
# loaded machine reaches); a file others or the group may write, or (as
# root) one owned by another user, is refused with the fix
printf '[channel x]\nsource = synthetic\n' >"$WORK/own.conf"
ln -s "$WORK/own.conf" "$WORK/link.conf"
status 0 "$MDPUB" -T -c "$WORK/link.conf" >"$WORK/out"
expect "$WORK/out" "$WORK/link.conf: OK, 1 channel"
mkfifo "$WORK/fifo.conf"
status 1 timeout 60 "$MDPUB" -T -c "$WORK/fifo.conf" 2>"$WORK/got"
expect "$WORK/got" "mdpub: $WORK/fifo.conf: a FIFO, not a regular file"
status 1 timeout 60 "$MDPUB" -c "$WORK/fifo.conf" 2>"$WORK/got"
grep -qF "$WORK/fifo.conf: a FIFO, not a regular file" "$WORK/got" ||
	fail "start with a FIFO as config: $(cat "$WORK/got")"
chmod 0666 "$WORK/own.conf"
status 1 "$MDPUB" -T -c "$WORK/own.conf" 2>"$WORK/got"
expect "$WORK/got" "mdpub: $WORK/own.conf: mode 0666 lets others change it: chmod go-w $WORK/own.conf"
chmod 0620 "$WORK/own.conf"
status 1 "$MDPUB" -T -c "$WORK/link.conf" 2>"$WORK/got"
expect "$WORK/got" "mdpub: $WORK/link.conf: mode 0620 lets its group change it: chmod go-w $WORK/link.conf"
chmod 0644 "$WORK/own.conf"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody "$WORK/own.conf"
	status 1 "$MDPUB" -T -c "$WORK/own.conf" 2>"$WORK/got"
	expect "$WORK/got" "mdpub: $WORK/own.conf: owned by nobody (uid $(id -u nobody)), not by root or the user mdpub runs as (uid 0): chown it to one of them"
else
	echo "owner part skipped: not root or no user nobody"
fi
# ... and the directories of its real path: one that others may write
# (not sticky), or (as root) another user's, is refused with the fix:
# whoever may write it could put another file, or a link to one, under
# the name. Before, accepted (attack run: a link to /etc/shadow there
# passed, and its first fields were logged)
chown 0 "$WORK/own.conf" 2>/dev/null
mkdir "$WORK/open" && printf '[channel x]\nsource = synthetic\n' >"$WORK/open/x.conf" ||
	fail "mkdir"
ln -s "$WORK/open/x.conf" "$WORK/via.conf"
status 0 "$MDPUB" -T -c "$WORK/via.conf" >"$WORK/out"
chmod 0777 "$WORK/open"
status 1 "$MDPUB" -T -c "$WORK/via.conf" 2>"$WORK/got"
expect "$WORK/got" "mdpub: $WORK/via.conf: directory $WORK/open may be written by anyone (mode 0777), who could put another file under the name: chmod go-w $WORK/open"
chmod 01777 "$WORK/open" # sticky: nobody else may rename ours
status 0 "$MDPUB" -T -c "$WORK/via.conf" >"$WORK/out"
# ... a link in a directory others may write: theirs to point anywhere
chmod 0755 "$WORK/open" && mkdir -m 0777 "$WORK/lnk" &&
	ln -s "$WORK/open/x.conf" "$WORK/lnk/x.conf" || fail "link"
status 1 "$MDPUB" -T -c "$WORK/lnk/x.conf" 2>"$WORK/got"
expect "$WORK/got" "mdpub: $WORK/lnk/x.conf: directory $WORK/lnk may be written by anyone (mode 0777), who could put another file under the name: chmod go-w $WORK/lnk"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chmod 0755 "$WORK/open" && chown nobody "$WORK/open"
	status 1 "$MDPUB" -T -c "$WORK/via.conf" 2>"$WORK/got"
	expect "$WORK/got" "mdpub: $WORK/via.conf: directory $WORK/open is owned by nobody (uid $(id -u nobody)), not by root or the user mdpub runs as (uid 0), who could put another file under the name: keep the configuration in a directory of one of them"
fi

# a [global] default reaches every channel
conf defaults.conf <<'END'
[global]
slot_size = 512
file_mode = 0600
stats_interval = 0
[channel d]
source = synthetic
count = 1
END
status 0 "$MDPUB" -c "$WORK/defaults.conf" 2>"$WORK/run.log"
status 0 "$READER" --until down d >"$WORK/out"
[ "$(stat -c %a "$MDBUS_DIR/mdbus.d")" = 600 ] || fail "file_mode from [global] not applied"
if [ -x "${MDSUB:-}" ]; then
	"$MDSUB" --status d >"$WORK/status" || fail "mdsub --status"
	grep -q "slot 512 B" "$WORK/status" || fail "slot_size from [global] not applied"
fi
exit 0
