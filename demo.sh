#!/usr/bin/env bash
# Quick start, first command: installs missing build dependencies (Debian),
# builds mdbus in this tree, then runs mdpub on its built-in synthetic feed
# (channel "demo") and mdsub printing it live. Ends by itself after
# SECONDS (default 15) or on Ctrl-C.
#   usage: ./demo.sh [SECONDS]
set -eu
cd "$(dirname "$0")"
secs=${1:-15}
case $secs in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 64 ;; esac

bash tests/deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)" >/dev/null

# A private segment directory, so the demo never meets another mdpub.
MDBUS_DIR=$(mktemp -d /dev/shm/mdbus-demo.XXXXXX)
export MDBUS_DIR
./daemons/mdpub --duration "$secs" &
pub=$!
cleanup() {
	kill "$pub" 2>/dev/null || true
	wait "$pub" 2>/dev/null || true
	rm -rf "$MDBUS_DIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
for _ in $(seq 50); do
	[ -e "$MDBUS_DIR/mdbus.demo" ] && break
	sleep 0.1
done
./clients/mdsub demo --duration "$secs" --summary
