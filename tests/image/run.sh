#!/bin/sh
# run.sh IMAGEDIR - make test-image: the released image booted under
# qemu-system-aarch64 (-M virt, TCG) with its own kernel and initramfs.
#
# A copy of the image gets, on its FAT partition, what a technician would put
# there (cccd-reader.conf, the hospital's CA, a clip of cards for a files:
# camera) and the test's agent (tests/image/agent.sh, started by a unit
# written into the copy's root). Three boots:
#   1. first boot: no failed unit; the config, CA and device key in place with
#      the right owners; the certificate request on the FAT partition;
#      cccd-reader active and READY; doctor runs; SSH closed; no password;
#      no personal data in the journal;
#   2. the request signed by the test CA, the certificate put on the FAT
#      partition: installed at boot, records delivered to tools/his_sim on
#      this machine; the power is cut (qemu killed) while it delivers;
#   3. a clean boot after the cut, the queue drains: every record the
#      terminal queued arrived at the simulator exactly once.
# The guest reaches only the simulator: qemu's user network with
# restrict=on and one forwarded address (10.0.2.100:8443 -> the simulator).
# Prints "ok - ..." / "not ok - ..." and the times; exit 1 on any failure.
set -u
dir=$(cd "${1:-build/image}" && pwd)
BUILD=${BUILD:-build}
name=cccd-reader-trixie-arm64
work=$dir/test
PKI=$BUILD/test-pki
SIM=$BUILD/tools/his_sim
here=$(cd "$(dirname "$0")" && pwd)
fails=0
SIM_PID="" QEMU_PID=""
say() { echo "# $*"; }
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
cleanup() {
  [ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT

# ---- what it needs ------------------------------------------------------------------
need="qemu-system-arm qemu-efi-aarch64 netcat-openbsd mtools e2fsprogs xz-utils openssl"
missing=""
for p in $need; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$' || missing="$missing $p"; done
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086 # the list is split on purpose
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing \
    >/dev/null || { echo "not ok - cannot install:$missing"; exit 1; }
fi
make --no-print-directory "$SIM" "$BUILD/tools/card_clip" >/dev/null || { echo "not ok - build the simulator"; exit 1; }
tools/make-test-pki.sh "$PKI" >/dev/null || { echo "not ok - test PKI"; exit 1; }

rm -rf "$work" && mkdir -p "$work"
"$BUILD/tools/card_clip" "$work/clip" 8 >/dev/null
xz -dc "$dir/$name.img.xz" >"$work/disk.img"
FAT="$work/disk.img@@4M"

# ---- the test's copy: the agent's unit in the root, the technician's files on FAT -------
root_off=$(sfdisk -d "$work/disk.img" | sed -n 's/.*p2 : start= *\([0-9]*\),.*/\1/p')
dd if="$work/disk.img" of="$work/root.img" bs=512 skip="$root_off" status=none
debugfs -w -f - "$work/root.img" >/dev/null 2>&1 <<EOF
write $here/agent.service /etc/systemd/system/cccd-image-test.service
symlink /etc/systemd/system/multi-user.target.wants/cccd-image-test.service /etc/systemd/system/cccd-image-test.service
EOF
dd if="$work/root.img" of="$work/disk.img" bs=512 seek="$root_off" conv=notrunc status=none
rm -f "$work/root.img"

cat >"$work/cccd-reader.conf" <<EOF
; what a technician puts on the boot partition
[device]
id = desk-image
[camera]
source = files:/boot/firmware/clip
fps = 4
loop = true
[scan]
duplicate_window_s = 3600
decode_threads = 1
[uplink]
url = https://10.0.2.100:8443/api/checkin
ca = /etc/cccd-reader/ca.crt
backoff_min_ms = 500
backoff_max_ms = 2000
EOF
mcopy -i "$FAT" "$work/cccd-reader.conf" ::cccd-reader.conf
mcopy -i "$FAT" "$PKI/ca.crt" ::ca.crt
mcopy -i "$FAT" "$here/agent.sh" ::image-test.sh
mcopy -i "$FAT" "$work/clip/ids.txt" ::ids.txt
mmd -i "$FAT" ::clip
mcopy -i "$FAT" "$work"/clip/*.pgm ::clip/

# ---- the simulator, reachable from the guest at 10.0.2.100:8443 -------------------------
"$SIM" --cert "$PKI/guest-server.crt" --key "$PKI/guest-server.key" --ca "$PKI/ca.crt" --require-client-cert \
  --out "$work/hospital.jsonl" --port 0 --port-file "$work/sim.port" >/dev/null 2>"$work/sim.log" &
SIM_PID=$!
i=0; while [ ! -s "$work/sim.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$work/sim.port")

# boot PHASE [CUT]: boots the copy, console to $work/console.PHASE; with CUT,
# kills qemu once the agent says delivery is under way (the power cut).
boot() {
  echo "$1" >"$work/phase" && mcopy -o -i "$FAT" "$work/phase" ::image-test.phase
  t=$(date +%s)
  timeout 900 qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -nographic -no-reboot \
    -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" \
    -append "root=LABEL=RASPIROOT rw console=ttyAMA0 systemd.show_status=false" \
    -drive if=none,file="$work/disk.img",format=raw,id=hd -device virtio-blk-pci,drive=hd \
    -netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8443-cmd:nc 127.0.0.1 $port" \
    -device virtio-net-pci,netdev=n0 </dev/null >"$work/console.$1" 2>&1 &
  QEMU_PID=$!
  if [ -n "${2:-}" ]; then
    # The cut: once a few records were delivered and more wait.
    i=0
    while kill -0 "$QEMU_PID" 2>/dev/null && [ $i -lt 6000 ]; do
      [ "$(grep -c 'IMAGE-JOURNAL delivered id=' "$work/console.$1")" -ge 2 ] && break
      sleep 0.1; i=$((i + 1))
    done
    kill -9 "$QEMU_PID" 2>/dev/null
    say "boot $1: power cut after $(grep -c 'IMAGE-JOURNAL delivered id=' "$work/console.$1") deliveries"
  fi
  wait "$QEMU_PID" 2>/dev/null
  QEMU_PID=""
  say "boot $1: $(( $(date +%s) - t )) s under TCG"
  ready=$(sed -n 's/^\[ *\([0-9.]*\)\].*Started.*cccd-reader.service.*/\1/p' "$work/console.$1" | head -n 1)
  [ -n "$ready" ] && say "boot $1: cccd-reader READY at ${ready} s after the kernel started"
  grep -a '^IMAGE-TEST ' "$work/console.$1" | sed 's/^IMAGE-TEST //' | while read -r line; do
    case $line in ok\ -*|not\ ok\ -*) echo "$line" ;; *) echo "# $line" ;; esac
  done
  grep -aq '^IMAGE-TEST not ok' "$work/console.$1" && fails=$((fails + 1))
  grep -aq "^IMAGE-TEST phase $1: done" "$work/console.$1" || [ -n "${2:-}" ] ||
    bad "boot $1: the agent did not finish (console: $work/console.$1)"
}

