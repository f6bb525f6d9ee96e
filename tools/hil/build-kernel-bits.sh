#!/bin/sh
# build-kernel-bits.sh - the kernel, modules and tools the HIL guest needs.
#
#   tools/hil/build-kernel-bits.sh [OUTDIR]      (default build/hil)
#
# Installs, only when missing (apt-get; sudo when not root): qemu-system-x86,
# busybox-static, cpio, xz-utils, linux-image-amd64, the matching
# linux-headers-<ver>-amd64 and linux-source-<major.minor>. The guest runs
# Debian's own kernel, whose version comes from the installed
# linux-image-amd64 package (never from `uname -r`: the build host may run
# another kernel; HIL_KVER=<ver> overrides).
#
# Builds against that kernel's headers:
#   gpio-sim.ko      Debian does not enable CONFIG_GPIO_SIM (nor IRQ_SIM).
#                    drivers/gpio/gpio-sim.c + drivers/gpio/gpiolib.h +
#                    kernel/irq/irq_sim.c from linux-source, linked into one
#                    module; irq_sim.c loses its EXPORT_SYMBOL_GPLs and its
#                    handle_simple_irq(irq_to_desc(n)) (irq_to_desc is not
#                    exported to modules) becomes generic_handle_irq(n).
#   v4l2loopback.ko  from the v4l2loopback-dkms package's source, unpacked
#                    here with apt-get download + dpkg -x (no DKMS, no install).
# and copies from /lib/modules/<ver> the modules those two depend on
# (modinfo -F depends, recursively: configfs, videodev, mc), decompressed if
# the package ships them compressed.
#
# Writes OUTDIR/kernel/<ver>/modules/*.ko, OUTDIR/kernel/<ver>/modules/load-order
# (insmod order) and OUTDIR/kernel.env (KVER=, VMLINUZ=, MODDIR=).
# Everything is cached: a second run with nothing changed only checks.
set -eu

out=${1:-build/hil}
script_dir=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { echo "build-kernel-bits: $*"; }
die() { echo "build-kernel-bits: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
apt_updated=""
apt() {
  # A dpkg lock held by a concurrent install (another make target) is waited for.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@"
}
installed() {
  case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" in
    *" installed") return 0 ;;
    *) return 1 ;;
  esac
}
# ensure PKG[=VERSION]...: installs those not installed yet, in one apt-get
# call; fails (with the end of apt's log) when apt-get does.
ensure() {
  missing=""
  for spec in "$@"; do
    installed "${spec%%=*}" || missing="$missing $spec"
  done
  [ -z "$missing" ] && return 0
  if [ -z "$apt_updated" ]; then
    apt update >/dev/null
    apt_updated=1
  fi
  log "installing:$missing"
  # shellcheck disable=SC2086 # the list is split on purpose
  apt install -y --no-install-recommends $missing >"$out/apt.log" 2>&1 || {
    tail -20 "$out/apt.log" >&2
    echo "build-kernel-bits: apt-get install failed (full log: $out/apt.log)" >&2
    return 1
  }
}

# ---- packages and the kernel version --------------------------------------
ensure qemu-system-x86 busybox-static cpio xz-utils kmod || die "cannot install the tools"
if [ -n "${HIL_KVER:-}" ]; then
  kver=$HIL_KVER
  ensure "linux-image-$kver" || die "cannot install linux-image-$kver"
else
  ensure linux-image-amd64 || die "cannot install linux-image-amd64"
  # "linux-image-6.1.0-56-amd64 (= 6.1.192-2)" -> 6.1.0-56-amd64
  kver=$(dpkg-query -W -f='${Depends}' linux-image-amd64 | sed -n 's/^linux-image-\([^ ,]*\).*/\1/p')
  [ -n "$kver" ] || die "cannot tell the kernel version from linux-image-amd64's dependencies"
