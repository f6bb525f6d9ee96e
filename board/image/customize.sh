#!/bin/sh
# customize.sh ROOT HERE - mmdebstrap's customize hook of build-image.sh: the
# image's own settings, written into the root filesystem ROOT from the
# files in HERE (board/image/).
set -eu
root=$1
here=$2

install -D -m 0755 "$here/cccd-firstboot.sh" "$root/usr/local/sbin/cccd-firstboot"
install -D -m 0644 "$here/cccd-firstboot.service" "$root/etc/systemd/system/cccd-firstboot.service"
install -D -m 0644 "$here/journald.conf" "$root/etc/systemd/journald.conf.d/cccd.conf"
install -D -m 0644 "$here/watchdog.conf" "$root/etc/systemd/system.conf.d/cccd-watchdog.conf"
install -D -m 0644 "$here/wired.network" "$root/etc/systemd/network/20-wired.network"

cat >"$root/etc/fstab" <<'FSTAB'
# Labels, not device names: the same card boots a Pi 3, 4 or 5.
LABEL=RASPIROOT  /               ext4  rw,errors=remount-ro  0  1
LABEL=RASPIFIRM  /boot/firmware  vfat  rw,nofail             0  2
FSTAB
echo cccd-reader >"$root/etc/hostname"

chroot "$root" systemctl enable cccd-firstboot.service systemd-networkd.service systemd-timesyncd.service \
  >/dev/null 2>&1
# SSH stays off until a technician puts a public key on the boot partition;
# host keys are made on the device, never shared by every card of an image.
chroot "$root" systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
rm -f "$root"/etc/ssh/ssh_host_*
# No password at all: nobody logs in at a console or over SSH with one.
chroot "$root" passwd -l root >/dev/null
# Each device gets its own machine ID at its first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# What apt fetched is not needed on the card.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/*.deb
