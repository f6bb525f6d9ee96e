#!/bin/sh
# mkinitramfs.sh - packs the HIL guest: busybox, modules, helpers, programs, pictures.
#
#   tools/hil/mkinitramfs.sh -o OUT.cpio.gz -k KERNEL_ENV -b HELPER_DIR -f FRAMES_DIR
#                            -t TESTS_DIR [-p FLAVOUR=BINARY]...
#
#   KERNEL_ENV   build/hil/kernel.env from build-kernel-bits.sh (MODDIR, KVER)
#   HELPER_DIR   gpio-watch, gpio-probe, v4l2-grab, v4l2-feed (build-helpers.sh)
#   FRAMES_DIR   the pictures the scenarios show (*.png, *.jpg, *.pgm)
#   TESTS_DIR    tests/hil: `init` becomes /init, every *.sh goes to /hil
#   -p           a program under test, e.g. bookworm=build/cccd-reader;
#                it lands at /hil/flavours/FLAVOUR/cccd-reader
#
# Guest layout:
#   /init, /bin/busybox (+ /bin/sh; the other applets are linked at boot),
#   /hil/modules/*.ko + load-order, /hil/bin/*, /hil/frames/*, /hil/*.sh,
#   /hil/flavours/*/{cccd-reader,bin/cccd-reader,lib/}, and every shared
#   library the programs need: system ones (and the dynamic loader) at the
#   path ldd finds them on this host, those from elsewhere - the trixie
#   flavour's libgpiod 2 and mbedtls 3, reached through an rpath into
#   build/trixie-libs/prefix - in the flavour's own lib/, which its wrapper
#   puts in LD_LIBRARY_PATH. Both flavours' libraries coexist.
set -eu

outfile="" kenv="" bindir="" frames="" tests="" programs=""
while getopts o:k:b:f:t:p: opt; do
  case $opt in
    o) outfile=$OPTARG ;;
    k) kenv=$OPTARG ;;
    b) bindir=$OPTARG ;;
    f) frames=$OPTARG ;;
    t) tests=$OPTARG ;;
    p) programs="$programs $OPTARG" ;;
    *) exit 2 ;;
  esac
done
[ -n "$outfile" ] && [ -n "$kenv" ] && [ -n "$bindir" ] && [ -n "$frames" ] && [ -n "$tests" ] ||
  { echo "usage: $0 -o OUT -k KERNEL_ENV -b HELPER_DIR -f FRAMES_DIR -t TESTS_DIR [-p FLAVOUR=BINARY]..." >&2; exit 2; }

die() { echo "mkinitramfs: $*" >&2; exit 1; }
# shellcheck disable=SC1090
. "$kenv"

root=$outfile.root
rm -rf "$root"
mkdir -p "$root"/bin "$root"/sbin "$root"/usr/bin "$root"/usr/sbin "$root"/proc "$root"/sys "$root"/dev \
  "$root"/tmp "$root"/run "$root"/etc "$root"/hil/bin "$root"/hil/modules "$root"/hil/frames "$root"/hil/flavours

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox is not installed (busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is not static (install busybox-static)"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"

# copy_with_libs FILE DEST [LIBDIR]: FILE to DEST in the guest, plus what
# ldd lists. Libraries from the system's directories keep their paths; any
# other (a local prefix such as build/trixie-libs/prefix/lib, reached through
# an rpath) goes to LIBDIR, which the program must then be run with in
# LD_LIBRARY_PATH: the checkout's path may not exist in the guest, or lie
# under a directory the guest mounts over (/tmp). Prints the number of
# libraries put in LIBDIR.
copy_with_libs() {
  mkdir -p "$root$(dirname "$2")"
  cp -L "$1" "$root$2"
  if ldd "$1" 2>&1 | grep -q 'not found'; then
    ldd "$1" >&2
    die "$1 needs libraries this host does not have"
  fi
  # "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)";
  # a static program makes ldd fail with "not a dynamic executable".
  libs=$(ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p') || true
  private=0
  for l in $libs; do
    case $(dirname "$l") in
      /lib/x86_64-linux-gnu | /usr/lib/x86_64-linux-gnu | /lib | /usr/lib | /lib64 | /usr/lib64) dest=$l ;;
      *)
        [ -n "${3:-}" ] || die "$1 needs $l from outside the system's library directories"
        dest=$3/$(basename "$l")
        private=$((private + 1))
        ;;
    esac
    [ -e "$root$dest" ] && continue
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$l" "$root$dest"
  done
  echo "$private"
}

# Modules.
cp "$MODDIR"/*.ko "$MODDIR/load-order" "$root/hil/modules/"

# Helpers (static, but copy_with_libs copes with a dynamic fallback too).
for h in gpio-watch gpio-probe v4l2-grab v4l2-feed; do
  [ -x "$bindir/$h" ] || die "$bindir/$h is missing (tools/hil/build-helpers.sh)"
  copy_with_libs "$bindir/$h" "/hil/bin/$h" >/dev/null
done

# Programs under test.
# /hil/flavours/NAME/cccd-reader is a wrapper that execs bin/cccd-reader
# (same process) with NAME's private libraries first in the search path.
for p in $programs; do
  name=${p%%=*} bin=${p#*=}
  [ -x "$bin" ] || die "$bin ($name) is missing"
  fdir=/hil/flavours/$name
  n=$(copy_with_libs "$bin" "$fdir/bin/cccd-reader" "$fdir/lib")
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/bin/cccd-reader "$@"\n' "$fdir" "$fdir" >"$root$fdir/cccd-reader"
  chmod 755 "$root$fdir/cccd-reader"
  echo "$name" >>"$root/hil/flavours/list"
  echo "mkinitramfs: $name: $bin, $n librar$([ "$n" = 1 ] && echo y || echo ies) of its own in $fdir/lib"
done

# ZBar's text mode converts through iconv, whose charsets glibc loads at run
# time: carry the ones ZBar asks for, as on the device.
gconv=$(ls -d /usr/lib/x86_64-linux-gnu/gconv 2>/dev/null || true)
if [ -n "$gconv" ]; then
  mkdir -p "$root$gconv"
  for f in gconv-modules gconv-modules.cache gconv-modules.d ISO8859-1.so SJIS.so BIG5.so UTF-16.so UTF-32.so \
           libJIS.so libGB.so libKSC.so; do
    [ -e "$gconv/$f" ] && cp -rL "$gconv/$f" "$root$gconv/"
  done
fi

# Pictures, test scripts, init.
for f in "$frames"/*; do
  case "$f" in *.png|*.jpg|*.pgm) cp "$f" "$root/hil/frames/" ;; esac
done
cp "$tests"/*.sh "$root/hil/"
cp "$tests/init" "$root/init"
chmod 755 "$root/init" "$root"/hil/*.sh
echo "KVER=$KVER" >"$root/hil/kernel.env"

# newc, owned by root, in a stable order; fast gzip (the guest unpacks it).
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$outfile.tmp"
mv "$outfile.tmp" "$outfile"
rm -rf "$root"
echo "mkinitramfs: $outfile ($(du -k "$outfile" | cut -f1) KiB)"
