# tools/lib/mounts.sh - sourced by the scripts that build roots (tools/fresh-root.sh,
# board/image/build-image.sh).
#
# umount_under DIR: detaches every mount at or below DIR, deepest first. A run
# killed with SIGKILL (or a reboot of the build machine's session) leaves proc,
# sys and devtmpfs mounted inside its root; `rm -rf` of that root would then
# walk into devtmpfs and delete this machine's own device nodes.
umount_under() {
  _dir=$(cd "$1" 2>/dev/null && pwd -P) || return 0
  awk -v d="$_dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts |
    sort -r | while read -r _m; do umount -l "$_m" || return 1; done
}

# remove_root DIR: umount_under DIR, then removes it; fails loudly if a mount
# is still there rather than deleting through it.
remove_root() {
  [ -e "$1" ] || return 0
  umount_under "$1" || return 1
  if awk -v d="$(cd "$1" && pwd -P)" 'index($2, d "/") == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
    echo "still mounted below $1: not removing it" >&2
    return 1
  fi
  rm -rf "$1"
}
