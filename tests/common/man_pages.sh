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
command -v groff >/dev/null || echo "groff not installed: control characters only"
echo "$n man pages clean"
