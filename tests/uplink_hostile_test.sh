#!/bin/sh
# uplink_hostile_test.sh - servers that misbehave, and the service's stop and
# reload while one holds a request.
#
# The real terminal against tools/his_sim's hostile modes (docs/his-sim.md):
#   - stray: a second, unasked 200 on a kept-alive connection must not ack
#     the next record (the server had answered it 503);
#   - overlong: bytes past Content-Length close the connection;
#   - trickle, continue-flood, header-trickle: the request's deadline
#     (request_timeout_ms) ends each, and SIGTERM ends the service within 2 s;
#   - redirects, a proxy's 403, the same 422 for every record: records kept,
#     at most the first set aside, all delivered once things are right;
#   - SIGHUP while a request is stalled: scanning never pauses.
# Prints the measured stop and pause times as comments (docs/bench.md).
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/cccd-reader
SIM=$BUILD/tools/his_sim
PKI=$BUILD/test-pki
tmp=$(mktemp -d)
SIM_PID="" READER=""
. tests/lib/delivery.sh
cleanup() {
  stop_reader; stop_sim
  if [ -n "${KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
tools/make-test-pki.sh "$PKI" >/dev/null 2>&1 || { echo "not ok - test PKI"; exit 0; }
"$BUILD/tools/card_clip" "$tmp/clip" 10 >/dev/null || { echo "not ok - card_clip"; exit 0; }
"$BUILD/tools/card_clip" "$tmp/clip40" 40 --seed 40 >/dev/null || { echo "not ok - card_clip 40"; exit 0; }
# A camera that sees no card: a restart that only empties the queue.
mkdir "$tmp/blank" && { printf 'P5\n16 16\n255\n'; head -c 256 /dev/zero; } >"$tmp/blank/0000.pgm"
now_ms() { date +%s%3N; }

# conf NAME [CLIP [extra [uplink] lines]]: the terminal, request deadline 3 s.
conf() {
  cat >"$tmp/conf.$1" <<EOF
[device]
id = desk-test
[camera]
source = files:${2:-$tmp/clip}
fps = ${FPS:-100}
loop = ${LOOP:-false}
[scan]
duplicate_window_s = ${WINDOW_S:-600}
decode_threads = 1
[uplink]
url = https://localhost:$SIM_PORT/api/checkin
ca = $PKI/ca.crt
cert = $PKI/device.crt
key = $PKI/device.key
read_timeout_ms = 1500
request_timeout_ms = ${DEADLINE_MS:-3000}
backoff_min_ms = 200
backoff_max_ms = 1000
${3:-}
[spool]
dir = $tmp/spool.$1
EOF
}

# scenario NAME MODE [his_sim options]: 10 cards queued while the sim is in
# MODE for 3 s, then it turns normal; every card must arrive once.
scenario() {
  name=$1 mode=$2; shift 2
  echo "$mode" >"$tmp/$name.mode"
  start_sim "$name" "$@"
  conf "$name"
  run_bg "$name"
  sleep 3
}
recover() { # recover NAME: the sim turns normal; all 10 must arrive once
  echo none >"$tmp/$1.mode"
  wait_lines "$tmp/$1.jsonl" 10 20
  sleep 0.3
  check "$1: after the server is right, all 10 delivered, each once" once_each "$tmp/$1.jsonl" "$tmp/clip/ids.txt"
  stop_reader; stop_sim
}
# acked_not_stored NAME: keys the terminal says it delivered that the sim
# never stored (the stray answer's victims).
acked_not_stored() {
  sed -n 's/.*delivered id=[^ ]* key=\([^ ]*\).*/\1/p' "$tmp/$1.log" | sort -u >"$tmp/$1.acked"
  keys "$tmp/$1.jsonl" | sort -u >"$tmp/$1.stored"
  comm -23 "$tmp/$1.acked" "$tmp/$1.stored"
}

# ---- stray: an unasked answer never acks the next record ---------------------
# 50 ms late: it comes after the next request went out, and names the record
# it answers (Idempotency-Key); at once: it sits in front of the next request.
for late in 50 0; do
  scenario "stray$late" stray --stray-ms "$late"
  check "stray $late ms: no record counted delivered that the service did not store" \
    test -z "$(acked_not_stored "stray$late")"
  recover "stray$late"
  check "stray $late ms: still nothing counted delivered that was not stored" test -z "$(acked_not_stored "stray$late")"
done
check "stray 50 ms: the terminal saw the answer was for another record" \
  grep -q 'Idempotency-Key differs' "$tmp/stray50.log"

# ---- overlong: bytes after an answer close the connection --------------------
scenario overlong overlong
wait_lines "$tmp/overlong.jsonl" 10 10
stop_reader
check "overlong: all 10 delivered, each once" once_each "$tmp/overlong.jsonl" "$tmp/clip/ids.txt"
check "overlong: a fresh connection after every answer (10 connects)" \
  grep -q 'uplink delivered=10 .*connects=10$' "$tmp/overlong.log"
stop_sim

# ---- refusals of the terminal: nothing set aside -----------------------------
for mode in 302 proxy-403; do
  scenario "r$mode" "$mode"
  check "$mode: nothing delivered, nothing set aside" sh -c \
    "test $(lines "$tmp/r$mode.jsonl") -eq 0 && test ! -s '$tmp/spool.r$mode/dead.log'"
  check "$mode: the log says the terminal is refused, once" \
    test "$(grep -c 'refuses this terminal' "$tmp/r$mode.log")" -eq 1
  recover "r$mode"
done

# ---- the same refusal for every record: the guard ----------------------------
scenario guard schema-refused
check "schema-refused: one record set aside, the other 9 kept" sh -c \
  "test \$(grep -c 'refused by the service' '$tmp/guard.log') -eq 1 && test $(lines "$tmp/guard.jsonl") -eq 0"
check "schema-refused: then taken as a refusal of the terminal" grep -q 'refuses this terminal.*unknown schema' \
  "$tmp/guard.log"
echo none >"$tmp/guard.mode"
wait_lines "$tmp/guard.jsonl" 9 20
sleep 0.3
check "schema-refused: once accepted, the 9 kept are delivered, each once" sh -c \
  "test $(lines "$tmp/guard.jsonl") -eq 9 && test \$(sed 's/.*idempotency_key.:.\([^\"]*\).*/\1/' '$tmp/guard.jsonl' | sort -u | wc -l) -eq 9"
stop_reader; stop_sim

# ---- answers that never end: the deadline, and SIGTERM within 2 s -----------
for mode in trickle continue-flood header-trickle; do
  case $mode in
    trickle) opt="--trickle-ms 1000" ;;
    continue-flood) opt="--flood-ms 300" ;; # each line well within read_timeout_ms
    *) opt="--header-ms 300" ;;
  esac
  # shellcheck disable=SC2086 # the option and its value, split on purpose
  scenario "s$mode" "$mode" $opt
  sleep 1.5
  check "$mode: the request's deadline ends it (logged)" grep -q 'request_timeout_ms' "$tmp/s$mode.log"
  t0=$(now_ms)
  kill -TERM "$READER"
  i=0; while kill -0 "$READER" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); done
  t=$(( $(now_ms) - t0 ))
  wait "$READER" 2>/dev/null; READER=""
  note "$mode: SIGTERM to exit in $t ms while a request was held"
  check "$mode: SIGTERM stops the service within 2 s ($t ms)" test "$t" -le 2000
  # The spool kept everything: a normal server gets all 10, once.
  echo none >"$tmp/s$mode.mode"
  conf "s$mode" "$tmp/blank"
  run_bg "s$mode"
  wait_lines "$tmp/s$mode.jsonl" 10 20
  sleep 0.3
  check "$mode: all 10 delivered after, each once" once_each "$tmp/s$mode.jsonl" "$tmp/clip/ids.txt"
  stop_reader; stop_sim
