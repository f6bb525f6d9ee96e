# infra.sh - proves the test rig before the program is judged by it (sourced by /init).
#
# Each check isolates one link the desk scenarios rely on: gpio-sim's lines as
# user space sees them, its simulated pull and interrupts, gpio-watch's
# timing, and v4l2loopback carrying v4l2-feed's pictures (GREY and YUYV) to a
# capture client intact, plus a stalled writer looking like a stalled camera.

INFRA=/tmp/infra

infra_line_names() {
  gpio-probe info "$GPIO_CHIPDEV" >"$INFRA/info" || return 1
  cat "$INFRA/info"
  grep -q "label hil-desk lines 5" "$INFRA/info" || { echo "chip label/line count wrong"; return 1; }
  i=0
  for n in $LINE_NAMES; do
    grep -q "^$i $n " "$INFRA/info" || { echo "line $i is not named $n"; return 1; }
    i=$((i + 1))
  done
}

infra_pull_value() {
  for off in $OFF_GREEN $OFF_BUTTON; do
    pull "$off" up
    [ "$(value "$off")" = 1 ] || { echo "line $off: pull-up but value $(value "$off")"; return 1; }
    pull "$off" down
    [ "$(value "$off")" = 0 ] || { echo "line $off: pull-down but value $(value "$off")"; return 1; }
  done
  pull "$OFF_BUTTON" up
}

# An edge through irq_sim: what the program's button relies on.
infra_edges() {
  pull "$OFF_BUTTON" up
  gpio-probe edges "$GPIO_CHIPDEV" "$OFF_BUTTON" 5000 2 >"$INFRA/edges" 2>&1 &
  pid=$!
  wait_for 3000 grep -q ready "$INFRA/edges" || { kill $pid; cat "$INFRA/edges"; echo "gpio-probe did not start"; return 1; }
  pull "$OFF_BUTTON" down
  sleep 0.1
  pull "$OFF_BUTTON" up
  wait $pid
  rc=$?
  cat "$INFRA/edges"
  [ $rc -eq 0 ] || { echo "edges did not arrive (gpio-probe exit $rc)"; return 1; }
  [ "$(sed -n '2p;3p' "$INFRA/edges" | cut -d' ' -f2 | tr '\n' ' ')" = "falling rising " ] ||
    { echo "expected a falling then a rising edge"; return 1; }
}

# gpio-watch against a pulse of known length made with the pull attribute.
infra_watch() {
  log=$INFRA/watch.log
  watch_start "$log" || { echo "gpio-watch wrote nothing"; return 1; }
  t0=$(now_ms)
  pull "$OFF_AMBER" up
  sleep 0.3
  pull "$OFF_AMBER" down
  sleep 0.1
  t1=$(now_ms)
  watch_stop
  cat "$log"
  expect_pattern "$log" amber "$t0" "$t1" 1 300
}

# grab_scan NAME FMT: the picture on /dev/video0 arrives intact and the program reads it.
grab_scan() {
  out=$(v4l2-grab /dev/video0 "$INFRA/$1.pgm" 5000 3) || { echo "no frame captured"; return 1; }
  echo "captured: $out"
  [ "$out" = "640x480 $2 3" ] || { echo "captured '$out', expected 640x480 $2"; return 1; }
  reader=/hil/flavours/$(head -n 1 /hil/flavours/list 2>/dev/null)/cccd-reader
  if [ -x "$reader" ]; then
    "$reader" scan "$INFRA/$1.pgm" >"$INFRA/$1.scan" 2>&1
    cat "$INFRA/$1.scan"
    grep -q "card read and checked" "$INFRA/$1.scan" || { echo "the captured frame does not read as a card"; return 1; }
  fi
}

# The writer's two ways of failing, as the program will meet them:
#   pause (device open, no more frames): a reader still gets the last frame
#     once - v4l2loopback 0.12.7 hands a new reader the newest buffer - then
#     nothing;
#   close (the writer is gone, nobody else has the device open): v4l2loopback
#     frees its buffers and forgets the format, so a reader cannot even
#     start, as with an unplugged camera.
v4l2_grey() {
  feed show /hil/frames/01-card-2021.png || return 1
  grab_scan grey GREY || return 1
  feed pause || return 1
  sleep 0.3
  v4l2-grab /dev/video0 "$INFRA/stalled.pgm" 1500 2
  rc=$?
  [ $rc -eq 3 ] || { echo "a paused writer delivered more than its last frame (v4l2-grab exit $rc)"; return 1; }
  feed close || return 1
  v4l2-grab /dev/video0 "$INFRA/closed.pgm" 1500 1
  rc=$?
  [ $rc -eq 1 ] || { echo "a reader could start with the writer gone (v4l2-grab exit $rc)"; return 1; }
  # ... and the same writer coming back is a camera plugged in again.
  feed show /hil/frames/01-card-2021.png || return 1
  grab_scan grey-again GREY
}

infra_v4l2_grey() {
  feed_start "$INFRA" grey 10 || return 1
  v4l2_grey
  rc=$?
  feed_stop
  cat "$INFRA/feed.log"
  return $rc
}

infra_v4l2_yuyv() {
  feed_start "$INFRA" yuyv 10 || return 1
  feed show /hil/frames/02-card-2024-big5-name.png && grab_scan yuyv YUYV
  rc=$?
  feed_stop
  return $rc
}

infra_checks() {
  mkdir -p "$INFRA"
  check "gpio-sim: line names and label through the character device" infra_line_names
  check "gpio-sim: sysfs pull sets the line value" infra_pull_value
  check "gpio-sim: pulling the button line delivers edge events (irq_sim)" infra_edges
  check "gpio-watch: measures a 300 ms pulse" infra_watch
  check "v4l2loopback: GREY frames from v4l2-feed captured intact, card reads; writer paused/closed/back" infra_v4l2_grey
  check "v4l2loopback: YUYV frames captured intact, card reads" infra_v4l2_yuyv
}
