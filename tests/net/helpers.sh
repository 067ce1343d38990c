# helpers.sh - sourced by the tests in tests/net: mdpub/helpers.sh (work
# and segment directories, mdpub helpers) plus network namespaces.
#   netns_pair: namespaces $NS_A and $NS_B joined by a veth pair,
#     $ADDR_A on $DEV_A and $ADDR_B on $DEV_B (a /24 of their own), lo up in
#     both; skips (77) saying why when they cannot be made
#   $IN_A CMD... / $IN_B CMD...: CMD in that namespace (words, not
#     functions, so that `$IN_A CMD &` leaves CMD's pid in $!)
# Everything is removed on exit (processes first, then the namespaces).
. "${top_srcdir:-.}/tests/mdpub/helpers.sh"

NS_A=mdbus-t$$-a
NS_B=mdbus-t$$-b
DEV_A=mdbt$$a
DEV_B=mdbt$$b
ADDR_A=10.$(($$ % 200 + 20)).$(($$ / 200 % 250)).1
ADDR_B=${ADDR_A%.1}.2
net_cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$MDBUS_DIR" "$WORK"
}
trap net_cleanup EXIT

IN_A="ip netns exec $NS_A"
IN_B="ip netns exec $NS_B"

netns_pair() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }
	command -v ip >/dev/null || { echo "SKIP: no ip command (iproute2)"; exit 77; }
	ip netns add "$NS_A" 2>"$WORK/netns.err" ||
		{ echo "SKIP: cannot create a network namespace: $(cat "$WORK/netns.err")"; exit 77; }
	ip netns add "$NS_B" || fail "ip netns add $NS_B"
	ip link add "$DEV_A" netns "$NS_A" type veth peer name "$DEV_B" netns "$NS_B" ||
		fail "veth pair"
	$IN_A ip addr add "$ADDR_A/24" dev "$DEV_A" || fail "address A"
	$IN_B ip addr add "$ADDR_B/24" dev "$DEV_B" || fail "address B"
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up || fail "lo up in $ns"
	done
	$IN_A ip link set "$DEV_A" up || fail "$DEV_A up"
	$IN_B ip link set "$DEV_B" up || fail "$DEV_B up"
}
