#!/bin/sh
# run.sh - `make test-hil`: the program against real kernel drivers, under qemu.
#
# Builds the program (bookworm, and trixie when tools/build-trixie-libs.sh
# exists), the kernel bits (tools/hil/build-kernel-bits.sh: gpio-sim.ko,
# v4l2loopback.ko and their dependencies for Debian's own kernel), the guest
# helpers and test pictures, packs an initramfs (tools/hil/mkinitramfs.sh),
# boots Debian's kernel on it with qemu-system-x86_64 (KVM when it works,
# else TCG) and turns the guest's serial console report into one line per
# check:
#
#   ok - NAME
#   not ok - NAME: WHY
#   N passed, M failed
#
# The exit status is non-zero when a check failed or the guest reported no
# result (qemu's own exit status carries nothing). Everything the guest
# printed is kept in build/hil/guest.log. See docs/hil.md.
#
# Environment:
#   HIL_ACCEL=kvm|tcg     skip the KVM probe
#   HIL_ONLY=infra|bookworm|trixie   run part of the guest's checks
#   HIL_TOL_PCT=N         tolerance on pulse lengths (default 40)
#   HIL_TIMEOUT=S         hard limit on the guest (default 600)
#   HIL_NO_BUILD=1        do not run make (the binaries are already built)
set -eu

cd "$(dirname "$0")/../.."
out=build/hil
mkdir -p "$out"
start=$(date +%s)

# One run at a time per checkout: the guest's inputs live in build/hil.
exec 9>"$out/.lock"
flock -w 900 9 || { echo "test-hil: another run holds $out/.lock" >&2; exit 1; }

host_pass=0 host_fail=0
host_ok() { host_pass=$((host_pass + 1)); echo "ok - $1"; }
host_not_ok() { host_fail=$((host_fail + 1)); echo "not ok - $1: $2"; }
elapsed() { echo $(($(date +%s) - start)); }
step() { echo "test-hil: [$(elapsed) s] $*"; }

# fatal NAME WHY: a step the guest cannot do without failed.
fatal() {
  echo "not ok - $1: $2"
  echo "$host_pass passed, $((host_fail + 1)) failed"
  exit 1
}

# runlog LOG COMMAND...: runs COMMAND with its output in LOG; prints the
# end of LOG when it fails.
runlog() {
  log=$1
  shift
  if "$@" >"$log" 2>&1; then return 0; fi
  tail -n 25 "$log" | sed 's/^/    /'
  echo "    (full log: $log)"
  return 1
}

# ---- the program, both flavours ---------------------------------------------
programs=""
if [ -z "${HIL_NO_BUILD:-}" ]; then
  step "building the program (bookworm)"
  runlog "$out/make-bookworm.log" make --no-print-directory all tools ||
    fatal "bookworm: build" "make all tools failed"
fi
programs="bookworm=build/cccd-reader"
if [ -f tools/build-trixie-libs.sh ]; then
  if [ -n "${HIL_NO_BUILD:-}" ] ||
     { step "building libgpiod 2 / mbedtls 3 and the program (trixie)" &&
       runlog "$out/make-trixie.log" sh -c 'make --no-print-directory trixie-libs && make --no-print-directory FLAVOR=trixie all'; }; then
    if [ -x build/trixie/cccd-reader ]; then
      programs="$programs trixie=build/trixie/cccd-reader"
    else
      host_not_ok "trixie: build" "build/trixie/cccd-reader was not built"
    fi
  else
    host_not_ok "trixie: build" "make trixie-libs / make FLAVOR=trixie all failed (log: $out/make-trixie.log)"
  fi
else
  echo "ok - trixie flavour # SKIP tools/build-trixie-libs.sh does not exist"
fi

# ---- kernel bits, helpers, pictures, initramfs ------------------------------
step "kernel, modules (gpio-sim, v4l2loopback) and qemu"
tools/hil/build-kernel-bits.sh "$out" || fatal "kernel bits" "tools/hil/build-kernel-bits.sh failed"
# shellcheck disable=SC1091
. "$out/kernel.env"
step "guest helpers"
tools/hil/build-helpers.sh "$out/bin" || fatal "helpers" "tools/hil/build-helpers.sh failed"
step "test pictures"
rm -rf "$out/frames"
runlog "$out/frames.log" build/tools/make_frames --samples "$out/frames" ||
  fatal pictures "make_frames --samples failed"
