#!/bin/sh
# build-trixie-libs.sh - builds Debian trixie's libgpiod 2.2 and mbedtls 3.6
# into DIR/prefix, so the "trixie" flavour (make FLAVOR=trixie) can be built
# and tested on a Debian 12 machine beside the bookworm one.
#
#   tools/build-trixie-libs.sh DIR        (make trixie-libs: DIR=build/trixie-libs)
#
# Sources come from trixie's source packages through a private apt source list,
# so the system's apt setup is left alone. Result: DIR/prefix/{include,lib} and
# pkg-config files in DIR/prefix/lib/pkgconfig (mbedtls ships none for `make`
# builds, so this script writes them). A second run with DIR/prefix/.done in
# place and the same version series does nothing and needs no network.
set -eu

GPIOD_SERIES=2.2
MBEDTLS_SERIES=3.6
# Bump when the build steps below change, so existing prefixes are rebuilt.
RECIPE=2
# Build tools only: the sources are release tarballs (configure and the
# generated mbedtls files are inside), so no autotools are needed; python3 runs
# mbedtls's scripts/config.py, patch applies Debian's patches.
BUILD_PKGS="gcc make pkg-config xz-utils bzip2 patch python3 debian-archive-keyring"

say() { echo "build-trixie-libs: $*"; }
die() { echo "build-trixie-libs: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1" || die "cannot create $1"
DIR=$(cd "$1" && pwd)
PREFIX=$DIR/prefix
SRC=$DIR/src
JOBS=$(nproc 2>/dev/null || echo 2)

# ---- already built? --------------------------------------------------------
# .done holds "libgpiod X.Y.Z", "mbedtls X.Y.Z" and "recipe N": skip when the
# series and the recipe match.
series_of() { # series_of NAME -> "X.Y" from .done, or nothing
  sed -n "s/^$1 \([0-9]*\.[0-9]*\).*/\1/p" "$PREFIX/.done" 2>/dev/null
}
if [ -f "$PREFIX/.done" ] && [ "$(series_of libgpiod)" = "$GPIOD_SERIES" ] &&
   [ "$(series_of mbedtls)" = "$MBEDTLS_SERIES" ] &&
   grep -qx "recipe $RECIPE" "$PREFIX/.done"; then
  say "up to date in $PREFIX ($(tr '\n' ' ' <"$PREFIX/.done"))"
  exit 0
fi

# ---- build packages, only if missing (like tools/install-deps.sh) -----------
missing=""
for p in $BUILD_PKGS; do
  case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  say "installing:$missing"
  # Lock::Timeout: wait for another apt run (a parallel `make deps`) to finish.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
  # shellcheck disable=SC2086 # the list is split on purpose
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends $missing
fi

# ---- fetch trixie's sources through a private source list -------------------
rm -rf "$SRC" "$PREFIX"
mkdir -p "$SRC" "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial"
LIST=$DIR/apt/sources.list
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$LIST"
# Private lists and cache: the system's apt state is neither read nor written,
# so this part needs no root.
APT="apt-get -q -o Dir::Etc::SourceList=$LIST -o Dir::Etc::SourceParts=/dev/null"
APT="$APT -o Dir::State::Lists=$DIR/apt/lists -o Dir::Cache=$DIR/apt/cache"
say "fetching trixie's source index"
$APT update >"$DIR/apt/update.log" 2>&1 || { cat "$DIR/apt/update.log" >&2; die "apt-get update of the trixie source list failed (network?)"; }
say "downloading the mbedtls and libgpiod source packages"
# libgpiod's .dsc may 404 while its .orig tarball arrives: judge by the tarballs.
(cd "$SRC" && $APT source --download-only mbedtls libgpiod) >"$SRC/download.log" 2>&1 || true

orig() { # orig NAME SERIES -> path of NAME_SERIES.*.orig.tar.*
  for f in "$SRC/$1_$2".*.orig.tar.*; do
    case "$f" in *.asc) continue ;; esac
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  cat "$SRC/download.log" >&2
  die "no $1 $2.x source tarball arrived in $SRC (trixie may have moved on: update ${1}'s series in $0)"
}
gpiod_tar=$(orig libgpiod "$GPIOD_SERIES")
mbedtls_tar=$(orig mbedtls "$MBEDTLS_SERIES")
gpiod_ver=$(basename "$gpiod_tar" | sed 's/^libgpiod_\(.*\)\.orig\.tar\..*/\1/')
mbedtls_ver=$(basename "$mbedtls_tar" | sed 's/^mbedtls_\(.*\)\.orig\.tar\..*/\1/')

