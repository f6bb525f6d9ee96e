#!/bin/sh
# demo.sh - what `make demo` shows: the sample frames decoded and verified.
# Usage: tools/demo.sh BUILD_DIR
set -eu
build=${1:-build}
samples=$build/samples
rm -rf "$samples"
"$build/tools/make_frames" --samples "$samples" >/dev/null
echo "== cccd-reader demo: decoding the sample frames in $samples"
echo "   (personal data is masked; add --show-pii to see it, --json for programs)"
echo
"$build/cccd-reader" scan "$samples"/*.*