boot 1
if mcopy -i "$FAT" ::cccd-reader-request.csr "$work/device.csr" 2>/dev/null; then
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' \
    >"$work/client.ext"
  openssl x509 -req -in "$work/device.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$work/client.ext" -out "$work/device.crt" 2>/dev/null &&
    mcopy -i "$FAT" "$work/device.crt" ::device.crt && ok "the request from the boot partition signed by the hospital's CA"
else
  bad "no certificate request on the boot partition"
fi
boot 2 cut
boot 3

# ---- every record queued arrived once --------------------------------------------------
cat "$work"/console.* | tr -d '\r' | sed -n 's/^IMAGE-JOURNAL queued id=[^ ]* key=\([^ ]*\) .*/\1/p' | sort -u \
  >"$work/queued.keys"
sed 's/.*"idempotency_key":"\([^"]*\)".*/\1/' "$work/hospital.jsonl" 2>/dev/null | sort >"$work/received.keys"
q=$(wc -l <"$work/queued.keys") r=$(wc -l <"$work/received.keys")
say "queued over the three boots: $q records; the simulator holds $r"
if [ "$q" -gt 0 ] && [ "$(sort -u "$work/received.keys")" = "$(cat "$work/queued.keys")" ] &&
   [ -z "$(uniq -d "$work/received.keys")" ]; then
  ok "after the power cut, every queued record arrived exactly once ($q)"
else
  bad "queued and received differ: missing $(comm -23 "$work/queued.keys" "$work/received.keys" | wc -l)," \
    "extra $(comm -13 "$work/queued.keys" "$(sort -u "$work/received.keys" | tee "$work/r.u")" | wc -l)," \
    "twice $(uniq -d "$work/received.keys" | wc -l)"
fi
say "image $(du -m "$dir/$name.img.xz" | cut -f1) MiB compressed"
[ $fails -eq 0 ]
