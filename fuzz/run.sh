#!/bin/sh
# Runs each harness `make fuzz` built in OUT for SECONDS on its seed
# corpus (`make fuzz-run`, FUZZ_SECONDS): fuzz/run.sh OUT SECONDS [NAME...]
# What a run finds new goes to OUT/corpus/NAME (kept for the next run),
# a crash's input to OUT/found/NAME-crash-*; exits 1 after the runs when any
# harness crashed, naming them. FUZZ_FLAGS: more libFuzzer flags.
set -u
out=$1 secs=$2
shift 2
failed=
for f in ${@:-"$out"/fuzz_*}; do
	h=${f##*/fuzz_}
	[ -x "$out/fuzz_$h" ] || continue
	mkdir -p "$out/corpus/$h" "$out/found"
	echo "  FUZZ     fuzz_$h, $secs s"
	"$out/fuzz_$h" "$out/corpus/$h" "$out/seeds/$h" \
		-max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix="$out/found/$h-" -print_final_stats=0 \
		${FUZZ_FLAGS:-} >"$out/fuzz_$h.log" 2>&1 ||
		{ tail -n 30 "$out/fuzz_$h.log"; failed="$failed $h"; }
done
if [ -n "$failed" ]; then
	echo "fuzz-run: crashed:$failed (inputs in $out/found, logs in $out/fuzz_*.log)" >&2
	exit 1
fi
