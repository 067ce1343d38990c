#!/bin/sh
# JSON and 64-bit integers (mdsub(1), "JSON"): readers that hold numbers
# as doubles (JavaScript, jq 1.6) round integers past 2^53, so a count or
# sequence number is a JSON number up to 2^53 and a string of its digits
# beyond, and an identifier or timestamp (epoch, create_ns, ts_ns) is
# always a string. Checked in messages (-o json), --list -o json and
# --status -o json, at 2^53 and 2^53 + 1.
. "${top_srcdir:-.}/tests/mdsub/helpers.sh"
cd "$WORK" || exit 99

P53=9007199254740992 # 2^53
# seq 1, 2^53 (lost 2^53 - 2), 2^53 + 1, then 2^60 (lost beyond 2^53)
{ header 65536; record 1 1 a; record $P53 2 b; record $((P53 + 1)) 3 c
  record $((1 << 60)) 4 d; } >big.rec
status 0 "$MDSUB" -o json big.rec >out 2>/dev/null
"$TOOL" json <out || fail "not JSON: $(cat out)"
sed "s/.*\(\"seq\":[^,]*\).*\(,\"lost\":.*\)/\1\2/" out >got # seq, lost
printf '%s\n' '"seq":1,"lost":0}' "\"seq\":$P53,\"lost\":$((P53 - 2))}" \
	"\"seq\":\"$((P53 + 1))\",\"lost\":0}" \
	"\"seq\":\"$((1 << 60))\",\"lost\":\"$(((1 << 60) - P53 - 2))\"}" >want
same want got "message JSON seq and lost around 2^53"

# write_num (header offset 256) at 2^53, then 2^53 + 1
pub feed 3
"$TOOL" poke feed 256 $P53 || fail poke
status 0 "$MDSUB" --list -o json >list.json
grep -qF "\"write_num\":$P53," list.json || fail "write_num 2^53: $(cat list.json)"
"$TOOL" poke feed 256 $((P53 + 1)) || fail poke
status 0 "$MDSUB" --list -o json >list.json
grep -qF "\"write_num\":\"$((P53 + 1))\"," list.json ||
	fail "write_num 2^53 + 1: $(cat list.json)"
status 0 "$MDSUB" --status -o json >status.json
"$TOOL" json <status.json || fail "--status -o json: not JSON"
grep -qF "\"write_num\":\"$((P53 + 1))\"," status.json ||
	fail "--status write_num 2^53 + 1: $(cat status.json)"
# the epoch (random, 64 bits) and the creation time: strings, exact
epoch=$("$MDSUB" --status feed | sed -n 's/.*, epoch \([0-9]*\)$/\1/p')
[ -n "$epoch" ] || fail "no epoch in --status"
grep -qF "\"epoch\":\"$epoch\"," status.json || fail "epoch $epoch: $(cat status.json)"
grep -Eq '"create_ns":"[0-9]+",' status.json || fail "create_ns: $(cat status.json)"
exit 0
