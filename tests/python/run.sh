#!/bin/sh
# The pytest tests of the Python module mdbus (python/), importing it from
# the build tree: a package directory of links to the sources' *.py and
# the built extension, libmdbus from lib/.libs. Exit 0 pass, 77 skip.
set -u
: "${top_builddir:?top_builddir is not set (run through make check)}"
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
[ "${MDBUS_PYTHON_BUILT:-no}" = yes ] ||
	{ echo "SKIP: built without the Python module"; exit 77; }
[ "${MDBUS_PYTHON_SANITIZED:-no}" = no ] ||
	{ echo "SKIP: sanitizer build (Python is not instrumented)"; exit 77; }
so=$top_builddir/python/mdbus/.libs/_mdbus.so
[ -f "$so" ] || { echo "FAIL: $so not built" >&2; exit 1; }
"$PYTHON" -c 'import pytest, numpy' 2>/dev/null ||
	{ echo "SKIP: $PYTHON lacks pytest or numpy"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdbuspy.XXXXXX") || exit 99
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/mdbus"
for f in "$top_srcdir"/python/mdbus/*.py "$so"; do
	ln -s "$f" "$WORK/mdbus/" || exit 99
done
PYTHONPATH=$WORK LD_LIBRARY_PATH=$top_builddir/lib/.libs \
	PYTHONDONTWRITEBYTECODE=1 \
	TOOL=$top_builddir/tests/mdsub/testtool \
	exec "$PYTHON" -m pytest -q -p no:cacheprovider --tb=short --rootdir="$WORK" \
	"$top_srcdir/tests/python"
