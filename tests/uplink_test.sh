#!/bin/sh
# uplink_test.sh - every check-in reaches the hospital exactly once.
#
# The real reader (camera files: source → decoder → spool → TLS uplink)
# against tools/his_sim on loopback, with the test PKI:
#   - normal delivery over one kept-alive connection;
#   - every fault mode of the simulator: records wait, then arrive once;
#   - TLS refusals (wrong CA, wrong host, expired, pin mismatch): refused
#     with a clear log line, records kept and delivered once the server is right;
#   - crash: 1000 check-ins while the reader is SIGKILLed at random moments
#     and restarted; at the end the simulator holds each one exactly once.
# Prints "ok - ..." / "not ok - ..." per check.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/cccd-reader
SIM=$BUILD/tools/his_sim
tmp=$(mktemp -d)
SIM_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
  pkill -9 -f "$tmp/conf" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
PKI=$BUILD/test-pki
tools/make-test-pki.sh "$PKI" >/dev/null 2>&1 || { echo "not ok - test PKI"; exit 0; }
"$BUILD/tools/card_clip" "$tmp/clip" 30 || { echo "not ok - card_clip"; exit 0; }

. tests/lib/delivery.sh

# conf NAME CLIPDIR [extra lines]: a reader config with its own spool.
# Each card is in one frame only, 100 a second, and the crash test counts
# the cards queued to know where the stream stopped: one decoder thread keeps
# every frame, in order. (With several, a busy terminal skips to the newest
# frame - right for a camera, where a card stays in view for many frames.)
conf() {
  cat >"$tmp/conf.$1" <<EOF
[device]
id = desk-test
[camera]
source = files:$2
fps = 100
[scan]
duplicate_window_s = 600
decode_threads = 1
[uplink]
url = https://localhost:$SIM_PORT/api/checkin
ca = $PKI/ca.crt
cert = $PKI/device.crt
key = $PKI/device.key
read_timeout_ms = 1500
backoff_min_ms = 100
backoff_max_ms = 1000
${3:-}
[spool]
dir = $tmp/spool.$1
EOF
}

# ---- normal delivery --------------------------------------------------------
start_sim normal
conf normal "$tmp/clip"
"$CLI" run --config "$tmp/conf.normal" >/dev/null 2>"$tmp/normal.log" &
reader=$!
wait_lines "$tmp/normal.jsonl" 30 20
sleep 0.3; kill "$reader"; wait "$reader"
check "normal: 30 cards delivered, each once" once_each "$tmp/normal.jsonl" "$tmp/clip/ids.txt"
check "normal: one kept-alive connection" grep -q 'uplink delivered=30 .*connects=1$' "$tmp/normal.log"
EXPECT_TLS=${EXPECT_TLS:-TLSv1.2}
check "normal: $EXPECT_TLS negotiated" grep -q "reachable ($EXPECT_TLS)" "$tmp/normal.log"
check "normal: no full ID number in the log" sh -c "! grep -qFf '$tmp/clip/ids.txt' '$tmp/normal.log'"
stop_sim

# ---- fault modes: records wait, then arrive exactly once ---------------------
for mode in 500 503 stall reset refuse stall-accept close close-delimited chunked; do
  echo "$mode" >"$tmp/f$mode.mode"
  start_sim "f$mode"
  conf "f$mode" "$tmp/clip"
  "$CLI" run --config "$tmp/conf.f$mode" >/dev/null 2>"$tmp/f$mode.log" &
  reader=$!
  case $mode in
    close|close-delimited|chunked)          # answered normally, framed differently
       wait_lines "$tmp/f$mode.jsonl" 30 30 ;;
    reset) sleep 2 ;;                      # stored, answer lost: the retries get 409
    *) sleep 2
       check "$mode: nothing accepted while failing" test "$(lines "$tmp/f$mode.jsonl")" -eq 0
       check "$mode: the reader says why, once" test "$(grep -c 'uplink: ' "$tmp/f$mode.log")" -ge 1 ;;
  esac
  echo none >"$tmp/f$mode.mode"
  wait_lines "$tmp/f$mode.jsonl" 30 30
  sleep 0.5; kill "$reader"; wait "$reader"
  check "$mode: all 30 delivered exactly once after recovery" once_each "$tmp/f$mode.jsonl" "$tmp/clip/ids.txt"
  stop_sim
  [ "$mode" = close ] && check "close: a new connection per record resumes the TLS session" \
    grep -q 'resumed=[1-9]' "$tmp/fclose.sim.err"
done
grep -q 'next try in 2[0-9][0-9][0-9] ms\|next try in 1[5-9][0-9][0-9] ms' "$tmp/f503.log" &&
  echo "ok - 503: Retry-After 2 s honoured" || echo "not ok - 503: Retry-After not honoured: $(grep 'next try' "$tmp/f503.log" | head -n 2)"

