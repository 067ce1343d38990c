# mdsub_lib.sh - sourced by the mdsub_*.sh tests: a private segment
# directory, the test tool, and helpers. Exit 0 pass, 77 skip, else fail.
set -u
: "${MDSUB:?MDSUB is not set (run through make check)}"
: "${top_builddir:?top_builddir is not set (run through make check)}"
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
TOOL=$top_builddir/tests/mdsub_testtool
EXPECTED=$top_srcdir/tests
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

# status WANT CMD...: runs CMD, fails unless its exit status is WANT
status() {
	want=$1
	shift
	"$@"
	got=$?
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}

# A stopped channel holding the deterministic feed: pub CHANNEL N [OPTS]
pub() {
	"$TOOL" pub "$@" || fail "test publisher failed: $*"
}
