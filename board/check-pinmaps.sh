#!/bin/sh
# Check that each board/pinmap-*.conf is a valid [gpio] section for cccd-reader.
#
# For each pin map, writes a config holding a [camera] section that replays one
# sample picture (files:), the pin map's [gpio] section with backend switched
# to null (no GPIO hardware needed) and a throw-away spool, then runs
#   cccd-reader run --config FILE --once
# The program refuses to start on an unknown key or a bad value, so exit 0 and
# a "started" line mean every key of the pin map parsed. It also checks that the
# pin map sets exactly the [gpio] keys of board/cccd-reader.conf.
#
#   board/check-pinmaps.sh [PROGRAM]     (default build/cccd-reader; run `make` first)
#
# Prints "ok - FILE" or "not ok - FILE: why" per pin map; exit status 0 = all ok.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
prog=${1:-$top/build/cccd-reader}
sample=$top/build/samples/01-card-2021.png
[ -x "$prog" ] || { echo "not ok - $prog is not built (run make)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -f "$sample" ] && [ -x "$top/build/tools/make_frames" ]; then
    "$top/build/tools/make_frames" --samples "$work/samples" >/dev/null 2>&1 && sample=$work/samples/01-card-2021.png
fi
[ -f "$sample" ] || { echo "not ok - no sample picture (run make demo, or make tools)"; exit 1; }
mkdir "$work/frames" && cp "$sample" "$work/frames/"

# The keys of the reference [gpio] section, commented-out ones included.
gpio_keys() {
    awk '/^\[/{s=$0} s=="[gpio]" && /^;?[a-z_]+ *=/{sub(/^;/,""); sub(/ *=.*/,""); print}' "$1" | sort -u
}
gpio_keys "$top/board/cccd-reader.conf" > "$work/ref.keys"

fail=0
for map in "$here"/pinmap-*.conf; do
    name=board/$(basename "$map")
    gpio_keys "$map" > "$work/map.keys"
    if ! cmp -s "$work/ref.keys" "$work/map.keys"; then
        echo "not ok - $name: [gpio] keys differ from board/cccd-reader.conf:"
        diff "$work/ref.keys" "$work/map.keys" | sed -n 's/^[<>]/    &/p'
        fail=1; continue
    fi
    if [ "$(grep -c '^\[' "$map")" != 1 ] || ! grep -q '^\[gpio\]$' "$map"; then
        echo "not ok - $name: must hold exactly one section, [gpio]"; fail=1; continue
    fi
    if ! grep -q '^backend = gpiod$' "$map"; then
        echo "not ok - $name: backend is not gpiod"; fail=1; continue
    fi
    conf=$work/test.conf
    {
        # the pin map first, so a line number in an error is the pin map's own
        sed 's/^backend = gpiod$/backend = null/' "$map"
        printf '\n[camera]\nsource = files:%s\n\n[spool]\ndir = %s\n' "$work/frames" "$work/spool"
    } > "$conf"
    rm -rf "$work/spool"
    if out=$(timeout 30 "$prog" run --config "$conf" --once 2>&1) && printf '%s\n' "$out" | grep -q 'started'; then
        echo "ok - $name"
    else
        echo "not ok - $name: $(printf '%s\n' "$out" | grep -m1 -v '^$' | sed "s|$conf|$name|")"
        fail=1
    fi
done
exit $fail
