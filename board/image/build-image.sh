#!/bin/sh
# build-image.sh - a flashable Raspberry Pi image (Pi 3, 4, 5), from Debian's
# archive only, the way Debian's own Raspberry Pi images are made.
#
#   board/image/build-image.sh OUTDIR        (make image: OUTDIR = build/image)
#
# Writes OUTDIR/cccd-reader-trixie-arm64.img.xz, its .sha256, and .manifest
# (every package and version in it). Steps:
#   1. the project's package, trixie flavour, built for arm64 in a fresh
#      trixie root (tools/fresh-root.sh): trixie's own libgpiod 2.2, mbedtls
#      3.6, and its package names in Depends;
#   2. the root filesystem: mmdebstrap, trixie arm64 (run under qemu-user
#      through binfmt), Debian's linux-image-arm64 and raspi-firmware
#      (non-free-firmware), systemd, timesyncd, networkd, ssh (off until a key
#      is given), the package, and board/image/'s settings: first boot from
#      the FAT partition, journald in RAM, the hardware watchdog;
#   3. the disk: msdos label, FAT32 RASPIFIRM (4..512 MiB, /boot/firmware)
#      and ext4 RASPIROOT, made as files (mkfs.vfat -C, mkfs.ext4 -d), no
#      loop devices; then xz.
# Needs root (mmdebstrap in root mode, file ownership in the image).
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
name=cccd-reader-trixie-arm64
work=$out/work
say() { echo "image: $*"; }
die() { echo "image: error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap --mode=root, ownership of the files in the image)"
t0=$(date +%s)

# ---- tools ----------------------------------------------------------------------
need="mmdebstrap qemu-user-static binfmt-support arch-test dosfstools mtools fdisk e2fsprogs xz-utils"
missing=""
for p in $need; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing:$missing"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update >/dev/null || true
  # shellcheck disable=SC2086 # the list is split on purpose
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing \
    >/dev/null
fi
# arm64 programs run through qemu-user: the kernel's binfmt_misc must know it.
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
arch-test arm64 >/dev/null 2>&1 || die "this machine cannot run arm64 programs (qemu-user-static, binfmt_misc)"

# A build that was killed leaves proc, sys and dev/pts mounted in its root.
. "$top/tools/lib/mounts.sh"
remove_root "$work" || die "cannot remove $work (something is still mounted below it: see mount)"
mkdir -p "$work"

# ---- 1. the package ---------------------------------------------------------------
say "building the trixie arm64 package in a fresh trixie root"
mkdir -p "$work/deb"
"$top/tools/fresh-root.sh" --suite trixie --out "$work/deb" \
  'make deb ARCH=arm64 >/work/out/build.log 2>&1 && cp build/deb/cccd-reader_*_arm64.deb /work/out/' ||
  { tail -n 20 "$work/deb/build.log" >&2; die "the trixie package did not build ($work/deb/build.log)"; }
deb=$(ls "$work"/deb/cccd-reader_*_arm64.deb)
t1=$(date +%s)

# ---- 2. the root filesystem ------------------------------------------------------------
say "making the root filesystem (trixie arm64, under qemu-user: the slow part)"
sources=$work/sources.list
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main non-free-firmware" >"$sources"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security trixie-security main non-free-firmware" >>"$sources"
mkdir -p "$work/root"
# raspi-firmware's kernel hook writes cmdline.txt's root= from this file; in
# a chroot it would take the build machine's root device.
mmdebstrap --quiet --mode=root --arch=arm64 --variant=minbase \
  --include=systemd,systemd-sysv,udev,kmod,linux-image-arm64,raspi-firmware,initramfs-tools,systemd-timesyncd,openssh-server,dosfstools,e2fsprogs,cloud-guest-utils,util-linux,ca-certificates,iproute2,netbase \
  --setup-hook='mkdir -p "$1/etc/default" && echo "ROOTPART=LABEL=RASPIROOT" >"$1/etc/default/raspi-firmware"' \
  --customize-hook="copy-in $deb /tmp" \
  --customize-hook='chroot "$1" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/cccd-reader_*.deb" >/dev/null' \
  --customize-hook="$here/customize.sh \"\$1\" $here" \
  trixie "$work/root" "$sources" || die "mmdebstrap failed"
t2=$(date +%s)

# ---- 3. the disk --------------------------------------------------------------------------
dpkg-query --admindir="$work/root/var/lib/dpkg" -W -f='${Package}\t${Version}\t${Architecture}\n' |
  sort >"$out/$name.manifest"
fat_mb=508 # partition 1: 4 MiB .. 512 MiB
say "making the FAT partition (RASPIFIRM)"
rm -f "$work/fat.img"
mkfs.vfat -C -F 32 -n RASPIFIRM "$work/fat.img" $((fat_mb * 1024)) >/dev/null
mcopy -s -i "$work/fat.img" "$work/root/boot/firmware/"* ::
used_mb=$(du -sm --exclude=./boot/firmware "$work/root" | cut -f1)
root_mb=$((used_mb + used_mb / 4 + 200)) # room to boot and run; the first boot grows it to the card
say "making the root partition (RASPIROOT, ext4, $root_mb MiB; $used_mb MiB used)"
mkdir -p "$work/empty"
rm -f "$work/root.img"
# /boot/firmware is a mount point on the root partition: its files live on FAT.
mv "$work/root/boot/firmware" "$work/firmware.moved" && mkdir "$work/root/boot/firmware"
mkfs.ext4 -q -L RASPIROOT -d "$work/root" "$work/root.img" "${root_mb}M"
rmdir "$work/root/boot/firmware" && mv "$work/firmware.moved" "$work/root/boot/firmware"
img=$out/$name.img
total_mb=$((4 + fat_mb + root_mb))
rm -f "$img"
truncate -s "${total_mb}M" "$img"
printf 'label: dos\n4MiB,%sMiB,c,*\n%sMiB,,83\n' "$fat_mb" "$((4 + fat_mb))" | sfdisk -q "$img"
dd if="$work/fat.img" of="$img" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$img" bs=1M seek=$((4 + fat_mb)) conv=notrunc,sparse status=none
# The kernel and initramfs, for `make test-image` (qemu boots them directly).
cp "$work"/root/boot/vmlinuz-* "$out/vmlinuz"
cp "$work"/root/boot/initrd.img-* "$out/initrd.img"
say "compressing"
rm -f "$img.xz"
xz -T0 -6 -k "$img"
(cd "$out" && sha256sum "$name.img.xz" >"$name.img.xz.sha256")
t3=$(date +%s)
say "done in $((t3 - t0)) s (package $((t1 - t0)) s, root $((t2 - t1)) s, disk $((t3 - t2)) s):"
say "  $out/$name.img.xz ($(du -m "$img.xz" | cut -f1) MiB; $total_mb MiB on the card before it grows)"
say "  $(wc -l <"$out/$name.manifest") packages in $out/$name.manifest"
