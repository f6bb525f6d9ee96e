#!/bin/sh
# install-deps.sh - installs the Debian packages a target needs, once.
#
#   tools/install-deps.sh build|test|all
#
# Called by `make demo` and `make test` so that a fresh Debian 12 or Raspberry
# Pi OS machine needs nothing but git and make. Packages already present are
# not touched, so a second run costs one dpkg-query and no network.
set -eu

build_pkgs="gcc make pkg-config libzbar-dev libpng-dev libjpeg62-turbo-dev
 libutf8proc-dev libjansson-dev libqrencode-dev libgpiod-dev libinih-dev libsystemd-dev
 libmbedtls-dev openssl"
# clang and its runtime carry libFuzzer; valgrind checks the long-running loop.
test_pkgs="$build_pkgs libcmocka-dev clang libclang-rt-14-dev valgrind"

case "${1:-all}" in
  build) pkgs=$build_pkgs ;;
  test|all) pkgs=$test_pkgs ;;
  *) echo "usage: $0 build|test|all" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing:$missing"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # the list is split on purpose
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
