#!/bin/sh
# cccd-firstboot - takes what the technician put on the boot partition
# (FAT, editable from any Windows PC) at every boot, before cccd-reader starts.
#
# /boot/firmware/ (all optional):
#   cccd-reader.conf   the terminal's configuration   -> /etc/cccd-reader/cccd-reader.conf (root:cccd-reader 0640)
#   ca.crt             the hospital's CA              -> /etc/cccd-reader/ca.crt (0644)
#   device.crt         the device certificate the hospital's IT signed from
#                      cccd-reader-request.csr         -> installed by `cccd-reader provision --cert`
#   authorized_keys    SSH public keys for root        -> SSH on (key only); without it SSH stays off
#   timesyncd.conf     [Time] NTP=... (the hospital's time servers) -> /etc/systemd/timesyncd.conf.d/
# Files taken are renamed NAME.installed on the boot partition, so the next
# boot does not take them again and a technician sees they were read. The
# device key is made once, here, and never leaves the device; its
# certificate request is left on the boot partition as
# cccd-reader-request.csr for the hospital's IT. Everything is logged to the
# journal (no key, no personal data).
set -u
boot=/boot/firmware
etc=/etc/cccd-reader
conf=$etc/cccd-reader.conf

say() { echo "cccd-firstboot: $*"; }

taken() { mv -f "$boot/$1" "$boot/$1.installed" 2>/dev/null || rm -f "$boot/$1"; }

# The Pi's serial number names it on the network; a VM or another board
# falls back to its machine ID.
set_hostname() {
  [ -f /etc/cccd-hostname-set ] && return 0
  serial=$(tr -d '\0' </sys/firmware/devicetree/base/serial-number 2>/dev/null | tail -c 8)
  [ -n "$serial" ] || serial=$(head -c 8 /etc/machine-id 2>/dev/null)
  [ -n "$serial" ] || return 0
  name="cccd-$serial"
  echo "$name" >/etc/hostname
  hostname "$name" 2>/dev/null || true
  sed -i "/^127.0.1.1/d" /etc/hosts && echo "127.0.1.1	$name" >>/etc/hosts
  : >/etc/cccd-hostname-set
  say "hostname $name"
}

# The partition grows to the card's size once (the image is small to flash).
grow_root() {
  [ -f /etc/cccd-root-grown ] && return 0
  dev=$(findmnt -no SOURCE /)
  disk=/dev/$(lsblk -no PKNAME "$dev" 2>/dev/null)
  part=$(cat "/sys/class/block/$(basename "$dev")/partition" 2>/dev/null)
  if [ -b "$disk" ] && [ -n "$part" ] && growpart "$disk" "$part" >/dev/null 2>&1; then
    resize2fs "$dev" >/dev/null 2>&1 && say "root filesystem grown to the card's size"
  fi
  : >/etc/cccd-root-grown
}

take_config() {
  if [ -f "$boot/cccd-reader.conf" ]; then
    install -o root -g cccd-reader -m 0640 "$boot/cccd-reader.conf" "$conf" && taken cccd-reader.conf &&
      say "configuration installed from the boot partition"
  fi
  if [ -f "$boot/ca.crt" ]; then
    install -o root -g root -m 0644 "$boot/ca.crt" "$etc/ca.crt" && taken ca.crt && say "hospital CA installed"
  fi
  if [ -f "$boot/timesyncd.conf" ]; then
    mkdir -p /etc/systemd/timesyncd.conf.d
    install -m 0644 "$boot/timesyncd.conf" /etc/systemd/timesyncd.conf.d/cccd.conf && taken timesyncd.conf &&
      systemctl try-restart systemd-timesyncd.service && say "time servers set"
  fi
}

# The device key is made here, once; the request goes to the hospital's IT
# through the boot partition; the signed certificate comes back the same way.
provision() {
  grep -q '^url *= *https' "$conf" 2>/dev/null || return 0
  if [ ! -f "$etc/device.key" ]; then
    if cccd-reader provision --config "$conf" --dir "$etc" >/dev/null 2>/run/cccd-provision.err; then
      say "device key and certificate request made"
    else
      say "provision failed: $(tail -n 1 /run/cccd-provision.err)"
    fi
  fi
  [ -f "$etc/device.csr" ] && cp "$etc/device.csr" "$boot/cccd-reader-request.csr" 2>/dev/null
  if [ -f "$boot/device.crt" ]; then
    ca=""
    [ -f "$etc/ca.crt" ] && ca="--ca $etc/ca.crt"
    # shellcheck disable=SC2086 # an option and its value, or nothing
    if cccd-reader provision --config "$conf" --dir "$etc" --cert "$boot/device.crt" $ca >/dev/null \
      2>/run/cccd-provision.err; then
      taken device.crt
      say "device certificate installed"
    else
      say "the device certificate on the boot partition was refused: $(tail -n 1 /run/cccd-provision.err)"
    fi
  fi
}

# SSH only for someone who put a key on the card: no password exists.
ssh_access() {
  if [ -f "$boot/authorized_keys" ]; then
    install -d -m 0700 /root/.ssh && install -m 0600 "$boot/authorized_keys" /root/.ssh/authorized_keys &&
      taken authorized_keys && say "SSH keys installed"
  fi
  if [ -s /root/.ssh/authorized_keys ]; then
    ssh-keygen -A >/dev/null 2>&1
    systemctl enable --now ssh.service >/dev/null 2>&1 && say "SSH on (keys only)"
  fi
}

set_hostname
grow_root
take_config
provision
ssh_access
exit 0
