#!/usr/bin/env bash
# Installs what mdbus needs to build and test on Debian 12, if anything is
# missing. Needs root (or sudo) only when something must be installed.
set -eu
pkgs="build-essential autoconf automake libtool pkg-config git
      libev-dev libinih-dev libcmocka-dev libjson-c-dev"
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
