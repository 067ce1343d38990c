#!/bin/sh
# Builds the libFuzzer harnesses of fuzz/ (fuzz/README) into OUT; `make
# fuzz` runs it from the build directory, after configure (config.h):
#   fuzz/build.sh SRCDIR BUILDDIR OUT [NAME...]
# Each harness is compiled from its file and the project sources it tests
# (no copies). The environment gives CC (clang), FUZZ_CFLAGS (more
# flags: -DFUZZ_KNOWN_... to fuzz past a finding not fixed yet) and what
# configure found (JSONC_CFLAGS, JSONC_LIBS, LIBEV_LIBS, NATS_CFLAGS,
# NATS_LIBS, WITH_NATS). Exits 1, saying what to install, when CC cannot
# link a fuzzer.
set -eu
top=$1 build=$2 out=$3
shift 3
CC=${CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
INC="-I$build -I$top/lib -I$top/common -I$top/daemons -I$top/clients"
CFLAGS="-std=gnu11 -g -O1 -Wall -Wno-unused-parameter $SAN -DHAVE_CONFIG_H
	$INC ${JSONC_CFLAGS:-} ${NATS_CFLAGS:-} -DSYSCONFDIR=\"/etc\"
	${FUZZ_CFLAGS:-}"
L=$top/lib C=$top/common D=$top/daemons U=$top/clients
nats=${WITH_NATS:-no}

# The compiler and its libFuzzer runtime, tried on an empty harness.
probe() {
	p=$out/probe
	printf '%s\n' '#include <stddef.h>' \
		'int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n);' \
		'int LLVMFuzzerTestOneInput(const unsigned char *d, size_t n)' \
		'{ return 0; }' >"$p.c"
	if ! command -v "${CC%% *}" >/dev/null; then
		echo "make fuzz: no $CC: install clang (Debian 12: apt-get install clang libclang-rt-14-dev), or give FUZZ_CC" >&2
		exit 1
	fi
	if ! $CC -fsanitize=fuzzer,address,undefined -o "$p" "$p.c" \
		>"$p.log" 2>&1; then
		sed 's/^/  /' "$p.log" >&2
		echo "make fuzz: $CC cannot link -fsanitize=fuzzer: install its libFuzzer runtime (Debian 12: libclang-rt-14-dev, which clang-14 only recommends)" >&2
		exit 1
	fi
	rm -f "$p" "$p.c" "$p.log"
}

# One harness: its name, then the project sources and libraries it needs.
b() {
	name=fuzz_$1
	shift
	echo "  CC       fuzz/$name"
	$CC $CFLAGS -fsanitize=fuzzer -o "$out/$name" "$top/fuzz/$name.c" "$@"
}

# mdpub's objects (all but main()) and the library's, for fuzz_conf.
objs() {
	mkdir -p "$out/obj"
	for c in "$@"; do
		$CC $CFLAGS -fsanitize=fuzzer-no-link -c \
			-o "$out/obj/$(basename "$c" .c).o" "$c"
	done
}

conf() {
	rm -rf "$out/obj"
	if [ "$nats" = yes ]; then
		objs $(ls "$D"/*.c "$C"/*.c | grep -v '/mdpub\.c$') "$L"/*.c
	else
		objs $(ls "$D"/*.c "$C"/*.c |
			grep -v -e '/mdpub\.c$' -e '/src_nats\.c$' \
				-e '/nats_[a-z]*\.c$') "$L"/*.c
	fi
	b conf "$out"/obj/*.o ${LIBEV_LIBS:-} ${JSONC_LIBS:-} \
		${NATS_LIBS:-} -lpthread
}

mkdir -p "$out"
probe
for h in ${@:-moldudp64 udp_recv natswire nkey lines mdsub_csv settings \
	conf rec_read archive_names from_time}; do
	case $h in
	moldudp64) b $h "$C"/moldudp64.c ;;
	udp_recv) b $h "$D"/net.c "$C"/moldudp64.c "$C"/addr_allow.c \
		"$C"/local_port.c "$C"/parse_num.c ${LIBEV_LIBS:-} ;;
	natswire) b $h "$C"/natswire.c "$C"/parse_num.c ;;
	nkey) if [ "$nats" = yes ]; then
		b $h "$C"/nats_nkey.c ${NATS_LIBS:-}
	else
		echo "  SKIP     fuzz/fuzz_nkey: configured without NATS"
	fi ;;
	lines) b $h "$D"/lines_parse.c "$D"/lines_mdsub.c "$C"/parse_num.c \
		${JSONC_LIBS:-} ;;
	mdsub_csv) b $h "$U"/print.c "$U"/fmt.c "$C"/natswire.c \
		"$D"/lines_parse.c "$D"/lines_mdsub.c "$C"/parse_num.c \
		${JSONC_LIBS:-} ;;
	settings) b $h "$D"/settings.c "$C"/parse_num.c ;;
	conf) conf ;;
	rec_read) b $h "$L"/rec_read.c "$L"/error.c "$L"/names.c ;;
	archive_names) b $h "$L"/archive_files.c "$L"/error.c \
		"$L"/dir_trust.c ;;
	from_time) b $h "$U"/from_time.c ;;
	*) echo "fuzz/build.sh: no harness $h" >&2; exit 64 ;;
	esac
done
