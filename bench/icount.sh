#!/bin/sh
# icount.sh - instructions per message (bench/icount.c under callgrind):
# libmdbus's publish and read against the bare ring's, 64-byte slots,
# 40-byte messages, libmdbus's publish in batches of 32, and its
# mdbus_sub_poll() with and without the handler that copies (skipped
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
$libtool --mode=execute valgrind --tool=callgrind \
	--callgrind-out-file="$out" "$prog" "$dir" 10 >"$dir/messages" 2>/dev/null || {
	echo "icount: $prog failed" >&2; exit 1; }
# inclusive instructions of each function, divided by the messages it
# handled (icount's output: a name and a count a line)
names='mdbus_pub_publish|mdbus_pub_publish_batch|mdbus_sub_read|mdbus_sub_poll|poll_copy|view_read|ring_publish|ring_read'
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk -v names="$names" '
	function cost(s) { gsub(",", "", s); return s + 0 }
	NR == FNR { m[$1] = $2; next }
	# the line of the function itself (its object named after it), not a call site
	# nor an inlined part
	$0 ~ ":(" names ") \\[" {
		for (f = 1; f <= NF; f++)
			if ($f ~ ":(" names ")$") {
				name = $f; sub(/.*:/, "", name); c[name] = cost($1)
			}
	}
	END {
		for (name in m) v[name] = c[name] / m[name]
		printf "== icount: instructions per message (callgrind, %d messages each; 40-byte messages)\n", m["mdbus_sub_read"]
		printf "publish  mdbus %5.1f  ring %5.1f  ratio %.2f\n", v["mdbus_pub_publish"], v["ring_publish"], v["mdbus_pub_publish"] / v["ring_publish"]
		printf "read     mdbus %5.1f  ring %5.1f  ratio %.2f\n", v["mdbus_sub_read"], v["ring_read"], v["mdbus_sub_read"] / v["ring_read"]
		printf "publish in batches of 32  mdbus %5.1f  (vs ring publish %.2f)\n", v["mdbus_pub_publish_batch"], v["mdbus_pub_publish_batch"] / v["ring_publish"]
		printf "poll (1024 a call, catching up)  mdbus %5.1f  (vs ring read %.2f), of which the handler that copies %.1f\n", v["mdbus_sub_poll"], v["mdbus_sub_poll"] / v["ring_read"], v["poll_copy"]
		printf "views (1024 a view, catching up, each copied)  mdbus %5.1f  (vs ring read %.2f)\n", v["view_read"], v["view_read"] / v["ring_read"]
	}' "$dir/messages" -
