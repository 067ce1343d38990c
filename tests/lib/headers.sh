#!/bin/sh
# Every installed public header compiles on its own, warning-free: the C
# headers (lib/mdbus.h, mdbus_msg.h, mdbus_rec.h) as C11 with gcc and
# clang and as C++17 with g++ and clang++, lib/mdbus.hpp as C++17, each
# also after the usual system headers (a clash of names shows there)
# and all of them together. Skips (77) only when clang is not installed,
# after the gcc checks passed (tests/deps.sh --suite installs it).
set -eu
: "${top_srcdir:?top_srcdir is not set (run through make check)}"
lib=$top_srcdir/lib
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags="-std=c11 -Wall -Wextra -Wpedantic -Wshadow -Werror"
cxxflags="-std=c++17 -Wall -Wextra -Wshadow -Wpedantic -Werror"
sys="#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>"
fails=0

# compile COMPILER LANG FLAGS NAME SOURCE-TEXT
compile() {
	printf '%s\n' "$5" >"$tmp/$4"
	if ! $1 -x "$2" $3 -I"$lib" -c "$tmp/$4" -o "$tmp/out.o" 2>"$tmp/err"; then
		echo "FAIL: $1 $3: $4:"
		sed 's/^/  /' "$tmp/err"
		fails=$((fails + 1))
	fi
}

# check CC CXX: every header with this pair of compilers
check() {
	for h in mdbus.h mdbus_msg.h mdbus_rec.h; do
		compile "$1" c "$cflags" "$h.c" "#include <$h>"
		compile "$1" c "$cflags" "sys-$h.c" "$sys
#include <$h>"
		compile "$2" c++ "$cxxflags" "$h.cpp" "#include <$h>"
	done
	compile "$2" c++ "$cxxflags" mdbus.hpp.cpp "#include <mdbus.hpp>"
	compile "$2" c++ "$cxxflags" all.cpp "$sys
#include <mdbus.hpp>
#include <mdbus_rec.h>"
	compile "$1" c "$cflags" all.c "$sys
#include <mdbus_rec.h>
#include <mdbus_msg.h>
#include <mdbus.h>"
}

check gcc g++
if command -v clang >/dev/null && command -v clang++ >/dev/null; then
	check clang clang++
	clang=yes
else
	clang=no
fi
[ "$fails" = 0 ] || { echo "$fails header compilations failed"; exit 1; }
[ "$clang" = yes ] || { echo "SKIP: clang/clang++ not installed (gcc and g++ passed)"; exit 77; }
exit 0
