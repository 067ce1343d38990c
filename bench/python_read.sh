#!/bin/sh
# Runs python_read.py against the build tree: a package directory of links
# to python/mdbus's sources and the built extension, libmdbus from
# lib/.libs (as tests/python/run.sh does). Environment: PYTHON,
# top_builddir, top_srcdir; arguments: N RUNS.
set -eu
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mdbench-py.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/mdbus"
for f in "$top_srcdir"/python/mdbus/*.py "$top_builddir"/python/mdbus/.libs/_mdbus.so; do
	ln -s "$f" "$WORK/mdbus/"
done
PYTHONPATH=$WORK LD_LIBRARY_PATH=$top_builddir/lib/.libs PYTHONDONTWRITEBYTECODE=1 \
	"$PYTHON" "$top_srcdir/bench/python_read.py" "$top_builddir/clients/mdsub" "$@"
