#!/bin/sh
# Model check of the Waiting protocol (doc/protocol.md, "Waiting"):
# tests/model/wait.pml, 2 readers, up to 3 messages, the producer's store
# buffer (x86-TSO). Spin must find no lost wake-up in the model (every
# state of the producer and the readers reached, so that the check is not
# vacuous), and must find one in each mutant that drops one ingredient of
# the argument: otherwise the model proves nothing. The recount's fence is
# no ingredient of this claim: without it the model must still hold.
# Skips (77) without spin (Debian: apt-get install spin) or a C compiler.
set -u
src=${top_srcdir:-$(dirname "$0")/../..}/tests/model/wait.pml
cc=${CC:-cc}
command -v spin >/dev/null 2>&1 || { echo "SKIP: spin not installed (apt-get install spin)"; exit 77; }
command -v "$cc" >/dev/null 2>&1 || { echo "SKIP: no C compiler ($cc) for spin's verifier"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/mdbus-model.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failed=0

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# verify OPT [-DMUTANT]: spin's verifier of the model, compiled with OPT
# (-O2 for a search of every state, -O0 where one error ends it soon),
# its report in out
verify() {
	opt=$1
	shift
	rm -f pan pan.* ./*.trail
	spin "$@" -a "$src" >spin.out 2>&1 || { cat spin.out; return 1; }
	"$cc" "$opt" -DSAFETY -o pan pan.c >cc.out 2>&1 || { cat cc.out; return 1; }
	./pan -m100000 >out 2>&1
	grep -q 'errors: [0-9]' out || { cat out; return 1; }
}

errors() { sed -n 's/.*errors: \([0-9]*\).*/\1/p' out; }

if verify -O2; then
	states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' out)
	echo "model: $(errors) errors, $states states"
	if [ "$(errors)" != 0 ]; then
		cat out
		fail "the model loses a wake-up"
	else
		grep -q 'max search depth too small' out && fail "search incomplete (raise -m)"
		for p in producer reader; do
			grep -A1 "unreached in proctype $p\$" out | grep -q '(0 of' ||
				fail "states of $p unreached: $(grep -A3 "unreached in proctype $p\$" out)"
		done
	fi
else
	fail "the model does not verify"
fi

for m in NO_SETTLE SETTLE_FIRST LOAD_FIRST NO_FENCE CHECK_FIRST PLAIN_STORE; do
	verify -O0 -D"$m" || { fail "mutant $m does not verify"; continue; }
	if [ "$(errors)" = 1 ] && grep -q 'assertion violated.*asleep' out; then
		echo "mutant $m: lost wake-up found ($(sed -n 's/.*(at depth \([0-9]*\)).*/depth \1/p' out))"
	else
		cat out
		fail "mutant $m: no lost wake-up found, the model does not need $m's ingredient"
	fi
done

verify -O2 -DNO_RECOUNT_FENCE || fail "mutant NO_RECOUNT_FENCE does not verify"
echo "without the recount's fence: $(errors) errors"
[ "$(errors)" = 0 ] || fail "without the recount's fence the model loses a wake-up"

[ "$failed" = 0 ]
