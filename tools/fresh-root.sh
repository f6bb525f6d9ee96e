#!/bin/sh
# fresh-root.sh - runs a command on a new minimal Debian machine: the
# committed HEAD cloned into a root made from Debian's archive, nothing of
# this machine's installs in it. A missing install step fails here as it
# would on a technician's fresh machine (a green run on a build machine with
# leftovers once hid one: `make cross` needed a package nobody installed).
#
#   tools/fresh-root.sh [--suite bookworm|trixie] [--out DIR] 'COMMAND'
#
# The root is Debian's minbase plus git, make, sudo and ca-certificates, made
# with mmdebstrap (installed on first use) from this machine's own apt
# sources with the suite swapped in, kept as a tarball under
# ${FRESH_ROOT_CACHE:-/var/cache/cccd-fresh-root} for the next run. The
# project is cloned to /work/project; ../shared (the real-world photos) is
# copied beside it read-only when it exists. The command runs as root with
# /proc, /sys and /dev mounted; its exit status is returned. Needs root.
# --out DIR is mounted at /work/out: what the command leaves there outlives
# the root (make image takes the trixie package from it).
# FRESH_ROOT_KEEP=1 keeps the root afterwards to look around.
set -eu

suite=bookworm out=""
while [ $# -gt 1 ]; do
  case $1 in
    --suite) suite=$2; shift 2 ;;
    --out) mkdir -p "$2" && out=$(cd "$2" && pwd); shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--suite bookworm|trixie] [--out DIR] 'COMMAND'" >&2; exit 2; }
case $suite in bookworm | trixie) ;; *) echo "fresh-root: unknown suite '$suite'" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "fresh-root: needs root (chroot, mounts)" >&2; exit 2; }
project=$(git rev-parse --show-toplevel 2>/dev/null) || { echo "fresh-root: not in a git checkout" >&2; exit 2; }
shared=$(cd "$project/.." && pwd)/shared
cache=${FRESH_ROOT_CACHE:-/var/cache/cccd-fresh-root}
base=$cache/$suite-minbase.tar

say() { echo "fresh-root: $*"; }
. "$project/tools/lib/mounts.sh"

# Roots of earlier runs that were killed (SIGKILL, a lost session) still have
# /dev mounted: detach them before anything removes them.
for old in /var/tmp/fresh-root.*; do
  [ -d "$old" ] && [ ! -e "$old/.fresh-root-kept" ] || continue
  owner=$(cat "$old/.fresh-root-owner" 2>/dev/null || echo 0)
  case $owner in '' | *[!0-9]*) owner=0 ;; esac
  [ "$owner" -gt 0 ] && kill -0 "$owner" 2>/dev/null && continue
  say "removing the root of an earlier run that did not finish: $old"
  remove_root "$old" || say "could not remove $old (still mounted?); left alone"
done

if [ ! -s "$base" ]; then
  if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q mmdebstrap >/dev/null ||
      { apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap >/dev/null; }
  fi
  mkdir -p "$cache"
  sources=$(mktemp)
  # This machine's own archive and keyring, with the suite swapped in.
  cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | sed "s/bookworm/$suite/g" >"$sources"
  say "making the $suite base root (once; a minute or two)"
  mmdebstrap --quiet --format=tar --variant=minbase --include=git,make,sudo,ca-certificates \
    "$suite" "$base.tmp" "$sources"
  rm -f "$sources"
  mv "$base.tmp" "$base"
fi

root=$(mktemp -d /var/tmp/fresh-root.XXXXXX)
echo $$ >"$root/.fresh-root-owner"
cleanup() {
  if [ -n "${FRESH_ROOT_KEEP:-}" ]; then
    umount_under "$root" || true
    touch "$root/.fresh-root-kept"
    say "kept $root"
  else
    remove_root "$root" || say "could not remove $root"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tar -xf "$base" -C "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
# What an installed Debian has and a bare root lacks.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# Packages installed in the root must not start their daemons on this host.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/work"
git clone -q "$project" "$root/work/project"
if [ -d "$shared" ]; then cp -r "$shared" "$root/work/shared" && chmod -R a-w "$root/work/shared"; fi
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
if [ -n "$out" ]; then mkdir -p "$root/work/out" && mount --bind "$out" "$root/work/out"; fi

say "fresh $suite root, project at $(git -C "$project" rev-parse --short HEAD); running: $1"
set +e
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 CI=true CCCD_FRESH_ROOT=1 /bin/sh -c "cd /work/project && $1"
rc=$?
set -e
say "exit $rc"
exit $rc
