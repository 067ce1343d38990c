#!/bin/sh
# The README's example: example_pub publishes 1000 quotes, example_sub
# reads them all back from the oldest, in order, with no loss, and so does
# the C++ subscriber example_cxx, printing the same lines. The README
# shows these three files verbatim: check that it still does.
set -eu
MDBUS_DIR=$(mktemp -d /dev/shm/mdbus-example.XXXXXX)
export MDBUS_DIR
trap 'rm -rf "$MDBUS_DIR"' EXIT
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
: "${top_builddir:?top_builddir is not set (run through make check)}"
src=$top_srcdir/tests/lib
bin=$top_builddir/tests/lib

awk '/^```c$/ {n++; f=1; next} /^```$/ {f=0} f {print > (dir "/readme" n ".c")}' \
	dir="$MDBUS_DIR" "$top_srcdir/README.md"
awk '/^```cpp$/ {n++; f=1; next} /^```$/ {f=0} f {print > (dir "/readme" n ".cpp")}' \
	dir="$MDBUS_DIR" "$top_srcdir/README.md"
cmp "$MDBUS_DIR/readme1.c" "$src/example_pub.c" ||
	{ echo "README publisher example differs from tests/lib/example_pub.c"; exit 1; }
cmp "$MDBUS_DIR/readme2.c" "$src/example_sub.c" ||
	{ echo "README subscriber example differs from tests/lib/example_sub.c"; exit 1; }
cmp "$MDBUS_DIR/readme1.cpp" "$src/example_cxx.cpp" ||
	{ echo "README C++ example differs from tests/lib/example_cxx.cpp"; exit 1; }

"$bin/example_pub"
"$bin/example_sub" >"$MDBUS_DIR/out"
lines=$(wc -l <"$MDBUS_DIR/out")
first=$(head -n 1 "$MDBUS_DIR/out")
last=$(tail -n 1 "$MDBUS_DIR/out")
[ "$lines" = 1000 ] || { echo "expected 1000 lines, got $lines"; exit 1; }
[ "$first" = "0 DEMO bid 10000000000 lost 0" ] || { echo "first: $first"; exit 1; }
[ "$last" = "999 DEMO bid 10000000999 lost 0" ] || { echo "last: $last"; exit 1; }
"$bin/example_cxx" >"$MDBUS_DIR/out.cxx"
cmp "$MDBUS_DIR/out" "$MDBUS_DIR/out.cxx" ||
	{ echo "example_cxx printed other lines than example_sub"; exit 1; }
