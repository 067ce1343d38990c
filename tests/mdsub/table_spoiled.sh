#!/bin/sh
# A consumer table that is spoiled or missing (anyone in the channel's
# group may write it; its publisher mends it on its next heartbeat) hides
# the consumers only: --list, --status and its JSON and Prometheus forms
# show the rest of the channel as usual and exit 0. Before, such a channel
# was shown unreadable (--status CHANNEL exited 1, Prometheus
# mdbus_channel_readable 0): a writer of the table blinded monitoring.
# Tools that need only the segment (mdsub --record, an anonymous reader)
# still work.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"

pub -g 16:4 alpha 3

# check WHAT: the channel's output with its table as WHAT says
check() {
	status 0 "$MDSUB" --list >"$WORK/list"
	awk 'NR == 2 { print $1, $2, $5, $8, $10 }' "$WORK/list" >"$WORK/got"
	echo 'alpha overwrite stopped 3 ?/64' >"$WORK/want"
	same "$WORK/want" "$WORK/got" "$1: --list"
	status 0 "$MDSUB" --status alpha >"$WORK/status"
	grep -q '^alpha: layout ' "$WORK/status" &&
		grep -q '^  write_num: 3, ' "$WORK/status" &&
		grep -q '^  consumers: unknown of 64: channel alpha: its consumer table file is missing or spoiled' "$WORK/status" ||
		fail "$1: --status: $(cat "$WORK/status")"
	grep -q 'unreadable' "$WORK/status" && fail "$1: --status says unreadable"
	status 0 "$MDSUB" --status -o json alpha >"$WORK/json"
	"$TOOL" json <"$WORK/json" || fail "$1: not JSON"
	[ "$("$TOOL" jget channels.0.write_num channels.0.consumers_in_use \
		channels.0.consumers channels.0.error <"$WORK/json" | tr '\n' ' ')" = \
		"3 null null absent " ] || fail "$1: JSON: $(cat "$WORK/json")"
	"$TOOL" jget channels.0.consumers_error <"$WORK/json" |
		grep -q 'consumer table file is missing or spoiled' ||
		fail "$1: JSON consumers_error: $(cat "$WORK/json")"
	status 0 "$MDSUB" --status -o prometheus alpha >"$WORK/prom"
	grep -qx 'mdbus_channel_readable{channel="alpha"} 1' "$WORK/prom" &&
		grep -qx 'mdbus_channel_table_readable{channel="alpha"} 0' "$WORK/prom" &&
		grep -qx 'mdbus_channel_messages_total{channel="alpha"} 3' "$WORK/prom" ||
		fail "$1: prometheus: $(cat "$WORK/prom")"
	grep -q '^mdbus_channel_consumers{' "$WORK/prom" &&
		fail "$1: prometheus counts consumers it cannot see"
	rm -f "$WORK/rec"
	status 0 "$MDSUB" --record "$WORK/rec" --from oldest -a -u alpha
}

table=$(ls "$MDBUS_DIR"/mdbus.alpha+* | grep -v '+lock$')
[ -f "$table" ] || fail "no table file: $(ls "$MDBUS_DIR")"
status 0 "$MDSUB" --status -o prometheus alpha >"$WORK/prom0"
grep -qx 'mdbus_channel_table_readable{channel="alpha"} 1' "$WORK/prom0" &&
	grep -qx 'mdbus_channel_consumers{channel="alpha"} 0' "$WORK/prom0" ||
	fail "good table: $(cat "$WORK/prom0")"

# its magic zeroed, as a writer of the table can
dd if=/dev/zero of="$table" bs=8 count=1 conv=notrunc 2>/dev/null
check "spoiled"
rm -f "$table"
check "missing"
echo "a spoiled and a missing table: the channel shown, its consumers unknown"
