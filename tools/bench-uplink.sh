#!/bin/sh
# bench-uplink.sh BUILD - the queue and uplink benchmark against his_sim on
# loopback (tools/bench_uplink.c): appends/s, drain with and without
# connection reuse. Takes a few minutes: one TLS handshake per record is slow.
set -eu
build=${1:-build}
tools/make-test-pki.sh "$build/test-pki" >/dev/null
out=$build/bench
mkdir -p "$out"
rm -f "$out/sim.port" "$out/sim.jsonl"
"$build/tools/his_sim" --pki "$build/test-pki" --require-client-cert --out "$out/sim.jsonl" --port 0 \
  --port-file "$out/sim.port" >/dev/null 2>"$out/sim.err" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
i=0; while [ ! -s "$out/sim.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$build/tools/bench_uplink" --url "https://localhost:$(cat "$out/sim.port")/api/checkin" \
  --ca "$build/test-pki/ca.crt" --cert "$build/test-pki/device.crt" --key "$build/test-pki/device.key" \
  --records "${BENCH_RECORDS:-5000}" --dir "$out/spool" --markdown "$out/uplink.md"
