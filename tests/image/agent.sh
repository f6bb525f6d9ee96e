#!/bin/sh
# agent.sh - the checks make test-image runs inside the booted image (from the
# FAT partition of the test's copy only; the released image has no agent).
# Lines for the host start with "IMAGE-TEST " on the serial console; the
# terminal's journal is streamed there too ("IMAGE-JOURNAL ") so the host sees
# every queued key even when it cuts the power.
set -u
boot=/boot/firmware
phase=$(cat "$boot/image-test.phase" 2>/dev/null || echo 1)
out() { echo "IMAGE-TEST $*" >/dev/console; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then out "ok - $d"; else out "not ok - $d"; fi; }

state=$(systemctl is-system-running --wait 2>/dev/null)
out "phase $phase: system $state"
journalctl -f -o cat -u cccd-reader -u cccd-firstboot --no-pager 2>/dev/null |
  sed -u 's/^/IMAGE-JOURNAL /' >/dev/console &

check "phase $phase: no failed unit ($(systemctl --failed --no-legend --plain | cut -d' ' -f1 | tr '\n' ' '))" \
  test "$(systemctl --failed --no-legend | wc -l)" -eq 0
check "phase $phase: cccd-reader.service active and READY" \
  sh -c 'test "$(systemctl show -p ActiveState --value cccd-reader)" = active &&
         test "$(systemctl show -p SubState --value cccd-reader)" = running'
check "phase $phase: SSH closed (no key given)" sh -c '! ss -ltn | grep -q ":22 " && ! systemctl -q is-active ssh'
check "phase $phase: no password can log in" sh -c 'passwd -S root | grep -q " L "'

case $phase in
1)
  check "first boot: the configuration moved from the boot partition" sh -c \
    "grep -q desk-image /etc/cccd-reader/cccd-reader.conf && test -f $boot/cccd-reader.conf.installed &&
     test ! -f $boot/cccd-reader.conf && test \"\$(stat -c '%U:%G %a' /etc/cccd-reader/cccd-reader.conf)\" = 'root:cccd-reader 640'"
  check "first boot: the hospital CA installed" test -f /etc/cccd-reader/ca.crt
  check "first boot: device key made, the service's, 0600" sh -c \
    "test \"\$(stat -c '%U %a' /etc/cccd-reader/device.key)\" = 'cccd-reader 600'"
  check "first boot: the certificate request left on the boot partition" test -s "$boot/cccd-reader-request.csr"
  check "first boot: hostname from the machine (cccd-...)" sh -c 'hostname | grep -q "^cccd-"'
  check "first boot: journal kept in RAM" sh -c 'test ! -d /var/log/journal || test -z "$(ls /var/log/journal)"'
  cccd-reader doctor --config /etc/cccd-reader/cccd-reader.conf --no-interactive >/run/doctor.out 2>&1
  sed 's/^/IMAGE-DOCTOR /' /run/doctor.out >/dev/console
  check "doctor runs (config and camera pass)" sh -c 'grep -q "^PASS  config" /run/doctor.out && grep -q "^PASS  camera" /run/doctor.out'
  ;;
2)
  check "signed certificate installed from the boot partition" sh -c \
    "test -f /etc/cccd-reader/device.crt && test -f $boot/device.crt.installed"
  out "delivering: the host may cut the power now"
  sleep 600 # the host cuts the power
  ;;
3)
  # Until nothing waits and the clip has been seen (every card once more).
  i=0
  while [ $i -lt 120 ]; do
    n=$(cccd-reader spool status --json --config /etc/cccd-reader/cccd-reader.conf 2>/dev/null |
      sed -n 's/.*"undelivered": *{[^}]*"records": *\([0-9]*\).*/\1/p')
    [ "$n" = 0 ] && [ "$(journalctl -b -u cccd-reader -o cat | grep -c 'queued id=')" -ge 8 ] && break
    sleep 2; i=$((i + 1))
  done
  check "after the power cut: the queue drained" test "$n" = 0
  ;;
esac
check "phase $phase: the journal holds no ID number or name" sh -c \
  "! journalctl -b --no-pager | grep -qF -f $boot/ids.txt && ! journalctl -b --no-pager | grep -q full_name"
out "phase $phase: done"
sleep 1
[ "$phase" = 2 ] || systemctl poweroff
