#!/usr/bin/env bash
# The whole test suite, from any checkout: installs missing build and
# analysis dependencies (Debian), copies the sources to _build/src, builds
# these variants out of tree, each with --enable-werror, and runs
# `make check` in each:
#   plain    gcc, every test (static- and dynamic-link variants)
#   clang    clang and clang++, every test
#   address  ASan + UBSan, every test
#   thread   TSan, the threaded tests
# and once, after plain, `make check-net` there: the long tests across
# hosts (each skips saying why when what it needs is missing);
# then the static analysers on lib/, daemons/, clients/ (and bench/ for
# scan-build, which runs in the background from the start at the lowest
# CPU priority), each counting as one test:
#   scan-build  clang's analyser over a whole build, must find no bug
#   cppcheck    warning, portability and performance checks, no finding
# then `make distcheck` (one test): the tarball holds every file git
# tracks (its distcheck-hook, tests/dist_files.sh, with the list of this
# checkout), builds every program and test program from it, runs the
# smoke tests below in it (the whole suite ran above), installs and
# uninstalls cleanly; then (one test) the plain build configured again
# for another prefix and installed there runs from there. Ends with one
# line "N passed, N failed" counting test programs over all variants.
#   usage: tests/suite.sh [--no-sanitizers] [--no-analysis] [--no-distcheck]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
sanitizers=1
analysis=1
distcheck=1
for a in "$@"; do
	case $a in
	--no-sanitizers) sanitizers=0 ;;
	--no-analysis) analysis=0 ;;
	--no-distcheck) distcheck=0 ;;
	*) echo "usage: $0 [--no-sanitizers] [--no-analysis] [--no-distcheck]" >&2; exit 64 ;;
	esac
done
jobs=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0 skipped=0

bash "$top/tests/deps.sh" --suite || exit 1

build=$top/_build
rm -rf "$build"
mkdir -p "$build/src"
cd "$top" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$build/src"
	git ls-files >"$build/tracked" # what the tarball must hold (distcheck)
	DIST_TRACKED=$build/tracked
	export DIST_TRACKED
else
	tar --exclude=./_build -cf - . | tar -xf - -C "$build/src"
fi
(cd "$build/src" && autoreconf -fi >"$build/autoreconf.log" 2>&1) ||
	{ cat "$build/autoreconf.log"; echo "0 passed, 1 failed"; exit 1; }

failures() { # failures VARIANT LOG: names each failed test and shows the end of its log
	local t
	grep -lE '^(FAIL|ERROR|XPASS) ' -r --include='*.log' "$build/$1/tests" 2>/dev/null |
		grep -v '/test-suite\.log$' | head -5 | while read -r t; do
		echo "== $1: ${t#"$build/$1/tests/"}, its last lines:"
		tail -25 "$t" | sed "s/^/== $1:   /"
	done
	grep -hE '^(FAIL|ERROR|XPASS):' "$2" | head -20
}

