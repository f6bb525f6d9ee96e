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
 libutf8proc-dev libjansson-dev libqrencode-dev libgpiod-dev libsystemd-dev
 libmbedtls-dev openssl"
# clang and its runtime carry libFuzzer; valgrind checks the long-running loop;
# nginx-light is the hospitals' TLS terminator in tests/uplink_nginx_test.sh
# (run there with its own config on a loopback port, never as a service).
# mount and util-linux (setpriv): the disk-fault test mounts a small tmpfs and
# runs the terminal as another user.
# clang's runtime package is named by its version: 14 on bookworm, 19 on trixie.
clang_rt=libclang-rt-14-dev
grep -q '^VERSION_CODENAME=trixie' /etc/os-release 2>/dev/null && clang_rt=libclang-rt-19-dev
test_pkgs="$build_pkgs libcmocka-dev clang $clang_rt valgrind nginx-light mount util-linux"

case "${1:-all}" in
  build) pkgs=$build_pkgs ;;
  test|all) pkgs=$test_pkgs ;;
  *) echo "usage: $0 build|test|all" >&2; exit 2 ;;
esac

# With foreign architectures added (cross builds), a name can match several
# packages: only the native (or arch-independent) one counts here.
arch=$(dpkg --print-architecture)
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Architecture} ${Status}\n' "$p" 2>/dev/null |
       grep -Eq "^($arch|all) install ok installed$"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "install-deps: installing:$missing"
# Wait for another apt run (unattended upgrades, a parallel build) rather than fail.
# A mirror mid-sync can fail one index (seen for a foreign architecture):
# the packages may still install from the lists we have, so go on.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q ||
  echo "install-deps: apt-get update reported errors; trying the install anyway" >&2
# nginx's package starts its default site (port 80) when it is installed and
# enables it at boot: the tests only run nginx with a config of their own. So
# while it installs, a policy-rc.d (the Debian way: exit 101, "denied") stops
# the service starting, where the machine has none already (CI's has one),
# and a fresh install's boot start is switched off again. No systemd needed.
policy=""
case " $missing " in
  *" nginx-light "*)
    if [ ! -e /usr/sbin/policy-rc.d ] && ! dpkg-query -W -f='${Status}\n' nginx 2>/dev/null | grep -q 'ok installed'; then
      policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\n# install-deps.sh: no service starts while the test packages install\nexit 101\n' |
        $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy"
      trap '$sudo rm -f "$policy"' EXIT
    fi ;;
esac
# shellcheck disable=SC2086 # the list is split on purpose
$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
  --no-install-recommends $missing
if [ -n "$policy" ]; then
  $sudo rm -f "$policy"
  trap - EXIT
  if command -v deb-systemd-helper >/dev/null 2>&1; then $sudo deb-systemd-helper disable nginx.service || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then $sudo update-rc.d nginx disable >/dev/null 2>&1 || true; fi
fi