# ---- TLS refusals -----------------------------------------------------------
wrongpin=0000000000000000000000000000000000000000000000000000000000000000
for case in wrong-cert expired-cert wrong-host pin; do
  if [ "$case" = pin ]; then start_sim "t$case"; extra="pin_sha256 = $wrongpin"
  else start_sim "t$case" --fault "$case"; extra=""; fi
  conf "t$case" "$tmp/clip" "$extra"
  "$CLI" run --config "$tmp/conf.t$case" >/dev/null 2>"$tmp/t$case.log" &
  reader=$!
  sleep 2.5
  kill "$reader"; wait "$reader"
  check "$case: refused, nothing delivered" test "$(lines "$tmp/t$case.jsonl")" -eq 0
  check "$case: log says the certificate was refused" grep -q 'server certificate refused' "$tmp/t$case.log"
  stop_sim
  # The same spool against a correct server: everything kept is delivered.
  start_sim "t$case-after"
  conf "t$case" "$tmp/clip" ""
  mkdir -p "$tmp/none"
  "$CLI" run --config "$tmp/conf.t$case" >/dev/null 2>>"$tmp/t$case.log" &
  reader=$!
  wait_lines "$tmp/t$case-after.jsonl" 30 20
  kill "$reader"; wait "$reader"
  check "$case: records kept and delivered once the server is right" test "$(lines "$tmp/t$case-after.jsonl")" -ge 30
  stop_sim
done

# ---- crash: SIGKILL at random moments --------------------------------------
N=${CRASH_RECORDS:-1000}
"$BUILD/tools/card_clip" "$tmp/crash" "$N" --seed 11 || { echo "not ok - card_clip $N"; exit 0; }
start_sim crash
seed=${CRASH_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "# crash test seed $seed"
offset=0; kills=0; run=0
: >"$tmp/crash.queued"
while [ "$offset" -lt "$N" ] && [ $run -lt 60 ]; do
  run=$((run + 1))
  rm -rf "$tmp/crash-run"; mkdir "$tmp/crash-run"
  i=$offset; while [ $i -lt "$N" ]; do f=$(printf %04d $i); ln -s "$tmp/crash/$f.pgm" "$tmp/crash-run/$f.pgm"; i=$((i + 1)); done
  conf crash "$tmp/crash-run"
  "$CLI" run --config "$tmp/conf.crash" --once >/dev/null 2>"$tmp/crash.log.$run" &
  reader=$!
  delay=$(awk -v s="$seed" -v r="$run" 'BEGIN { srand(s + r); printf "%.2f", 0.2 + rand() * 1.3 }')
  sleep "$delay"
  if kill -9 "$reader" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$reader" 2>/dev/null
  grep -o 'queued id=\*\*\*\*\*\*\*\*[0-9]* key=[^ ]*' "$tmp/crash.log.$run" >>"$tmp/crash.queued"
  n=$(grep -c 'queued id=' "$tmp/crash.log.$run")
  offset=$((offset + n))
done
# A last run with one empty frame drains what is still queued.
rm -rf "$tmp/crash-run"; mkdir "$tmp/crash-run"
conf crash "$tmp/crash-run"
printf 'P5\n64 64\n255\n' >"$tmp/crash-run/blank.pgm"; head -c 4096 /dev/zero >>"$tmp/crash-run/blank.pgm"
"$CLI" run --config "$tmp/conf.crash" >/dev/null 2>"$tmp/crash.log.final" &
reader=$!
wait_lines "$tmp/crash.jsonl" "$N" 60
sleep 1; kill "$reader"; wait "$reader"
echo "# crash test: $run runs, $kills SIGKILLs, $(lines "$tmp/crash.jsonl") records at the simulator"
check "crash: no key delivered twice" test "$(keys "$tmp/crash.jsonl" | sort | uniq -d | wc -l)" -eq 0
sed 's/.*key=//' "$tmp/crash.queued" | sort -u >"$tmp/k.announced"
keys "$tmp/crash.jsonl" | sort -u >"$tmp/k.sim"
check "crash: every announced check-in is at the simulator ($(grep -c . "$tmp/k.announced") announced)" \
  test -z "$(comm -23 "$tmp/k.announced" "$tmp/k.sim")"
check "crash: every card of the stream arrived" test -z "$(ids "$tmp/crash.jsonl" | sort -u | comm -13 - "$(sort "$tmp/crash/ids.txt" >"$tmp/ids.sorted"; echo "$tmp/ids.sorted")")"
dups=$(ids "$tmp/crash.jsonl" | sort | uniq -d | wc -l)
# A card stored in the instant between fdatasync and its log line is shown
# again after the restart, as a patient would do without the beep: at most
# one such card per kill.
check "crash: each card once (re-shown after an unannounced store: $dups <= $kills kills)" test "$dups" -le "$kills"
stop_sim
exit 0
