#!/bin/sh
# uplink_trixie_test.sh - the delivery tests again on the trixie flavour:
# mbedtls 3.6 built from Debian trixie's sources (tools/build-trixie-libs.sh),
# where the uplink must negotiate TLS 1.3 with the simulator.
set -u
BUILD=${BUILD:-build}
T=$BUILD/trixie
if ! make --no-print-directory trixie-libs >"$BUILD/trixie-libs.log" 2>&1; then
  echo "not ok - trixie libraries did not build: $(tail -n 3 "$BUILD/trixie-libs.log")"; exit 0
fi
if ! make --no-print-directory FLAVOR=trixie BUILD="$T" "$T/cccd-reader" "$T/tools/his_sim" "$T/tools/card_clip" \
     >"$BUILD/trixie-build.log" 2>&1; then
  echo "not ok - trixie flavour did not build: $(grep -m3 'error' "$BUILD/trixie-build.log")"; exit 0
fi
echo "ok - trixie flavour built against $(grep -h '^Version' build/trixie-libs/prefix/lib/pkgconfig/mbedtls.pc | head -n 1)"
EXPECT_TLS=TLSv1.3 BUILD=$T CRASH_RECORDS=${CRASH_RECORDS:-200} sh tests/uplink_test.sh
