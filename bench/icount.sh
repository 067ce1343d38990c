#!/bin/sh
# icount.sh - instructions per message (bench/icount.c under callgrind):
# libmdbus's publish and read against the bare ring's, 64-byte slots,
# 40-byte messages, and libmdbus's publish in batches of 32 (skipped
# without valgrind); then the same in time,
# best burst of ICOUNT_TIME_BURSTS (icount --time), 40 and 37 bytes.
# Usage: icount.sh LIBTOOL ICOUNT_PROGRAM (libtool runs the uninstalled
# program itself under valgrind, not its wrapper script)
set -u
libtool=$1 prog=$2
dir=$(mktemp -d /dev/shm/mdbench-icount.XXXXXX) || exit 1
out=$dir/callgrind.out
trap 'rm -rf "$dir"' EXIT
"$prog" --time "$dir" "${ICOUNT_TIME_BURSTS:-200}" || exit 1
command -v valgrind >/dev/null 2>&1 && command -v callgrind_annotate >/dev/null 2>&1 || {
	echo "== icount: skipped (no valgrind)"; exit 0; }
n=$($libtool --mode=execute valgrind --tool=callgrind \
	--callgrind-out-file="$out" "$prog" "$dir" 10 2>/dev/null) || {
	echo "icount: $prog failed" >&2; exit 1; }
# inclusive instructions of each function, divided by its calls
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk -v n="$n" '
	function cost(s) { gsub(",", "", s); return s + 0 }
	$NF ~ /:(mdbus_pub_publish|mdbus_pub_publish_batch|mdbus_sub_read|ring_publish|ring_read) / ||
	$0 ~ /:(mdbus_pub_publish|mdbus_pub_publish_batch|mdbus_sub_read|ring_publish|ring_read) \[/ {
		for (f = 1; f <= NF; f++)
			if ($f ~ /:(mdbus_pub_publish|mdbus_pub_publish_batch|mdbus_sub_read|ring_publish|ring_read)$/) {
				name = $f; sub(/.*:/, "", name); v[name] = cost($1) / n
			}
	}
	END {
		printf "== icount: instructions per message (callgrind, %d calls each; 40-byte messages)\n", n
		printf "publish  mdbus %5.1f  ring %5.1f  ratio %.2f\n", v["mdbus_pub_publish"], v["ring_publish"], v["mdbus_pub_publish"] / v["ring_publish"]
		printf "read     mdbus %5.1f  ring %5.1f  ratio %.2f\n", v["mdbus_sub_read"], v["ring_read"], v["mdbus_sub_read"] / v["ring_read"]
		printf "publish in batches of 32  mdbus %5.1f  (vs ring publish %.2f)\n", v["mdbus_pub_publish_batch"], v["mdbus_pub_publish_batch"] / v["ring_publish"]
	}'