fi
kpkg_version=$(dpkg-query -W -f='${Version}' "linux-image-$kver")
mm=$(echo "$kver" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
ensure "linux-headers-$kver" || die "cannot install linux-headers-$kver"
if ! installed "linux-source-$mm"; then
  # The source of the very kernel we run; any linux-source-$mm if that version is gone.
  ensure "linux-source-$mm=$kpkg_version" 2>/dev/null || ensure "linux-source-$mm" ||
    die "cannot install linux-source-$mm"
fi
src_version=$(dpkg-query -W -f='${Version}' "linux-source-$mm")
[ "$src_version" = "$kpkg_version" ] ||
  log "note: linux-source-$mm is $src_version, the kernel is $kpkg_version (gpio-sim built from the former)"

vmlinuz=/boot/vmlinuz-$kver
kconfig=/boot/config-$kver
headers=/usr/src/linux-headers-$kver
tarball=/usr/src/linux-source-$mm.tar.xz
for f in "$vmlinuz" "$kconfig" "$headers/Makefile" "$tarball"; do
  [ -r "$f" ] || die "$f is missing or unreadable"
done
[ -d "/lib/modules/$kver/kernel" ] || die "/lib/modules/$kver is missing"

kdir=$out/kernel/$kver
moddir=$kdir/modules
mkdir -p "$moddir"
jobs=$(nproc 2>/dev/null || echo 2)

# A build is redone when its inputs change: this script, the source package,
# the headers package.
headers_version=$(dpkg-query -W -f='${Version}' "linux-headers-$kver")
script_sum=$(sha256sum "$script_dir/build-kernel-bits.sh" | cut -c1-16)

# ---- gpio-sim.ko -------------------------------------------------------------
gs=$kdir/gpio-sim
gs_key="gpio-sim $script_sum $src_version $headers_version"
if [ ! -f "$moddir/gpio-sim.ko" ] || [ "$(cat "$gs/.stamp" 2>/dev/null)" != "$gs_key" ]; then
  log "building gpio-sim.ko for $kver (from linux-source-$mm $src_version)"
  rm -rf "$gs"
  mkdir -p "$gs/src"
  top=linux-source-$mm
  # Only the three files; xz still reads the whole archive (about 10 s).
  tar -xJf "$tarball" -C "$gs/src" \
    "$top/drivers/gpio/gpio-sim.c" "$top/drivers/gpio/gpiolib.h" "$top/kernel/irq/irq_sim.c"
  # The module is called gpio-sim, so its main object needs another name.
  cp "$gs/src/$top/drivers/gpio/gpio-sim.c" "$gs/gpio-sim-main.c"
  cp "$gs/src/$top/drivers/gpio/gpiolib.h" "$gs/gpiolib.h"
  sed -e '/^EXPORT_SYMBOL_GPL(.*);$/d' \
      -e 's/handle_simple_irq(irq_to_desc(\([a-z_]*\)));/generic_handle_irq(\1);/' \
      "$gs/src/$top/kernel/irq/irq_sim.c" >"$gs/irq_sim.c"
  if grep -q 'irq_to_desc\|EXPORT_SYMBOL' "$gs/irq_sim.c" || ! grep -q 'generic_handle_irq(' "$gs/irq_sim.c"; then
    die "irq_sim.c in linux-source-$mm $src_version no longer matches the patch (see $gs/irq_sim.c)"
  fi
  printf 'obj-m := gpio-sim.o\ngpio-sim-y := gpio-sim-main.o irq_sim.o\n' >"$gs/Kbuild"
  make -C "$headers" M="$gs" -j"$jobs" modules >"$gs/build.log" 2>&1 || {
    tail -30 "$gs/build.log" >&2
    die "gpio-sim build failed (log: $gs/build.log)"
  }
  if grep -q 'WARNING: modpost: .*undefined' "$gs/build.log"; then
    grep 'WARNING: modpost' "$gs/build.log" >&2
    die "gpio-sim.ko uses symbols the kernel does not export"
  fi
  cp "$gs/gpio-sim.ko" "$moddir/gpio-sim.ko"
  echo "$gs_key" >"$gs/.stamp"
fi

# ---- v4l2loopback.ko ---------------------------------------------------------
lb=$kdir/v4l2loopback
lb_src=$(ls -d /usr/src/v4l2loopback-* 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$lb_src" ]; then
  # The source without DKMS: the .deb holds /usr/src/v4l2loopback-<ver>.
  dl=$out/dl
  mkdir -p "$dl"
  deb=$(ls "$dl"/v4l2loopback-dkms_*.deb 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$deb" ]; then
    log "downloading v4l2loopback-dkms (source only)"
    # apt-get download writes to the current directory; as root it warns that
    # _apt cannot write there, which is harmless.
    (cd "$dl" && { apt-get -q download v4l2loopback-dkms >/dev/null 2>&1 ||
      { apt update >/dev/null && apt_updated=1 && apt-get -q download v4l2loopback-dkms >/dev/null 2>&1; }; }) ||
      die "apt-get download v4l2loopback-dkms failed"
    deb=$(ls "$dl"/v4l2loopback-dkms_*.deb | sort -V | tail -1)
  fi
  if [ ! -d "$dl/root" ] || [ "$deb" -nt "$dl/root" ]; then
    rm -rf "$dl/root"
    dpkg -x "$deb" "$dl/root"
  fi
  lb_src=$(ls -d "$dl"/root/usr/src/v4l2loopback-* | sort -V | tail -1)
fi
lb_key="v4l2loopback $script_sum $(basename "$lb_src") $headers_version"
if [ ! -f "$moddir/v4l2loopback.ko" ] || [ "$(cat "$lb/.stamp" 2>/dev/null)" != "$lb_key" ]; then
  log "building v4l2loopback.ko for $kver (from $(basename "$lb_src"))"
  rm -rf "$lb"
  mkdir -p "$lb"
  cp "$lb_src"/*.c "$lb_src"/*.h "$lb/"
  printf 'obj-m := v4l2loopback.o\n' >"$lb/Kbuild"
  make -C "$headers" M="$lb" -j"$jobs" modules >"$lb/build.log" 2>&1 || {
    tail -30 "$lb/build.log" >&2
    die "v4l2loopback build failed (log: $lb/build.log)"
  }
  cp "$lb/v4l2loopback.ko" "$moddir/v4l2loopback.ko"
  echo "$lb_key" >"$lb/.stamp"
fi

# ---- the kernel's own modules, in load order --------------------------------
# configfs is what gpio-sim is configured through: built in or a module?
configfs=$(sed -n 's/^CONFIG_CONFIGFS_FS=//p' "$kconfig")
case "$configfs" in
  y) log "configfs is built into $kver" ;;
  m) ;;
  *) die "$kver has no configfs (CONFIG_CONFIGFS_FS=$configfs): gpio-sim cannot be configured" ;;
esac

order=""
# add_module NAME KO: adds NAME's dependencies (recursively), then NAME.
add_module() {
  case " $order " in *" $1 "*) return 0 ;; esac
  deps=$(modinfo -F depends "$2" | tr ',' ' ')
  for d in $deps; do
    dko=$(modinfo -k "$kver" -n "$d") || die "module $d (needed by $1) not found for $kver"
    add_module "$d" "$dko"
  done
  case " $order " in *" $1 "*) return 0 ;; esac
  # Debian 12 ships plain .ko files; later releases compress them, and
  # busybox insmod may not read compressed ones.
  case "$2" in
    *.ko.xz) xz -dc "$2" >"$moddir/$1.ko" ;;
    *.ko.zst) zstd -qdc "$2" >"$moddir/$1.ko" ;;
    *.ko.gz) gzip -dc "$2" >"$moddir/$1.ko" ;;
    "$moddir/$1.ko") ;;
    *) cp "$2" "$moddir/$1.ko" ;;
  esac
  order="$order $1"
}
[ "$configfs" = m ] && add_module configfs "$(modinfo -k "$kver" -n configfs)"
add_module v4l2loopback "$moddir/v4l2loopback.ko"
add_module gpio-sim "$moddir/gpio-sim.ko"
echo "$order" | tr ' ' '\n' | sed '/^$/d' >"$moddir/load-order"

for m in v4l2loopback gpio-sim; do
  vm=$(modinfo -F vermagic "$moddir/$m.ko")
  case "$vm" in "$kver "*) ;; *) die "$m.ko was built for '$vm', not $kver" ;; esac
done

cat >"$out/kernel.env" <<EOF
KVER=$kver
VMLINUZ=$vmlinuz
MODDIR=$moddir
EOF
log "kernel $kver, modules:$(echo "$order" | sed 's/ /, /g; s/^,//')"
