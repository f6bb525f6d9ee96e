#!/bin/sh
# build-helpers.sh - builds the HIL test's own programs (tools/hil/*.c).
#
#   tools/hil/build-helpers.sh [OUTDIR]      (default build/hil/bin; run from the repo root)
#
# The Makefile builds tools/*.c but not tools/hil/*.c. Rather than copy its
# flags, this asks make for them (BASE_CFLAGS, CFLAGS, CC, ... of the default
# bookworm flavour), so the helpers compile exactly as the project does,
# warnings as errors included. build/libcccd.a must exist (`make all`).
#
#   guest programs, linked statically (no libraries to carry into the guest):
#     gpio-watch   records the output lines' levels over time
#     gpio-probe   lists a chip's lines, waits for edges (uAPI v2, no libgpiod)
#     v4l2-grab    captures frames like the program does
#     v4l2-feed    plays pictures into v4l2loopback (image_load from libcccd.a)
#   host program:
#     hil-frames   draws the rejected-card frame make_frames does not make
#
# Rebuilds a program only when its source, the library or the headers changed.
set -eu

out=${1:-build/hil/bin}
mkdir -p "$out"

mkvar() {
  make -s --no-print-directory --eval 'hil-print-%: ; @printf "%s\n" "$($*)"' "hil-print-$1"
}
CC=$(mkvar CC)
BASE_CFLAGS=$(mkvar BASE_CFLAGS)
CFLAGS=$(mkvar CFLAGS)
PKG_LIBS=$(mkvar PKG_LIBS)
TOOL_LIBS=$(mkvar TOOL_LIBS)
TOOL_COMMON=$(mkvar TOOL_COMMON)
lib=build/libcccd.a
[ -f "$lib" ] || { echo "build-helpers: $lib is missing: run make all first" >&2; exit 1; }

# newer TARGET FILE... : true when TARGET is missing or older than a FILE.
stale() {
  t=$1; shift
  [ -e "$t" ] || return 0
  for f in "$@"; do [ "$f" -nt "$t" ] && return 0; done
  return 1
}

headers=$(ls include/*/*.h tools/common/*.h)

for p in gpio-watch gpio-probe v4l2-grab; do
  # shellcheck disable=SC2086
  if stale "$out/$p" "tools/hil/$p.c" $headers; then
    echo "build-helpers: $p"
    # shellcheck disable=SC2086 # flag lists are split on purpose
    $CC $BASE_CFLAGS $CFLAGS -static -o "$out/$p" "tools/hil/$p.c"
  fi
done

# shellcheck disable=SC2086
if stale "$out/v4l2-feed" tools/hil/v4l2-feed.c "$lib" $headers; then
  echo "build-helpers: v4l2-feed"
  static_libs=$(pkg-config --static --libs libpng libjpeg)
  # shellcheck disable=SC2086
  if ! $CC $BASE_CFLAGS $CFLAGS -static -o "$out/v4l2-feed" tools/hil/v4l2-feed.c "$lib" $static_libs -lm 2>"$out/v4l2-feed.static.log"; then
    # No static libpng/libjpeg here: link dynamically; the initramfs builder
    # copies whatever ldd lists.
    echo "build-helpers: static link failed (see $out/v4l2-feed.static.log); linking dynamically"
    # shellcheck disable=SC2086
    $CC $BASE_CFLAGS $CFLAGS -o "$out/v4l2-feed" tools/hil/v4l2-feed.c "$lib" $PKG_LIBS
  else
    rm -f "$out/v4l2-feed.static.log"
  fi
fi

# shellcheck disable=SC2086
if stale "$out/hil-frames" tools/hil/hil-frames.c $TOOL_COMMON "$lib" $headers; then
  echo "build-helpers: hil-frames"
  # shellcheck disable=SC2086
  $CC $BASE_CFLAGS -Itools/common $CFLAGS -o "$out/hil-frames" tools/hil/hil-frames.c $TOOL_COMMON "$lib" $TOOL_LIBS $PKG_LIBS
fi
