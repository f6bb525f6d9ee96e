#!/bin/sh
# valgrind_test.sh - the long-running loop under valgrind: no invalid reads
# or writes, no definite leaks, over a few hundred frames with cards,
# duplicates, rejections, not-card codes and empty scenes.
set -u
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v valgrind >/dev/null; then echo "not ok - valgrind is not installed"; exit 0; fi
"$BUILD/tools/make_frames" --samples "$tmp/samples" >/dev/null 2>&1 || { echo "not ok - make_frames --samples"; exit 0; }
mkdir "$tmp/clip"
i=0
empty=$(ls "$tmp"/samples/*empty*)
for round in 1 2 3 4 5 6 7 8 9 10; do   # every sample ten times, apart: fresh sightings
  for f in "$tmp"/samples/*.* $(for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do echo "$empty"; done); do
    i=$((i + 1)); ln -s "$f" "$tmp/clip/$(printf %04d $i).${f##*.}"
  done
done
cat >"$tmp/conf" <<CONF
[camera]
source = files:$tmp/clip
fps = 100
[scan]
duplicate_window_s = 1
CONF
valgrind --quiet --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite "$BUILD/cccd-reader" run --config "$tmp/conf" --once >"$tmp/out" 2>"$tmp/err"
rc=$?
grep -v '^<[0-9]>' "$tmp/err" | sed 's/^/# /' | head -n 40
if [ $rc -eq 0 ]; then echo "ok - run --once over $i frames is valgrind clean"; else echo "not ok - valgrind exit $rc"; fi
if grep -q 'stats frames='"$i"' ' "$tmp/err"; then echo "ok - every frame was processed"; else
  echo "not ok - frame count: $(grep stats "$tmp/err")"; fi
if grep -q 'outcome=accepted' "$tmp/err" && grep -q 'outcome=not-card' "$tmp/err"; then echo "ok - outcomes logged"; else echo "not ok - outcomes missing"; fi
