#!/bin/sh
# The man pages as the build makes them (man/*.in filled in): no control
# character but tab and newline (a script that wrote "\f" as a form feed
# left "^LB" where a font change was meant: mdsub(1) and mdpub.conf(5)
# had one each, shown as a stray "B" or "R"), and no warning from
# groff -man -ww where groff is installed.
set -u
man=${top_builddir:?}/man
n=0
for page in "$man"/mdsub.1 "$man"/libmdbus.3 "$man"/mdpub.conf.5 "$man"/mdpub.8; do
	[ -f "$page" ] || { echo "FAIL: $page not built"; exit 1; }
	n=$((n + 1))
	bad=$(LC_ALL=C grep -n "$(printf '[\001-\010\013-\037\177]')" "$page" | head -n 3)
	[ -z "$bad" ] || { echo "FAIL: $page has control characters: $bad"; exit 1; }
	if command -v groff >/dev/null; then
		warn=$(groff -man -ww -z "$page" 2>&1 | head -n 3)
		[ -z "$warn" ] || { echo "FAIL: groff on $page: $warn"; exit 1; }
	fi
done
[ "$n" = 4 ] || { echo "FAIL: $n pages"; exit 1; }
# libmdbus(3) is the library's one page: no reference to a page of one
# of its functions (mdpub(8) and mdsub(1) named mdbus_rec_create(3))
bad=$(grep -n 'mdbus_[a-z_]* *(3)' "$man"/mdsub.1 "$man"/libmdbus.3 \
	"$man"/mdpub.conf.5 "$man"/mdpub.8 | head -n 3)
[ -z "$bad" ] || { echo "FAIL: a reference to no page: $bad"; exit 1; }
# the layout version that doc/protocol.md and mdsub(1)'s JSON give is the
# header's (protocol.md said 4.0 and mdsub(1) 3.1 of a 4.1 layout)
src=${top_srcdir:?}
major=$(sed -n 's/^#define MDBUS_LAYOUT_MAJOR \([0-9]*\).*/\1/p' "$src/lib/mdbus.h")
minor=$(sed -n 's/^#define MDBUS_LAYOUT_MINOR \([0-9]*\).*/\1/p' "$src/lib/mdbus.h")
grep -qF "Segment layout version: **$major.$minor**" "$src/doc/protocol.md" ||
	{ echo "FAIL: doc/protocol.md does not give layout $major.$minor"; exit 1; }
grep -qF "layout \" (\\(dq$major.$minor\\(dq)" "$src/man/mdsub.1.in" ||
	{ echo "FAIL: mdsub(1)'s JSON layout is not $major.$minor"; exit 1; }
command -v groff >/dev/null || echo "groff not installed: control characters only"
echo "$n man pages clean"
