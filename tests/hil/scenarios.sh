# scenarios.sh - the desk, end to end, for one flavour of the program (sourced by /init).
#
#   run_scenarios FLAVOUR      (/hil/flavours/FLAVOUR/cccd-reader)
#
# The program runs as on the terminal (`cccd-reader run --config FILE`) with
# the gpiod backend on gpio-sim's lines (found by name) and the v4l2 camera
# on v4l2loopback, fed by v4l2-feed: GREY for bookworm, YUYV for trixie, so
# both capture paths are exercised. gpio-watch records the four outputs; each
# scenario shows something to the camera or touches the button, waits for the
# program's log line, and checks the lines' pattern in the recording:
#
#   start      lines requested by name (consumer cccd-reader), camera open, all off
#   accepted   green 1x ~1000 ms, buzzer 1x ~150 ms from the same moment, red silent
#   button     a press (active low) replays the last outcome's pattern
#   duplicate  the same card again: green 2x ~200 ms 200 ms apart, buzzer 2x ~80 ms
#   rejected   a card that fails verification: red ~1000 ms, buzzer ~600 ms
#   not-card   a non-card QR: red 3x ~150 ms, no buzzer
#   quiet      an empty desk for 3 s: no transition at all
#   camera     the feeder exits: "fault=camera" logged and red blinks 500/500 ms
#              within ~5 s, no buzzer; a new feeder (camera plugged back):
#              "camera=ok", blinking stops, a card reads again
#   stop       SIGTERM: exits 0, lines released and off
#   privacy    the log never holds an ID number, name or birth date
#
# Tolerances: HIL_TOL_PCT (default 40 %) on lengths and gaps.

FRAMES=/hil/frames
CARD_A=$FRAMES/01-card-2021.png
CARD_B=$FRAMES/02-card-2024-big5-name.png
NOT_CARD=$FRAMES/05-not-card-url.png
EMPTY=$FRAMES/06-empty.png
REJECTED=$FRAMES/rejected-card.png
# What the program must never log: card A's and B's ID numbers, names, birth dates.
PII_PATTERNS='001190012345|092195004821|362145789|Nguy|Hồng Nhung|Phương Thảo|05011990|14031995'
# A code must be out of view this long before showing it again is a new sighting.
GONE_MS=2200

write_config() {
  cat >"$1" <<EOF
[device]
id = hil-01

[camera]
source = v4l2:/dev/video0
width = 640
height = 480
fps = 10

[gpio]
backend = gpiod
chip =
green = cccd-green
red = cccd-red
amber = cccd-amber
buzzer = cccd-buzzer
button = cccd-button
button_active_low = true

[scan]
duplicate_window_s = 30
EOF
}

# outcome WORD TIMEOUT_MS: waits for "outcome=WORD" in the log after line $MARK.
outcome() {
  if ! wait_for "$2" log_has "$LOG" "$MARK" "outcome=$1"; then
    echo "no 'outcome=$1' line within $(($2 / 1000)) s; log since:"
    tail -n "+$((MARK + 1))" "$LOG"
    return 1
  fi
  tail -n "+$((MARK + 1))" "$LOG" | grep -E "outcome=" | head -n 1
}

mark() {
  MARK=$(log_lines "$LOG")
  T0=$(now_ms)
}

alive() {
  kill -0 "$READER_PID" 2>/dev/null || { echo "cccd-reader is not running; log:"; cat "$LOG"; return 1; }
}

# silent LINE...: none of these lines went high since T0.
silent() {
  t1=$(now_ms)
  for l in "$@"; do
    expect_pattern "$GLOG" "$l" "$T0" "$t1" 0 0 || return 1
  done
}

# the card leaves the camera's view long enough to count as gone.
clear_desk() {
  feed show "$EMPTY" && sleep_ms "$GONE_MS"
}

sc_start() {
  write_config "$DIR/reader.conf"
  pull "$OFF_BUTTON" up
  feed_start "$DIR" "$FORMAT" 10 || return 1
  feed show "$EMPTY" || return 1
  watch_start "$GLOG" || { echo "gpio-watch wrote nothing"; return 1; }
  "$READER" run --config "$DIR/reader.conf" 2>"$LOG" &
  READER_PID=$!
  MARK=0
  wait_for 10000 log_has "$LOG" 0 "started" || { alive; echo "no 'started' line within 10 s"; return 1; }
  grep started "$LOG"
  sleep 2
  alive || return 1
  if grep -q "fault=camera" "$LOG"; then
    cat "$LOG"
    echo "camera fault with a writer feeding frames"
    return 1
  fi
  gpio-probe info "$GPIO_CHIPDEV" >"$DIR/info"
  cat "$DIR/info"
  for o in $OFF_GREEN $OFF_RED $OFF_AMBER $OFF_BUZZER; do
    grep -q "^$o [a-z-]* cccd-reader output" "$DIR/info" || { echo "line $o is not an output of cccd-reader"; return 1; }
  done
  grep -q "^$OFF_BUTTON [a-z-]* cccd-reader input" "$DIR/info" || { echo "the button is not an input of cccd-reader"; return 1; }
  for o in green red amber buzzer; do
    [ "$(level "$GLOG" $o "$(now_ms)")" = 0 ] || { echo "$o is on at idle"; return 1; }
  done
}

