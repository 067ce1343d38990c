#!/usr/bin/env bash
# Installs what mdbus needs to build and test on Debian 12, if anything is
# missing; with --suite also what tests/suite.sh needs beyond that (clang,
# its static analyser scan-build, cppcheck, iproute2 for make check-net,
# python3-nacl to make the NATS NKeys and JWTs of tests/nats/creds.sh and
# strace to count its opens of them, spin for the model check
# tests/model/wait.sh). Needs root (or sudo) only when something must be
# installed.
#   usage: tests/deps.sh [--suite]
set -eu
pkgs="build-essential autoconf automake libtool pkg-config git
      libev-dev libcmocka-dev libjson-c-dev
      python3-dev python3-numpy python3-pytest
      libnats-dev libssl-dev nats-server openssl"
case ${1:-} in
'') ;;
--suite) pkgs="$pkgs clang clang-tools cppcheck iproute2 python3-nacl spin strace" ;;
*) echo "usage: $0 [--suite]" >&2; exit 64 ;;
esac
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "mdbus: installing build dependencies:$missing" >&2
if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null; then
	sudo="sudo"
else
	echo "mdbus: please install as root: apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq $missing >/dev/null
