# helpers.sh - sourced by the tests in tests/mdsub: a private segment
# directory, the test tool, and helpers. Exit 0 pass, 77 skip, else fail.
set -u
: "${MDSUB:?MDSUB is not set (run through make check)}"
: "${top_builddir:?top_builddir is not set (run through make check)}"
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
TOOL=$top_builddir/tests/mdsub/testtool
EXPECTED=$top_srcdir/tests/mdsub
[ -x "$MDSUB" ] || { echo "SKIP: $MDSUB not built"; exit 77; }
[ -d /dev/shm ] || { echo "SKIP: no /dev/shm"; exit 77; }
MDBUS_DIR=$(mktemp -d /dev/shm/mdsubtest.XXXXXX) || exit 99
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdsubtest.XXXXXX") || exit 99
export MDBUS_DIR TZ=UTC LC_ALL=C
trap 'rm -rf "$MDBUS_DIR" "$WORK"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# same FILE1 FILE2 WHAT: fails with a diff unless the files are equal
same() {
	diff -u "$1" "$2" >&2 || fail "$3"
}

. "$top_srcdir/tests/common.sh"

# A stopped channel holding the deterministic feed: pub CHANNEL N [OPTS]
pub() {
	"$TOOL" pub "$@" || fail "test publisher failed: $*"
}

# raw lines without channel and seq, and without mdpub's own feed status
# messages (type 5 with an empty symbol): what a replay must reproduce
payloads() {
	grep -v '^[^ ]* [0-9]* [0-9]* 5 [0-9]* [0-9]* 00000000000000000000000000000000' "$1" |
		cut -d' ' -f3-
}

# wait_registered CHANNEL N: until the channel has N consumer entries
wait_registered() {
	wait_for sh -c "\"$MDSUB\" --status '$1' | grep -q 'consumers: $2 of'"
}