sc_accepted() {
  mark
  feed show "$CARD_A" || return 1
  outcome accepted 10000 || return 1
  sleep 1.7
  t1=$(now_ms)
  expect_pattern "$GLOG" green "$T0" "$t1" 1 1000 || return 1
  expect_pattern "$GLOG" buzzer "$T0" "$t1" 1 150 || return 1
  silent red amber || return 1
  g=$(first_rise "$GLOG" green "$T0" "$t1") b=$(first_rise "$GLOG" buzzer "$T0" "$t1")
  d=$((g - b))
  [ ${d#-} -le 50 ] || { echo "green and buzzer started $d ms apart"; return 1; }
  echo "frame on the camera at $FEED_AT, green at $g: $((g - FEED_AT)) ms from frame to light"
}

sc_button() {
  sleep 0.3
  mark
  pull "$OFF_BUTTON" down
  sleep 0.15
  pull "$OFF_BUTTON" up
  sleep 1.7
  t1=$(now_ms)
  expect_pattern "$GLOG" green "$T0" "$t1" 1 1000 || return 1
  expect_pattern "$GLOG" buzzer "$T0" "$t1" 1 150 || return 1
  silent red amber || return 1
  echo "replay began $(($(first_rise "$GLOG" green "$T0" "$t1") - T0)) ms after the press"
}

sc_duplicate() {
  clear_desk || return 1
  mark
  feed show "$CARD_A" || return 1
  outcome duplicate 10000 || return 1
  sleep 1.3
  t1=$(now_ms)
  expect_pattern "$GLOG" green "$T0" "$t1" 2 200 200 || return 1
  expect_pattern "$GLOG" buzzer "$T0" "$t1" 2 80 || return 1
  silent red amber
}

sc_rejected() {
  clear_desk || return 1
  mark
  feed show "$REJECTED" || return 1
  outcome rejected 10000 || return 1
  sleep 1.7
  t1=$(now_ms)
  expect_pattern "$GLOG" red "$T0" "$t1" 1 1000 || return 1
  expect_pattern "$GLOG" buzzer "$T0" "$t1" 1 600 || return 1
  silent green amber
}

sc_not_card() {
  clear_desk || return 1
  mark
  feed show "$NOT_CARD" || return 1
  outcome not-card 10000 || return 1
  sleep 1.3
  t1=$(now_ms)
  expect_pattern "$GLOG" red "$T0" "$t1" 3 150 || return 1
  silent green amber buzzer
}

sc_quiet() {
  feed show "$EMPTY" || return 1
  sleep 1
  mark
  sleep 3
  t1=$(now_ms)
  n=$(transitions "$GLOG" "$T0" "$t1")
  [ "$n" = 0 ] || { echo "$n line change(s) on an empty desk:"; awk -v f="$T0" '$1 >= f' "$GLOG"; return 1; }
  log_has "$LOG" "$MARK" "outcome=" && { echo "an outcome on an empty desk"; return 1; }
  return 0
}

# The camera goes away: the feeder exits, so frames stop and, once the
# program lets go of the device, v4l2loopback forgets the format and the
# program's reopen attempts fail, as with an unplugged camera. (A writer that
# only pauses is no good here: v4l2loopback 0.12.7 hands every new reader the
# last frame again, so each reopen would "recover" for one frame.)
sc_camera_lost() {
  mark
  feed_stop
  if ! wait_for 10000 log_has "$LOG" "$MARK" "fault=camera"; then
    echo "no 'fault=camera' line within 10 s of the frames stopping"
    return 1
  fi
  tail -n "+$((MARK + 1))" "$LOG" | grep "fault=camera" | head -n 1
  sleep 3.3
  t1=$(now_ms)
  r=$(first_rise "$GLOG" red "$T0" "$t1")
  [ -n "$r" ] || { echo "red never lit after the frames stopped"; return 1; }
  echo "red began blinking $((r - T0)) ms after the last frame"
  [ $((r - T0)) -le 7000 ] || { echo "red began $((r - T0)) ms after the frames stopped, expected ~5000"; return 1; }
  # Whole blinks only: from the first rise to the last fall.
  last=$(pulses "$GLOG" red "$r" "$t1" | awk '$2 != "open" { e = $1 + $2 } END { print e }')
  n=$(pulses "$GLOG" red "$r" "$last" | wc -l)
  [ "$n" -ge 3 ] || { echo "only $n red blink(s) in $(((t1 - r) / 1000)) s"; pulses "$GLOG" red "$r" "$t1"; return 1; }
  expect_pattern "$GLOG" red "$r" "$last" "$n" 500 500 || return 1
  silent green amber buzzer
}

# A new feeder (a camera plugged in again): the program reopens the device
# on its own, with backoff, and reads a new card.
sc_camera_back() {
  mark
  feed_start "$DIR" "$FORMAT" 10 || return 1
  feed show "$CARD_B" || return 1
  if ! wait_for 40000 log_has "$LOG" "$MARK" "camera=ok"; then
    echo "no 'camera=ok' line within 40 s of a new writer; log since:"
    tail -n "+$((MARK + 1))" "$LOG"
    return 1
  fi
  tail -n "+$((MARK + 1))" "$LOG" | grep "camera=ok" | head -n 1
  outcome accepted 10000 || return 1
  sleep 1.7
  t1=$(now_ms)
  g=$(first_rise "$GLOG" green "$T0" "$t1")
  [ -n "$g" ] || { echo "green never lit"; return 1; }
  echo "camera back and card read $((g - FEED_AT)) ms after the new writer's first frame"
  expect_pattern "$GLOG" green "$T0" "$t1" 1 1000 || return 1
  expect_pattern "$GLOG" buzzer "$T0" "$t1" 1 150 || return 1
  # The blinking stopped: no red rise once the card's pattern began, red off now.
  late=$(first_rise "$GLOG" red "$g" "$t1")
  [ -z "$late" ] || { echo "red lit again at $late, after the camera came back"; return 1; }
  [ "$(level "$GLOG" red "$t1")" = 0 ] || { echo "red is still on"; return 1; }
}

sc_stop() {
  alive || return 1
  kill -TERM "$READER_PID"
  i=0
  while kill -0 "$READER_PID" 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if kill -0 "$READER_PID" 2>/dev/null; then
    kill -KILL "$READER_PID"
    echo "still running 5 s after SIGTERM"
    return 1
  fi
  wait "$READER_PID"
  rc=$?
  READER_PID=""
  tail -n 3 "$LOG"
  [ $rc -eq 0 ] || { echo "exit status $rc after SIGTERM"; return 1; }
  gpio-probe info "$GPIO_CHIPDEV" >"$DIR/info.after"
  grep -q cccd-reader "$DIR/info.after" && { cat "$DIR/info.after"; echo "lines still held after exit"; return 1; }
  for o in green red amber buzzer; do
    [ "$(level "$GLOG" $o "$(now_ms)")" = 0 ] || { echo "$o left on at exit"; return 1; }
  done
}

sc_privacy() {
  if grep -nE "$PII_PATTERNS" "$LOG"; then
    echo "personal data in the log (lines above)"
    return 1
  fi
  bad=$(grep -cvE '^<[0-7]>' "$LOG")
  [ "$bad" = 0 ] || { grep -vE '^<[0-7]>' "$LOG" | head -n 5; echo "$bad log line(s) without a <N> priority prefix"; return 1; }
  echo "$(log_lines "$LOG") log lines, none with personal data"
}

run_scenarios() {
  FLAVOUR=$1
  DIR=/tmp/$FLAVOUR
  READER=/hil/flavours/$FLAVOUR/cccd-reader
  LOG=$DIR/reader.log
  GLOG=$DIR/gpio.log
  READER_PID=""
  case $FLAVOUR in trixie) FORMAT=yuyv ;; *) FORMAT=grey ;; esac
  mkdir -p "$DIR"
  note "---- $FLAVOUR: camera $FORMAT, at $(cut -d' ' -f1 /proc/uptime) s"
  if ! version=$("$READER" version 2>&1); then
    echo "$version" | sed 's/^/HIL# /'
    not_ok "$FLAVOUR: cccd-reader runs in the guest" "$(echo "$version" | tail -n 1)"
    return
  fi
  note "$version"
  if ! "$READER" run --help 2>&1 | grep -q -- "--config"; then
    not_ok "$FLAVOUR: run mode" "cccd-reader has no 'run --config' mode"
    return
  fi
  if check "$FLAVOUR: starts, requests the five lines by name, camera open, all off" sc_start; then
    check "$FLAVOUR: accepted card: green ~1000 ms + buzzer ~150 ms together" sc_accepted
    check "$FLAVOUR: button press replays the last pattern" sc_button
    check "$FLAVOUR: same card again: duplicate pattern (2x green 200, 2x buzzer 80)" sc_duplicate
    check "$FLAVOUR: rejected card: red ~1000 ms + buzzer ~600 ms" sc_rejected
    check "$FLAVOUR: not-a-card code: red 3x ~150 ms, no buzzer" sc_not_card
    check "$FLAVOUR: empty desk for 3 s: no line changes" sc_quiet
    check "$FLAVOUR: camera gone: fault=camera logged, red blinks 500/500 within ~5 s" sc_camera_lost
    check "$FLAVOUR: camera back: camera=ok, blinking stops, a card reads again" sc_camera_back
    check "$FLAVOUR: SIGTERM: clean exit, lines released and off" sc_stop
    check "$FLAVOUR: log has priorities and no personal data" sc_privacy
  fi
  [ -n "$READER_PID" ] && kill -KILL "$READER_PID" 2>/dev/null && wait "$READER_PID" 2>/dev/null
  READER_PID=""
  watch_stop
  feed_stop
  note "---- $FLAVOUR: reader log:"
  sed 's/^/HIL# | /' "$LOG"
}
