#!/bin/sh
# Model checks of the Waiting protocol (doc/protocol.md, "Waiting"):
# tests/model/wait.pml (2 registered readers, up to 3 messages, the
# producer's store buffer, x86-TSO) and tests/model/nudge.pml (the
# publisher's nudger and 2 readers without an entry, up to 2 messages,
# the nudger's store buffer). Spin must find no lost wake-up in either
# model (every state of the processes reached, so that the check is not
# vacuous), and must find one in each mutant that drops one ingredient of
# the argument: otherwise the model proves nothing. Some mutants are no
# ingredient of the claim: the model must still hold without them.
# Skips (77) without spin (Debian: apt-get install spin) or a C compiler.
set -u
models=${top_srcdir:-$(dirname "$0")/../..}/tests/model
cc=${CC:-cc}
command -v spin >/dev/null 2>&1 || { echo "SKIP: spin not installed (apt-get install spin)"; exit 77; }
command -v "$cc" >/dev/null 2>&1 || { echo "SKIP: no C compiler ($cc) for spin's verifier"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/mdbus-model.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
failed=0

fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# verify MODEL OPT [SPIN-OPTION...]: spin's verifier of MODEL.pml,
# compiled with OPT (-O2 for a search of every state, -O0 where one error
# ends it soon), its report in out
verify() {
	model=$1 opt=$2
	shift 2
	rm -f pan pan.* ./*.trail
	spin "$@" -a "$models/$model.pml" >spin.out 2>&1 || { cat spin.out; return 1; }
	"$cc" "$opt" -DSAFETY -o pan pan.c >cc.out 2>&1 || { cat cc.out; return 1; }
	./pan -m100000 >out 2>&1
	grep -q 'errors: [0-9]' out || { cat out; return 1; }
}

errors() { sed -n 's/.*errors: \([0-9]*\).*/\1/p' out; }

# check MODEL 'PROCESSES' 'FAILING MUTANTS' 'HOLDING MUTANTS' [SPIN-OPTION...]:
# the model holds and every state of each process is reached (NAME=K: but
# K), each failing mutant loses a wake-up, each holding one does not
check() {
	model=$1 procs=$2 failing=$3 holding=$4
	shift 4
	if verify "$model" -O2 "$@"; then
		states=$(sed -n 's/^ *\([0-9]*\) states, stored.*/\1/p' out)
		echo "$model: $(errors) errors, $states states"
		if [ "$(errors)" != 0 ]; then
			cat out
			fail "$model: the model loses a wake-up"
		else
			grep -q 'max search depth too small' out && fail "$model: search incomplete (raise -m)"
			for p in $procs; do
				# NAME=K: K states may stay unreached (a loop's
				# end, where the process never ends)
				k=0
				case $p in *=*) k=${p#*=} p=${p%=*} ;; esac
				grep -A"$((k + 1))" "unreached in proctype $p\$" out | grep -q "($k of" ||
					fail "$model: states of $p unreached: $(grep -A3 "unreached in proctype $p\$" out)"
			done
		fi
	else
		fail "$model: the model does not verify"
	fi
	for m in $failing; do
		verify "$model" -O0 "$@" -D"$m" || { fail "$model: mutant $m does not verify"; continue; }
		if [ "$(errors)" = 1 ] && grep -q 'assertion violated.*asleep' out; then
			echo "$model: mutant $m: lost wake-up found ($(sed -n 's/.*(at depth \([0-9]*\)).*/depth \1/p' out))"
		else
			cat out
			fail "$model: mutant $m: no lost wake-up found, the model does not need $m's ingredient"
		fi
	done
	for m in $holding; do
		verify "$model" -O2 "$@" -D"$m" || { fail "$model: mutant $m does not verify"; continue; }
		echo "$model: mutant $m, no ingredient: $(errors) errors"
		[ "$(errors)" = 0 ] || fail "$model: mutant $m loses a wake-up"
	done
}

check wait 'producer reader' \
	'NO_SETTLE SETTLE_FIRST LOAD_FIRST NO_FENCE CHECK_FIRST PLAIN_STORE' \
	'NO_RECOUNT_FENCE'
check nudge 'producer nudger=1 reader' \
	'CHECK_FIRST RELAXED_SET LOAD_FIRST LAST_ON_WAKE' \
	'KEEP_FLAG STORE_ZERO' -DN=2

[ "$failed" = 0 ]
