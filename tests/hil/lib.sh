# lib.sh - helpers for the HIL guest's checks (busybox sh; sourced by /init).
#
# Reporting: every check ends in exactly one of
#   HIL: ok - NAME
#   HIL: not ok - NAME: WHY
# on the console; tests/hil/run.sh turns those into its own ok/not ok lines
# and /init prints the "HIL-RESULT: N passed, M failed" line it parses.
# Diagnostics go out as "HIL# ..." lines (kept in build/hil/guest.log).
#
# Time: every helper speaks CLOCK_MONOTONIC milliseconds (`now_ms`), the clock
# gpio-watch stamps transitions with and v4l2-feed stamps acknowledgements with.

HIL_PASSED=0
HIL_FAILED=0
# Tolerance on pulse lengths and gaps, in percent of the nominal value, with a
# floor in ms for the shortest pulses (TCG emulation jitters by tens of ms).
HIL_TOL_PCT=${HIL_TOL_PCT:-40}
HIL_TOL_MIN_MS=${HIL_TOL_MIN_MS:-30}

note() { echo "HIL# $*"; }

ok() {
  HIL_PASSED=$((HIL_PASSED + 1))
  echo "HIL: ok - $1"
}

not_ok() {
  HIL_FAILED=$((HIL_FAILED + 1))
  echo "HIL: not ok - $1: $2"
}

# check NAME COMMAND...: runs COMMAND (in this shell: it may set variables);
# ok when it succeeds, else not ok with the last line it printed as the
# reason. Everything it printed goes out as diagnostics.
check() {
  local check_name=$1 check_rc
  shift
  "$@" >/tmp/check.out 2>&1
  check_rc=$?
  sed 's/^/HIL# /' /tmp/check.out
  if [ $check_rc -eq 0 ]; then
    ok "$check_name"
  else
    not_ok "$check_name" "$(tail -n 1 /tmp/check.out | grep . || echo "exit status $check_rc")"
  fi
  return $check_rc
}

now_ms() { gpio-watch now; }

sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

# wait_for TIMEOUT_MS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
  deadline=$(($(now_ms) + $1))
  shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
  return 0
}

# log_has FILE FROM_LINE PATTERN: PATTERN (grep -E) on a line after FROM_LINE.
log_has() { tail -n "+$(($2 + 1))" "$1" 2>/dev/null | grep -qE "$3"; }
log_lines() { wc -l <"$1" 2>/dev/null || echo 0; }

# ---- desk patterns ----------------------------------------------------------
# pulses LOG LINE FROM TO: the high periods of LINE between FROM and TO (ms)
# in a gpio-watch log, one "START LENGTH" per line. A period still going at
# TO has LENGTH "open"; one already going at FROM starts at FROM with
# START suffixed "<".
pulses() {
  awk -v line="$2" -v from="$3" -v to="$4" '
    BEGIN { high = 0; start = 0; pre = "" }
    $2 != line { next }
    $1 < from  { if ($3 == 1) { high = 1; start = from; pre = "<" } else { high = 0 }; next }
    $1 > to    { exit }
    $3 == 1 && !high { high = 1; start = $1; pre = ""; next }
    $3 == 0 && high  { print start pre, $1 - start; high = 0; next }
    END { if (high) print start pre, "open" }
  ' "$1"
}

# expect_pattern LOG LINE FROM TO COUNT ON_MS [OFF_MS]: LINE was high COUNT
# times between FROM and TO, each time ON_MS long, OFF_MS apart (low time
# between two pulses), within the tolerance. Prints the reason on failure.
expect_pattern() {
  p=$(pulses "$1" "$2" "$3" "$4")
  echo "$2 pulses (start length): $(echo "$p" | tr '\n' ' ')"
  awk -v line="$2" -v count="$5" -v on="$6" -v off="${7:-0}" -v pct="$HIL_TOL_PCT" -v floor="$HIL_TOL_MIN_MS" -v got="$(echo "$p" | tr '\n' ' ')" '
    function tol(ms) { t = ms * pct / 100; return t < floor ? floor : t }
    function bad(msg) { print line ": " msg " (pulses: " (got == "" ? "none" : got) ")"; failed = 1; exit 1 }
    { if ($0 == "") next; n++; s[n] = $1; d[n] = $2 }
    END {
      if (failed) exit 1
      if (n != count) bad("expected " count " pulse(s) of " on " ms, saw " n)
      for (i = 1; i <= n; i++) {
        if (s[i] ~ /</) bad("pulse " i " began before the window")
        if (d[i] == "open") bad("pulse " i " did not end")
        if (d[i] < on - tol(on) || d[i] > on + tol(on)) bad("pulse " i " lasted " d[i] " ms, expected " on " +-" tol(on))
        if (i > 1 && off > 0) {
          gap = s[i] - s[i-1] - d[i-1]
          if (gap < off - tol(off) || gap > off + tol(off)) bad("gap " i-1 " was " gap " ms, expected " off " +-" tol(off))
        }
      }
    }
  ' <<EOF
$p
EOF
}

