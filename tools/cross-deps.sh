#!/bin/sh
# cross-deps.sh - installs what a cross build for the Raspberry Pi needs, once.
#
#   tools/cross-deps.sh ARCH build|test|deb [ZBAR_DIR]
#
# ARCH is a Debian architecture: arm64 (64-bit Pi OS) or armhf (32-bit Pi OS).
#   build  the cross compiler, the multiarch pkg-config wrapper and the
#          target's -dev packages
#   test   build + cmocka and libqrencode for the target, and qemu-user to
#          run its binaries
#   deb    the packaging tools (dpkg-dev for dpkg-shlibdeps, lintian)
#
# libzbar-dev is the one -dev package that cannot be installed for two
# architectures at once (it pulls libmagick++-dev, whose -dev packages are not
# Multi-Arch: same): installing libzbar-dev:arm64 REMOVES libzbar-dev:amd64
# and breaks the native build. So the target gets only the runtime library
# (libzbar0:ARCH, Multi-Arch: same), and the headers come from the target's
# libzbar-dev .deb, downloaded and unpacked (not installed) into ZBAR_DIR
# (default build/cross-deps/ARCH/zbar) with a zbar.pc and a libzbar.so link
# for the linker; mk/cross.mk puts ZBAR_DIR/pkgconfig on PKG_CONFIG_PATH.
#
# Called by `make cross`, `make test-cross` and `make deb` (mk/cross.mk,
# mk/deb.mk). Like tools/install-deps.sh, packages already present are left
# alone: a second run costs a few dpkg-query calls and no network.
set -eu

arch=${1:-arm64}
what=${2:-build}
host_arch=$(dpkg --print-architecture)

case "$arch" in
  arm64) triplet=aarch64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  "$host_arch") triplet="" ;;
  *) echo "cross-deps: unsupported ARCH '$arch' (arm64, armhf or $host_arch)" >&2; exit 2 ;;
esac

# The target's libraries: tools/install-deps.sh's build set, but libzbar0
# for libzbar-dev (see above).
# trixie renamed zbar's runtime package in the 64-bit time_t transition.
zbar_rt=libzbar0
grep -q '^VERSION_CODENAME=trixie' /etc/os-release 2>/dev/null && zbar_rt=libzbar0t64
target_dev="$zbar_rt libpng-dev libjpeg62-turbo-dev libutf8proc-dev libjansson-dev
 libgpiod-dev libsystemd-dev libmbedtls-dev
 libqrencode-dev"
target_test="libcmocka-dev"

pkgs=""
foreign=""
case "$what" in
  build|test)
    if [ -n "$triplet" ]; then
      foreign=$arch
      # The multiarch wrapper /usr/bin/$triplet-pkg-config (and its search
      # path for the target's .pc files) comes with pkgconf:$arch, not with
      # the native pkg-config: a machine without it used to fail here with
      # "$triplet-pkg-config: No such file or directory".
      pkgs="gcc-$triplet libc6-dev-$arch-cross pkg-config pkgconf:$arch dpkg-dev make file"
      for p in $target_dev; do pkgs="$pkgs $p:$arch"; done
      if [ "$what" = test ]; then
        for p in $target_test; do pkgs="$pkgs $p:$arch"; done
        pkgs="$pkgs qemu-user"
      fi
    else
      pkgs="gcc make pkg-config libzbar-dev $target_dev"
      [ "$what" = test ] && pkgs="$pkgs $target_test"
    fi
    ;;
  deb)
    pkgs="dpkg-dev lintian fakeroot file binutils"
    [ -n "$triplet" ] && pkgs="$pkgs binutils-$triplet"
    ;;
  *) echo "usage: $0 ARCH build|test|deb" >&2; exit 2 ;;
esac

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi

need_update=""
if [ -n "$foreign" ] && ! dpkg --print-foreign-architectures | grep -qx "$foreign"; then
  echo "cross-deps: dpkg --add-architecture $foreign"
  $sudo dpkg --add-architecture "$foreign"
  need_update=1
fi

missing=""
for p in $pkgs; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
if [ -n "$missing" ] || [ -n "$need_update" ]; then
  # A mirror caught mid-sync fails one index (seen here: bookworm-security's
  # armhf list); the main archive's packages still install, so go on and let
  # apt-get install name anything really missing.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q ||
    echo "cross-deps: warning: apt-get update reported errors; trying the install anyway" >&2
fi
if [ -n "$missing" ]; then
  echo "cross-deps: installing:$missing"
  # shellcheck disable=SC2086 # the list is split on purpose
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing
fi

# The zbar headers and pkg-config file for the target (see the top).
if [ -n "$triplet" ] && [ "$what" != deb ]; then
  zdir=${3:-build/cross-deps/$arch/zbar}
  if [ ! -f "$zdir/pkgconfig/zbar.pc" ]; then
    rm -rf "$zdir" && mkdir -p "$zdir/deb" "$zdir/lib" "$zdir/pkgconfig"
    zdir=$(cd "$zdir" && pwd)
    ver=$(dpkg-query -W -f='${Version}' "$zbar_rt:$arch")
    echo "cross-deps: unpacking libzbar-dev:$arch=$ver headers into $zdir"
    (cd "$zdir/deb" && apt-get download -q "libzbar-dev:$arch=$ver")
    dpkg-deb -x "$zdir"/deb/libzbar-dev_*.deb "$zdir/root"
    ln -s "$zdir/root/usr/include" "$zdir/include"
    ln -s "/usr/lib/$triplet/libzbar.so.0" "$zdir/lib/libzbar.so"
    cat >"$zdir/pkgconfig/zbar.pc.tmp" <<EOF
prefix=$zdir
Name: zbar
Description: bar code scanning and decoding (headers of libzbar-dev:$arch, library of libzbar0:$arch)
Version: ${ver%%-*}
Libs: -L\${prefix}/lib -lzbar
Cflags: -I\${prefix}/include
EOF
    mv "$zdir/pkgconfig/zbar.pc.tmp" "$zdir/pkgconfig/zbar.pc"
  fi
fi
