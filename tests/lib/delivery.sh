# tests/lib/delivery.sh - what the delivery scenario scripts share (sourced,
# never run on its own): checks, waiting, his_sim, the terminal in the
# background, and reading what the simulator stored.
#
# The script sets tmp (its temporary folder), CLI (the program), SIM (the
# simulator) and PKI (tools/make-test-pki.sh's folder) before sourcing this.

# check DESC COMMAND...: prints ok/not ok; returns the command's status.
check() { desc=$1; shift; if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; return 1; fi; }
note() { echo "# $*"; }
# show FILE [PATTERN]: the lines (or the last ones) of a log, as comments.
show() {
  if [ -n "${2:-}" ]; then grep -E "$2" "$1" 2>/dev/null | head -n 6; else tail -n 6 "$1" 2>/dev/null; fi |
    sed 's/^/#     /'
}

# stop_pid PID: SIGTERM, up to 5 s to go, then SIGKILL. Our children only.
stop_pid() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
  i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

# start_sim NAME [his_sim options...]: records in $tmp/NAME.jsonl, its log in
# $tmp/NAME.sim.err, the fault mode read from $tmp/NAME.mode (write it before
# or during the run); sets SIM_PORT and SIM_PID.
start_sim() {
  name=$1; shift
  rm -f "$tmp/$name.port"
  "$SIM" --pki "$PKI" --require-client-cert --out "$tmp/$name.jsonl" --port 0 --port-file "$tmp/$name.port" \
    --control "$tmp/$name.mode" "$@" >>"$tmp/$name.sim.out" 2>>"$tmp/$name.sim.err" &
  SIM_PID=$!
  i=0; while [ ! -s "$tmp/$name.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  SIM_PORT=$(cat "$tmp/$name.port" 2>/dev/null)
  [ -n "$SIM_PORT" ]
}
stop_sim() { stop_pid "$SIM_PID"; SIM_PID=""; }

# run_bg NAME: `run --config $tmp/conf.NAME` in the background (READER),
# stderr appended to $tmp/NAME.log.
run_bg() { "$CLI" run --config "$tmp/conf.$1" >/dev/null 2>>"$tmp/$1.log" & READER=$!; }
stop_reader() { stop_pid "$READER"; READER=""; }

lines() { if [ -f "$1" ]; then grep -c . "$1"; else echo 0; fi; }
# wait_lines FILE N S: until FILE has at least N lines, at most S seconds.
wait_lines() { i=0; while [ "$(lines "$1")" -lt "$2" ] && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done; }
# wait_grep FILE PATTERN S: until a line of FILE matches, at most S seconds.
wait_grep() { i=0; while ! grep -q -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]; do sleep 0.1; i=$((i + 1)); done; }
keys() { sed 's/.*"idempotency_key":"\([^"]*\)".*/\1/' "$1"; }
ids() { sed 's/.*"id_number":"\([0-9]*\)".*/\1/' "$1"; }
once_each() { # once_each RECORDS IDS_FILE: every ID of the clip once, every key once, nothing else
  [ "$(keys "$1" | sort | uniq -d | wc -l)" -eq 0 ] && [ "$(ids "$1" | sort | uniq -d | wc -l)" -eq 0 ] &&
    [ "$(ids "$1" | sort)" = "$(sort "$2")" ]
}
queued_keys() { sed -n 's/.*queued id=[^ ]* key=\([^ ]*\).*/\1/p' "$1" | sort -u; }
no_dead_letters() { [ ! -s "$1/dead.log" ]; }
# posts NAME: the check-ins the simulator was sent (answered or not).
posts() { grep -c 'POST key=' "$tmp/$1.sim.err" 2>/dev/null || echo 0; }