# first_rise LOG LINE FROM TO: when LINE first went high in the window (empty if never).
first_rise() {
  awk -v line="$2" -v from="$3" -v to="$4" '$2 == line && $3 == 1 && $1 >= from && $1 <= to { print $1; exit }' "$1"
}

# transitions LOG FROM TO: how many level changes of any line in the window.
transitions() {
  awk -v from="$2" -v to="$3" '$1 >= from && $1 <= to { n++ } END { print n + 0 }' "$1"
}

# level LOG LINE AT: the line's level at time AT (0 before any record).
level() {
  awk -v line="$2" -v at="$3" 'BEGIN { v = 0 } $2 == line && $1 <= at { v = $3 } END { print v }' "$1"
}

# ---- the camera: v4l2-feed ----------------------------------------------------
FEED_PID="" FEED_SEQ=0 FEED_CTL="" FEED_AT=""
# feed_start DIR FORMAT [FPS]: a writer on /dev/video0 (640x480, grey|yuyv),
# idle until told what to show; its messages go to DIR/feed.log.
feed_start() {
  feed_stop
  FEED_CTL=$1/feed.ctl
  rm -f "$FEED_CTL" "$FEED_CTL.ack"
  FEED_LOG=$1/feed.log
  v4l2-feed -d /dev/video0 -c "$FEED_CTL" -s 640x480 -f "$2" -r "${3:-10}" 2>>"$FEED_LOG" &
  FEED_PID=$!
  FEED_SEQ=0
  # Until it says "0 T_MS", SIGUSR1 would kill it.
  wait_for 5000 grep -q "^0 " "$FEED_CTL.ack" || { cat "$FEED_LOG"; echo "v4l2-feed did not start"; return 1; }
}

# feed COMMAND [ARGS...]: tells the feeder (show PICTURE..., pause, close,
# quit) and waits until it took effect; FEED_AT is then when (ms).
feed() {
  FEED_SEQ=$((FEED_SEQ + 1))
  echo "$FEED_SEQ $*" >"$FEED_CTL.tmp"
  mv "$FEED_CTL.tmp" "$FEED_CTL"
  kill -USR1 "$FEED_PID" 2>/dev/null
  if ! wait_for 5000 grep -q "^$FEED_SEQ " "$FEED_CTL.ack"; then
    tail -n 5 "$FEED_LOG"
    kill -0 "$FEED_PID" 2>/dev/null || echo "v4l2-feed is not running"
    echo "v4l2-feed did not acknowledge '$*' within 5 s"
    return 1
  fi
  if grep -q "^$FEED_SEQ error" "$FEED_CTL.ack"; then
    echo "v4l2-feed: '$*': $(cut -d' ' -f3- "$FEED_CTL.ack")"
    return 1
  fi
  FEED_AT=$(cut -d' ' -f2 "$FEED_CTL.ack")
}

# feed_stop: the feeder exits (its device closes); killed if it does not.
feed_stop() {
  [ -n "$FEED_PID" ] || return 0
  feed quit >/dev/null 2>&1 || kill "$FEED_PID" 2>/dev/null
  wait "$FEED_PID" 2>/dev/null
  FEED_PID=""
}

# ---- the desk lines: gpio-watch ------------------------------------------------
WATCH_PID=""
# watch_start LOG: records green, red, amber and buzzer into LOG.
watch_start() {
  gpio-watch -o "$1" green="$GPIO_SIM/sim_gpio$OFF_GREEN/value" red="$GPIO_SIM/sim_gpio$OFF_RED/value" \
    amber="$GPIO_SIM/sim_gpio$OFF_AMBER/value" buzzer="$GPIO_SIM/sim_gpio$OFF_BUZZER/value" &
  WATCH_PID=$!
  wait_for 2000 test -s "$1"
}

watch_stop() {
  [ -n "$WATCH_PID" ] || return 0
  kill "$WATCH_PID" 2>/dev/null
  wait "$WATCH_PID" 2>/dev/null
  WATCH_PID=""
}

# pull OFFSET up|down: what the outside world does to a line.
pull() { echo "pull-$2" >"$GPIO_SIM/sim_gpio$1/pull"; }
value() { cat "$GPIO_SIM/sim_gpio$1/value"; }
