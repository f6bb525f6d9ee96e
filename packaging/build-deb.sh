#!/bin/sh
# build-deb.sh - assembles the cccd-reader .deb from a built binary.
#
#   packaging/build-deb.sh ARCH BINARY VERSION OUTDIR
#
# Called by `make deb` (mk/deb.mk) after it built BINARY for ARCH (natively,
# or with the cross toolchain for arm64/armhf). Writes
# OUTDIR/cccd-reader_VERSION_ARCH.deb and prints its path. Uses dpkg-deb
# directly (no debian/ source package): the tree is staged under
# OUTDIR/ARCH/root, Depends is computed by dpkg-shlibdeps from the target's
# installed library packages (for a cross build, the :arm64/:armhf -dev
# packages' runtime libraries, which multiarch installed with their symbols
# files), and files are owned by root (dpkg-deb --root-owner-group).
set -eu

arch=$1
binary=$2
version=$3
mkdir -p "$4"
out=$(cd "$4" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

host_arch=$(dpkg --print-architecture)
# Set DEB_MAINTAINER to the team's real address (packaging/changelog too).
maintainer=${DEB_MAINTAINER:-cccd-reader maintainers <cccd-reader-maintainers@example.org>}
case "$arch" in
  "$host_arch") strip="strip" ;;
  arm64) strip=aarch64-linux-gnu-strip ;;
  armhf) strip=arm-linux-gnueabihf-strip ;;
  *) echo "build-deb: unsupported ARCH $arch" >&2; exit 2 ;;
esac

# Reproducible: every date is the last commit's (or SOURCE_DATE_EPOCH).
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$out/$arch
root=$work/root
rm -rf "$work"
mkdir -p "$root/DEBIAN"

inst() { # inst MODE SRC DEST
  install -D -m "$1" "$2" "$root/$3"
}
gz() { # gz SRC DEST: gzip -9n, as dh_compress
  mkdir -p "$(dirname "$root/$2")"
  gzip -9nc "$1" >"$root/$2"
  chmod 0644 "$root/$2"
}

inst 0755 "$binary" usr/bin/cccd-reader
"$strip" --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/cccd-reader"
# Units and rules in /usr/lib on trixie (merged /usr: lintian refuses /lib
# there), in /lib on bookworm, as each release's debhelper puts them.
libdir=lib
grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null || libdir=usr/lib
inst 0644 "$here/cccd-reader.service" $libdir/systemd/system/cccd-reader.service
inst 0644 "$top/board/cccd-reader.conf" etc/cccd-reader/cccd-reader.conf
inst 0644 "$here/cccd-reader.sysusers" usr/lib/sysusers.d/cccd-reader.conf
inst 0644 "$here/cccd-reader.tmpfiles" usr/lib/tmpfiles.d/cccd-reader.conf
inst 0644 "$here/cccd-reader-gpio.rules" $libdir/udev/rules.d/60-cccd-reader-gpio.rules
gz "$here/cccd-reader.1" usr/share/man/man1/cccd-reader.1.gz
inst 0644 "$here/copyright" usr/share/doc/cccd-reader/copyright
gz "$here/changelog" usr/share/doc/cccd-reader/changelog.gz
inst 0644 "$top/README.md" usr/share/doc/cccd-reader/README.md
inst 0644 "$here/lintian-overrides" usr/share/lintian/overrides/cccd-reader
[ -f "$top/docs/packaging.md" ] && inst 0644 "$top/docs/packaging.md" usr/share/doc/cccd-reader/packaging.md

# Depends: from the ELF's NEEDED entries and the libraries' symbols files.
# dpkg-shlibdeps wants a debian/control; DEB_HOST_ARCH makes it read the
# target architecture's packages (libzbar0:arm64 ...) and use its objdump.
shl=$work/shlibdeps
mkdir -p "$shl/debian"
printf 'Source: cccd-reader\n\nPackage: cccd-reader\nArchitecture: any\n' >"$shl/debian/control"
depends=$(cd "$shl" && DEB_HOST_ARCH=$arch dpkg-shlibdeps -O -e"$root/usr/bin/cccd-reader" 2>"$work/shlibdeps.log" |
  sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.log" >&2; exit 1; }
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; cat "$work/shlibdeps.log" >&2; exit 1; }
# systemd-sysusers and systemd-tmpfiles run in postinst.
depends="$depends, systemd"

for s in postinst prerm postrm; do
  install -m 0755 "$here/$s" "$root/DEBIAN/$s"
done
echo /etc/cccd-reader/cccd-reader.conf >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: cccd-reader
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: misc
Priority: optional
Description: hospital check-in terminal reading Vietnamese ID-card QR codes
 Runs on a Raspberry Pi with a camera: reads the QR code of a Vietnamese
 citizen ID card (CCCD 2021, the 2024 card, or the card shown in VNeID),
 verifies the payload, signals the desk through GPIO lights and a buzzer,
 and delivers each check-in to the hospital's service over TLS through a
 durable on-disk queue.
 .
 The package installs the program, a hardened systemd service running as
 the system user cccd-reader (groups video and gpio), the documented
 default configuration in /etc/cccd-reader and the state directory
 /var/lib/cccd-reader.
EOF

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
  xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=$out/cccd-reader_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