count() { # count VARIANT [LOG]: add the results of its test-suite.log
	local log=${2:-$build/$1/tests/test-suite.log} p=0 f=0 s=0
	if [ -f "$log" ]; then
		p=$(sed -n 's/^# PASS: *//p' "$log")
		f=$(( $(sed -n 's/^# FAIL: *//p' "$log") + $(sed -n 's/^# ERROR: *//p' "$log") + $(sed -n 's/^# XPASS: *//p' "$log") ))
		s=$(sed -n 's/^# SKIP: *//p' "$log")
	else
		f=1
	fi
	echo "== $1: $p passed, $f failed, $s skipped"
	[ "$f" -gt 0 ] && [ -f "$log" ] && failures "$1" "$log"
	[ "$s" -gt 0 ] && [ -f "$log" ] && grep -h '^SKIP: ' "$log" | sort -u | sed "s/^/== $1: /"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

variant() { # variant NAME CONFIGURE-ARGS...
	local name=$1; shift
	mkdir -p "$build/$name"
	echo "== $name: configure $*"
	if ! (cd "$build/$name" && "$build/src/configure" -q --enable-werror "$@" >configure.out 2>&1 &&
	      make -j"$jobs" >build.out 2>&1); then
		tail -40 "$build/$name/configure.out" "$build/$name/build.out" 2>/dev/null
		echo "== $name: build failed"
		failed=$((failed + 1))
		return
	fi
	(cd "$build/$name" && make -j"$jobs" check >check.out 2>&1)
	count "$name"
}

one() { # one NAME LOG: counts the command that follows as one test
	local name=$1 log=$2; shift 2
	echo "== $name"
	"$@" >"$log" 2>&1
	verdict "$name" "$log" $?
}

verdict() { # verdict NAME LOG STATUS: one test, passed when STATUS is 0
	if [ "$3" = 0 ]; then
		passed=$((passed + 1))
	else
		grep -E '(warning|error):' "$2" | head -20
		tail -20 "$2"
		echo "== $1: failed"
		failed=$((failed + 1))
	fi
}

scan_build() ( # clang's static analyser over a whole build: no bug
	mkdir -p "$build/scan" && cd "$build/scan" &&
		scan-build -o report "$build/src/configure" -q --enable-werror &&
		scan-build --status-bugs -o report make -j"$jobs"
)

cppcheck_sources() ( # no finding at these settings
	cd "$build/src" &&
		cppcheck -q --std=c11 --enable=warning,portability,performance \
			--error-exitcode=1 --inline-suppr -j"$jobs" -D_GNU_SOURCE \
			-I lib -I common lib common daemons clients
)

# The plain build, already made for the default prefix, configured again
# for another one (as after ./demo.sh) and installed there: what it
# installed runs from there, and pkg-config names it.
install_elsewhere() (
	inst=$build/inst
	cd "$build/plain" &&
		"$build/src/configure" -q --enable-werror --prefix="$inst" &&
		make -j"$jobs" >/dev/null && make install >/dev/null &&
		"$inst/bin/mdsub" --version && "$inst/sbin/mdpub" --version &&
		PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --libs mdbus |
			grep -qF -- "-L$inst/lib " || return 1
	init=$(find "$inst" -path '*/mdbus/__init__.py' | head -n 1)
	py=$(sed -n 's/^PYTHON = //p' Makefile) # the one configure found
	[ -z "$init" ] || (cd / && PYTHONPATH=${init%/mdbus/__init__.py} \
		"$py" -c 'import mdbus, sys; sys.exit(mdbus.__file__[:len(sys.argv[1])] != sys.argv[1])' "$inst")
)

# The tests make distcheck runs in the tarball's build: a quick one or
# two of each test directory (python/run.sh, the longest, first); that
# the tarball holds every file the others need, its distcheck-hook
# checks, and the variants above ran them all.
smoke='python/run.sh model/wait.sh lib/t_unit lib/example.sh lib/headers.sh
	common/t_parse_num mdpub/config.sh mdsub/formats.sh nats/core.sh'

dist_check() { # dist_check LOG: make distcheck, its make check running $smoke
	local n
	n=$(echo $smoke | wc -w)
	make -C "$build/plain" -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
		TESTS="$(echo $smoke)" || return 1
	grep -q "^# TOTAL: $n\$" "$1" ||
		{ echo "distcheck did not run the $n smoke tests: $(grep '^# TOTAL:' "$1")"; return 1; }
}

net() { # the long tests across hosts, once (make check-net in the plain build)
	echo "== net: make check-net"
	(cd "$build/plain" && make check-net >check-net.out 2>&1)
	count plain "$build/plain/tests/test-suite-net.log"
}

if [ "$analysis" = 1 ]; then
	# scan-build runs from here on in the background at the lowest CPU
	# priority, reported below in its place: the builds take precedence,
	# and the make checks leave most of the 2 cores idle (their tests wait
	# on timers and feeds)
	(renice -n 19 -p "$BASHPID" >/dev/null 2>&1; scan_build) >"$build/scan-build.out" 2>&1 &
	scan_pid=$!
fi
variant plain
net
variant clang CC=clang CXX=clang++
if [ "$sanitizers" = 1 ]; then
	variant address --enable-sanitizer=address
	variant thread --enable-sanitizer=thread
fi
if [ "$analysis" = 1 ]; then
	echo "== scan-build"
	wait "$scan_pid"
	verdict scan-build "$build/scan-build.out" $?
	one cppcheck "$build/cppcheck.out" cppcheck_sources
fi
if [ "$distcheck" = 1 ]; then
	one distcheck "$build/plain/distcheck.out" dist_check "$build/plain/distcheck.out"
	grep -h '^SKIP: ' "$build/plain/distcheck.out" | sed 's/^/== distcheck: /'
	one reprefix "$build/reprefix.out" install_elsewhere
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