runlog "$out/frames-hil.log" "$out/bin/hil-frames" "$out/frames" || fatal pictures "hil-frames failed"
for f in 01-card-2021.png 02-card-2024-big5-name.png 05-not-card-url.png 06-empty.png rejected-card.png; do
  [ -f "$out/frames/$f" ] || fatal pictures "$f is missing (make_frames --samples no longer writes it?)"
done
step "initramfs"
set --
for p in $programs; do set -- "$@" -p "$p"; done
tools/hil/mkinitramfs.sh -o "$out/initramfs.cpio.gz" -k "$out/kernel.env" -b "$out/bin" -f "$out/frames" \
  -t tests/hil "$@" || fatal initramfs "tools/hil/mkinitramfs.sh failed"

# ---- accelerator: KVM when it really runs a guest, else TCG -----------------
# /dev/kvm can exist and still hang a guest (nested virtualisation without
# the CPU features qemu asks for): boot the bare kernel, which panics for
# want of a root file system within a second or two when KVM works. The
# verdict is kept for this host's boot.
accel=${HIL_ACCEL:-}
if [ -z "$accel" ]; then
  boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
  cache=$out/accel.$boot_id
  if [ -f "$cache" ]; then
    accel=$(cat "$cache")
  else
    accel=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
      step "probing KVM"
      # (In a subshell: qemu may abort, and the shell would say so.)
      if ( timeout 15 qemu-system-x86_64 -accel kvm -cpu host -m 128 -no-reboot -display none -monitor none \
             -serial stdio -kernel "$VMLINUZ" -append 'console=ttyS0 panic=-1' </dev/null 2>"$out/kvm-probe.err" |
           grep -q -a 'Kernel panic' ) 2>/dev/null; then
        accel=kvm
      fi
    fi
    rm -f "$out"/accel.*
    echo "$accel" >"$cache"
  fi
fi
case $accel in
  kvm) accel_args="-accel kvm -cpu host" ;;
  *) accel=tcg accel_args="-accel tcg" ;;
esac

# ---- boot ---------------------------------------------------------------------
append="console=ttyS0 quiet panic=-1"
[ -n "${HIL_ONLY:-}" ] && append="$append hil.only=$HIL_ONLY"
[ -n "${HIL_TOL_PCT:-}" ] && append="$append hil.tol=$HIL_TOL_PCT"
log=$out/guest.log
step "booting $KVER under qemu ($accel), flavours: $(echo "$programs" | sed 's/=[^ ]*//g')"
boot_start=$(date +%s)
# shellcheck disable=SC2086 # accel_args is split on purpose
timeout "${HIL_TIMEOUT:-600}" qemu-system-x86_64 $accel_args -m 512 -smp 2 -no-reboot -display none \
  -monitor none -serial stdio -kernel "$VMLINUZ" -initrd "$out/initramfs.cpio.gz" -append "$append" \
  </dev/null 2>"$out/qemu.err" |
  awk -v logf="$log" '{ sub(/\r$/, ""); print > logf } /^HIL: / { sub(/^HIL: /, ""); print; fflush() }' || true
guest_s=$(($(date +%s) - boot_start))

result=$(sed -n 's/^HIL-RESULT: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$log" | tail -n 1)
up=$(sed -n 's/^HIL# guest up after \([0-9.]*\) s.*/\1/p' "$log" | head -n 1)
echo "test-hil: guest: ${up:-?} s to /init, ${guest_s} s in qemu ($accel); whole run $(elapsed) s; log: $log"
if [ -z "$result" ]; then
  echo "not ok - guest: no HIL-RESULT line (timeout after ${HIL_TIMEOUT:-600} s, crash or panic); end of $log:"
  tail -n 30 "$log" | sed 's/^/    /'
  [ -s "$out/qemu.err" ] && sed 's/^/    qemu: /' "$out/qemu.err"
  echo "$host_pass passed, $((host_fail + 1)) failed"
  exit 1
fi
# shellcheck disable=SC2086 # two numbers, split on purpose
set -- $result
passed=$(($1 + host_pass)) failed=$(($2 + host_fail))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
