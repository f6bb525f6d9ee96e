#!/bin/sh
# demo.sh BUILD - what `make demo` shows.
#
#  1. The sample frames decoded and verified one by one (`cccd-reader scan`).
#  2. The whole terminal: a replayed clip of cards (with a duplicate, a
#     rejected card and a QR code that is not a card) through the camera
#     loop, the desk signals, the durable queue and the TLS uplink to the
#     hospital simulator on loopback, with a generated test PKI. Then what the
#     desk would have shown and what the hospital received.
# Personal data is masked throughout (the people are invented anyway).
#
# The demo checks itself: it exits 1, naming what is missing, unless the
# hospital received exactly the cards the clip should have delivered (each
# card once: the duplicate, the rejected card and the URL are not sent).
# DEMO_HOST (default localhost) names the simulator's host: CI sets an
# unresolvable one to see the demo fail as it must.
set -eu
build=${1:-build}
host=${DEMO_HOST:-localhost}
out=$build/demo
rm -rf "$out"
mkdir -p "$out/clip"
"$build/tools/make_frames" --samples "$out/samples" >/dev/null
tools/make-test-pki.sh "$build/test-pki" >/dev/null

echo "== 1. Decoding the sample frames ($out/samples)"
echo
"$build/cccd-reader" scan "$out"/samples/*.* || true
echo

# The clip: each picture held up for a few frames, then an empty desk long
# enough (1.75 s) for the card to count as gone.
n=0
add() {
  i=0
  while [ $i -lt "$2" ]; do
    i=$((i + 1)); n=$((n + 1))
    ln -s "$(cd "$out/samples" && pwd)/$1" "$out/clip/$(printf %04d $n).${1##*.}"
  done
}
gap() { add 06-empty.png 35; }
add 01-card-2021.png 3; gap
add 02-card-2024-big5-name.png 3; gap
add 01-card-2021.png 3; gap              # the same patient again: already checked in
add 07-card-rejected.png 3; gap
add 05-not-card-url.png 3; gap
add 04-card-jpeg.jpg 3; add 06-empty.png 5

"$build/tools/his_sim" --pki "$build/test-pki" --require-client-cert --out "$out/hospital.jsonl" --port 0 \
  --port-file "$out/sim.port" >/dev/null 2>"$out/sim.log" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
i=0; while [ ! -s "$out/sim.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
cat >"$out/cccd-reader.conf" <<EOF
[device]
id = demo-desk
[camera]
source = files:$out/clip
fps = 20
[gpio]
backend = null
[uplink]
url = https://$host:$(cat "$out/sim.port")/api/checkin
ca = $build/test-pki/ca.crt
cert = $build/test-pki/device.crt
key = $build/test-pki/device.key
[spool]
dir = $out/spool
EOF

echo "== 2. The terminal end to end: camera clip -> desk -> queue -> TLS -> hospital simulator"
echo "   (cccd-reader run --config $out/cccd-reader.conf --once; log in $out/terminal.log)"
echo
"$build/cccd-reader" run --config "$out/cccd-reader.conf" --once 2>"$out/terminal.log"
kill $sim 2>/dev/null; wait $sim 2>/dev/null || true

echo "What the desk showed:"
sed -n 's/^<[0-9]>//p' "$out/terminal.log" | while read -r line; do
  case $line in
    outcome=accepted*) echo "  green light, one short beep         card accepted      ${line#outcome=accepted }" ;;
    outcome=duplicate*) echo "  green flashes twice, two beeps      already checked in ${line#outcome=duplicate }" ;;
    outcome=rejected*) echo "  red light, one long beep            card rejected      ${line#outcome=rejected }" ;;
    outcome=not-card*) echo "  red flashes three times, silent     not an ID card     ${line#outcome=not-card }" ;;
    outcome=queue-full*) echo "  red and amber, very long beep       queue full         ${line#outcome=queue-full }" ;;
    insurance*) echo "  amber flashes, two beeps            insurance check    ${line#insurance }" ;;
  esac
done
echo
echo "What the hospital received ($out/hospital.jsonl, shown masked):"
sed 's/.*"idempotency_key":"\([^"]*\)".*"scan_time":"\([^"]*\)".*"card_type":"\([^"]*\)".*"id_number":"[0-9]\{8\}\([0-9]\{4\}\)".*/  \2  \3  ********\4  key \1/' \
  "$out/hospital.jsonl"
echo
grep -h 'uplink delivered' "$out/terminal.log" | sed 's/^<[0-9]>/  /'
echo

# What should have arrived: the ID numbers of the clip's good cards, as the
# terminal's own decoder reads them from the pictures.
"$build/cccd-reader" scan --json "$out/samples/01-card-2021.png" "$out/samples/02-card-2024-big5-name.png" \
  "$out/samples/04-card-jpeg.jpg" 2>/dev/null | sed -n 's/.*"id_number":"\([0-9]*\)".*/\1/p' | sort >"$out/expected.ids"
sed -n 's/.*"id_number":"\([0-9]*\)".*/\1/p' "$out/hospital.jsonl" 2>/dev/null | sort >"$out/received.ids"
mask() { sed 's/^[0-9]\{8\}/********/'; }
missing=$(comm -23 "$out/expected.ids" "$out/received.ids" | mask)
extra=$(sort "$out/received.ids" | uniq -d | mask)
if [ "$(wc -l <"$out/expected.ids")" -ne 3 ] || [ -n "$missing" ] || [ -n "$extra" ] ||
   [ "$(wc -l <"$out/received.ids")" -ne 3 ]; then
  echo "demo FAILED: the hospital did not receive what the clip should have delivered." >&2
  [ -n "$missing" ] && echo "  missing: $(echo $missing)" >&2
  [ -n "$extra" ] && echo "  received twice: $(echo $extra)" >&2
  [ "$(wc -l <"$out/expected.ids")" -ne 3 ] && echo "  the sample cards themselves did not decode" >&2
  echo "  the terminal's log ($out/terminal.log) says:" >&2
  grep -h 'uplink\|queue\|not starting' "$out/terminal.log" | tail -n 5 | sed 's/^/    /' >&2
  exit 1
fi
echo "demo: the hospital received the 3 cards of the clip, each once."