done

# ---- SIGHUP while a request is held: scanning does not pause ----------------
# A looping clip of 40 cards at 20 frames a second with no duplicate window:
# every frame is an outcome. The sim floods "100 Continue" with a deadline of
# a minute, so the uplink is inside a request when the reload comes.
echo continue-flood >"$tmp/hup.mode"
start_sim hup --flood-ms 200
FPS=20 LOOP=true WINDOW_S=0 DEADLINE_MS=60000 conf hup "$tmp/clip40"
run_bg hup
wait_grep "$tmp/hup.log" 'outcome=accepted' 10
sleep 1
# outcome counts every 50 ms for 1 s, SIGHUP (an [uplink] change), 3 s more
FPS=20 LOOP=true WINDOW_S=0 DEADLINE_MS=60000 conf hup "$tmp/clip40" "connect_timeout_ms = 4000"
: >"$tmp/hup.samples"
i=0; hup_at=""
while [ $i -lt 80 ]; do
  [ $i -eq 20 ] && { kill -HUP "$READER"; hup_at=$(now_ms); }
  echo "$(now_ms) $(grep -c 'outcome=' "$tmp/hup.log")" >>"$tmp/hup.samples"
  sleep 0.05; i=$((i + 1))
done
# The longest stretch without a new outcome, from the samples.
gap=$(awk 'NR == 1 { t = $1; n = $2; next } $2 > n { if ($1 - t > g) g = $1 - t; t = $1; n = $2 } END { print g + 0 }' \
  "$tmp/hup.samples")
outcomes=$(awk 'NR == 1 { a = $2 } END { print $2 - a }' "$tmp/hup.samples")
note "reload while the uplink is held: $outcomes outcomes in $(( $(tail -n 1 "$tmp/hup.samples" | cut -d' ' -f1) - $(head -n 1 "$tmp/hup.samples" | cut -d' ' -f1) )) ms around it, longest gap $gap ms"
check "reload: the configuration was reloaded, camera and desk kept running" \
  grep -q 'configuration reloaded.*camera and desk kept running' "$tmp/hup.log"
check "reload: scanning never paused (longest gap $gap ms <= 500 ms at 20 frames a second)" test "$gap" -le 500
stop_reader; stop_sim
