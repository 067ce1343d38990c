#!/bin/sh
# mdpub soak: a high-rate synthetic channel read by three consumer
# processes (one slow, so that it loses) and by a consumer in a dlopen'ed
# plugin that is loaded and unloaded every 10 s, for SOAK_SECONDS (2 in
# make check; `make -C tests soak` runs 300, at SOAK_RATE messages/s).
# Reports crashes (must be 0), torn or duplicated messages (must be 0) and
# each consumer's exact loss accounting.
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"
SECONDS_=${SOAK_SECONDS:-2}
RATE=${SOAK_RATE:-1000000}
PLUGIN=${SOAK_PLUGIN:-$top_builddir/tests/mdpub/.libs/soak_plugin.so}
HOST=$top_builddir/tests/mdpub/soak_host
[ -f "$PLUGIN" ] || { echo "SKIP: $PLUGIN not built"; exit 77; }

channel soak.conf soak source=synthetic symbols=100 "rate=$RATE" \
	slots_per_block=4096 block_count=4
start soak -c "$WORK/soak.conf"
MDPUB_PID=$PID
wait_log soak "channel soak: publishing from sequence"
T=$((SECONDS_ + 60))
for c in 1 2 3; do
	delay=0
	[ $c -eq 3 ] && delay=50
	"$READER" --synthetic --from latest --until down --timeout "$T" \
		--delay $delay soak >"$WORK/reader$c.out" 2>&1 &
	eval "R$c=\$!"
done
"$HOST" "$PLUGIN" soak "$T" >"$WORK/plugin.out" 2>&1 &
P=$!
PIDS="$PIDS $R1 $R2 $R3 $P"
# the soak's seconds count once the four read (with mdpub --duration, a
# consumer that a loaded machine started late came after the FEED_DOWN)
all_registered() {
	[ "$("$MDSUB" --status soak | grep -c '^ *\(mdpub_reader\|soak-plugin\) ')" -eq 4 ]
}
wait_for all_registered
sleep "$SECONDS_"
kill -TERM "$MDPUB_PID"

crashes=0 failed=0
wait "$MDPUB_PID" || { crashes=$((crashes + 1)); echo "mdpub exited $?"; }
for c in 1 2 3; do
	eval "wait \$R$c" || { failed=$((failed + 1)); echo "reader $c failed"; }
done
wait "$P" || { failed=$((failed + 1)); echo "plugin consumer failed"; }

# accounting: each consumer read + lost == the sequence span it covered
account() { # account NAME FILE
	set -- "$1" $(awk '$1 == "messages" { r = $2; l = $14 }
		$1 == "first" { printf "%s %s %s %s %s", r, l, $2, $4, $10 }' "$2")
	[ $# -eq 6 ] || { echo "$1: no counts"; return 1; }
	echo "$1: read $2 lost $3 of $4..$5 torn $6"
	[ "$6" -eq 0 ] || return 1
	case $1 in plugin) return 0 ;; esac # summed over rounds
	[ $(($2 + $3)) -eq $(($5 - $4 + 1)) ]
}
for c in 1 2 3; do
	account "reader$c" "$WORK/reader$c.out" || failed=$((failed + 1))
done
account plugin "$WORK/plugin.out" || failed=$((failed + 1))
grep "channel soak: in " "$WORK/soak.log" | tail -n 1
echo "soak ${SECONDS_}s at $RATE msg/s: crashes $crashes, failures $failed"
[ $crashes -eq 0 ] && [ $failed -eq 0 ] || fail "soak"
exit 0
