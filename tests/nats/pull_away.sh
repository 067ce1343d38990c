#!/bin/sh
# No JetStream pull request while the NATS connection is away: libnats
# keeps what is published then for the reconnection, and the server
# answers all of them at once, each for a batch (an outage of minutes: a
# flood of thousands of batches into the source's inbox). mdpub reads
# the whole stream, nats-server is killed for 3 s and started again on
# its port and store; an interposer (nats/pull_away.c) counts the pull
# requests made while the connection was not up: none (before: one each
# 500 ms), and mdpub reads on after the reconnection (the stream's
# messages published once, a duplicate-free consumer).
. "${top_srcdir:-.}/tests/nats/helpers.sh"
. "$top_srcdir/tests/nats/ack_helpers.sh"
command -v bash >/dev/null || { echo "SKIP: needs bash for /dev/tcp"; exit 77; }
hook pull_away

upstream p
upstream_done p
start_hooked pa "$HOOK" "PULL_AWAY_FILE=$WORK/away" -c "$WORK/pd.conf"
wait_log pa "channel pd: publishing from"
published pa pd
port=$(nats_port np)
nats_kill np
sleep 3
nats_start np -js -m -1 -p "$port"
# reconnected (libnats retries every 2 s), then a pull or two answered
i=0
until monitor np /connz | tr -d ' \n' | grep -q '"num_connections":1,'; do
	i=$((i + 1))
	[ $i -le 300 ] || fail "mdpub did not connect again: $(monitor np /connz)"
	sleep 0.1
done
sleep 1
stop "$PID"
[ "$(stats pa pd out)" -eq "$PUB" ] || fail "pa: $(counters pa pd)"
read -r _ requests _ away <"$WORK/away" ||
	fail "no $WORK/away (mdpub died?): $(tail -n 5 "$WORK/pa.log")"
echo "pull requests $requests, made while the connection was away $away"
[ "$requests" -gt 0 ] || fail "no pull request counted"
[ "$away" -eq 0 ] || fail "$away pull requests made while the connection was away"
exit 0