# unpack NAME TARBALL DEST: the tarball's single top folder becomes DEST, then
# Debian's patches (debian/patches/series) go on top, as dpkg-source would do.
unpack() {
  mkdir -p "$3"
  tar -xf "$2" -C "$3" --strip-components=1 || die "cannot unpack $2"
  for deb in "$SRC/$1"_*.debian.tar.*; do
    [ -f "$deb" ] || continue
    tar -xf "$deb" -C "$3" || die "cannot unpack $deb"
    [ -f "$3/debian/patches/series" ] || continue
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$3/debian/patches/series" | while read -r patch _; do
      patch -d "$3" -p1 -s <"$3/debian/patches/$patch" || die "Debian patch $patch does not apply to $1"
    done
  done
}

# ---- libgpiod: autotools release tarball, library only ----------------------
say "building libgpiod $gpiod_ver"
unpack libgpiod "$gpiod_tar" "$SRC/libgpiod"
[ -x "$SRC/libgpiod/configure" ] || die "libgpiod $gpiod_ver has no configure script (not a release tarball?)"
# Chained with &&: set -e does not act inside a subshell followed by ||.
(
  cd "$SRC/libgpiod" &&
  ./configure --prefix="$PREFIX" --enable-tools=no --enable-bindings-cxx=no \
    --enable-bindings-python=no --enable-tests=no &&
  make -j"$JOBS" &&
  make install
) >"$SRC/libgpiod.log" 2>&1 || { tail -n 40 "$SRC/libgpiod.log" >&2; die "libgpiod build failed (log: $SRC/libgpiod.log)"; }

# ---- mbedtls: plain `make lib`, then install by hand with pkg-config files --
say "building mbedtls $mbedtls_ver"
unpack mbedtls "$mbedtls_tar" "$SRC/mbedtls"
(
  cd "$SRC/mbedtls" || exit 1
  # The same configuration as Debian's package (debian/rules): threading on,
  # deprecated API calls warn (so -Werror catches them in our code), CMAC, SRTP.
  for opt in MBEDTLS_DEPRECATED_WARNING MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD \
             MBEDTLS_CMAC_C MBEDTLS_SSL_DTLS_SRTP; do
    python3 scripts/config.py set "$opt" || exit 1
  done
  # -fPIC: the static archives may end up in PIE executables or shared objects.
  make -j"$JOBS" lib CFLAGS="-O2 -g -fPIC"
) >"$SRC/mbedtls.log" 2>&1 || { tail -n 40 "$SRC/mbedtls.log" >&2; die "mbedtls build failed (log: $SRC/mbedtls.log)"; }
mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
cp -R "$SRC/mbedtls/include/mbedtls" "$SRC/mbedtls/include/psa" "$PREFIX/include/"
cp "$SRC/mbedtls/library"/libmbed*.a "$PREFIX/lib/"

# Static archives only, so each file lists the libraries it needs, in link order.
write_pc() { # write_pc NAME DESCRIPTION LIBS
  cat >"$PREFIX/lib/pkgconfig/$1.pc" <<EOF
prefix=$PREFIX
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: $1
Description: $2 (Debian trixie's mbedtls, built by tools/build-trixie-libs.sh)
Version: $mbedtls_ver
Cflags: -I\${includedir}
Libs: -L\${libdir} $3
EOF
}
write_pc mbedcrypto "Mbed TLS crypto library" "-lmbedcrypto"
write_pc mbedx509 "Mbed TLS X.509 library" "-lmbedx509 -lmbedcrypto"
write_pc mbedtls "Mbed TLS library" "-lmbedtls -lmbedx509 -lmbedcrypto"

# ---- check and record --------------------------------------------------------
got=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --modversion libgpiod mbedtls | tr '\n' ' ')
[ "$got" = "$gpiod_ver $mbedtls_ver " ] ||
  die "pkg-config finds libgpiod mbedtls = $got, not $gpiod_ver $mbedtls_ver: see $PREFIX/lib/pkgconfig"
say "pkg-config sees: libgpiod $gpiod_ver, mbedtls $mbedtls_ver"
printf 'libgpiod %s\nmbedtls %s\nrecipe %s\n' "$gpiod_ver" "$mbedtls_ver" "$RECIPE" >"$PREFIX/.done"
say "done: libgpiod $gpiod_ver and mbedtls $mbedtls_ver in $PREFIX"
