#!/bin/sh
# The tarball holds every file git tracks (make distcheck runs this as its
# distcheck-hook, on the unpacked tarball): a file the build or a test
# needs but EXTRA_DIST (or a _SOURCES, dist_check_SCRIPTS...) misses
# fails here, whether or not the tests distcheck runs would read it.
#   usage: tests/dist_files.sh SRCDIR DISTDIR
# The tracked files are those listed in the file $DIST_TRACKED (one name
# a line, relative to SRCDIR: tests/suite.sh gives `git ls-files` of the
# checkout it copied SRCDIR from), else `git ls-files` when SRCDIR is the
# top of a git checkout; else there is nothing to compare with, and it
# says so. A listed file absent from SRCDIR (deleted, not committed) is
# not asked for.
set -u
src=$1 dist=$2

# Tracked but deliberately not distributed, each with its reason:
#   .gitignore  git's own, nothing builds or tests with it
excluded='.gitignore'

if [ -n "${DIST_TRACKED:-}" ]; then
	list=$(cat "$DIST_TRACKED") || exit 1
elif top=$(git -C "$src" rev-parse --show-toplevel 2>/dev/null) &&
	[ "$(cd "$top" && pwd -P)" = "$(cd "$src" && pwd -P)" ]; then
	list=$(git -C "$src" ls-files) || exit 1
else
	echo "dist_files: $src is not the top of a git checkout and DIST_TRACKED is not set: the tarball is not compared with the tracked files"
	exit 0
fi

missing=$(printf '%s\n' "$list" | while IFS= read -r f; do
	[ -n "$f" ] || continue
	for x in $excluded; do
		[ "$f" = "$x" ] && continue 2
	done
	[ -e "$src/$f" ] || [ -L "$src/$f" ] || continue
	[ -e "$dist/$f" ] || [ -L "$dist/$f" ] || printf '%s\n' "$f"
done)
n=$(printf '%s\n' "$list" | grep -c .)
if [ -n "$missing" ]; then
	echo "dist_files: tracked, not in the tarball (add them to EXTRA_DIST or the like, or to the exclusions of tests/dist_files.sh with the reason):"
	printf '%s\n' "$missing" | sed 's/^/  /'
	exit 1
fi
echo "dist_files: the $n tracked files are in the tarball, but the excluded: $excluded"
