#!/bin/sh
# uplink_disk_test.sh - the spool's disk fails under the running terminal.
#
# The real terminal (files: camera → spool → TLS) against tools/his_sim, with
# its spool on a 1 MiB tmpfs of its own:
#   - the disk fills up after the records were stored: the spool's reserve
#     lets the acks land, delivered space is freed, all arrive once;
#   - the disk is full and no room can be made: the first ack fails, and the
#     terminal neither resends the record nor floods the log while it waits;
#     once space is freed, everything arrives once;
#   - the service's user loses write access to its spool (chmod): the same.
# Prints the request and log-line counts of the failing stretch as comments
# (docs/bench.md records them). Needs root (its own tmpfs, another user).
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
  umount -l "$tmp/mnt" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ "$(id -u)" -ne 0 ] || ! mkdir -p "$tmp/mnt" || ! mount -t tmpfs -o size=1m,mode=0755 tmpfs "$tmp/mnt"; then
  echo "ok - # SKIP needs root to mount a tmpfs of its own"
  exit 0
fi
tools/make-test-pki.sh "$PKI" >/dev/null 2>&1 || { echo "not ok - test PKI"; exit 0; }
"$BUILD/tools/card_clip" "$tmp/clip" 10 >/dev/null || { echo "not ok - card_clip"; exit 0; }
WINDOW=5 # seconds a failure is watched for

# conf NAME SPOOL_DIR [PKI_DIR]: a terminal config (backoff 500..2000 ms).
conf() {
  cat >"$tmp/conf.$1" <<EOF
[device]
id = desk-test
[camera]
source = files:$tmp/clip
fps = 100
[scan]
duplicate_window_s = 600
decode_threads = 1
[uplink]
url = https://localhost:$SIM_PORT/api/checkin
ca = ${3:-$PKI}/ca.crt
cert = ${3:-$PKI}/device.crt
key = ${3:-$PKI}/device.key
read_timeout_ms = 1500
backoff_min_ms = 500
backoff_max_ms = 2000
[spool]
dir = $2
EOF
}

# fill: writes a filler file on the tmpfs until it is full.
fill() { dd if=/dev/zero of="$tmp/mnt/filler" bs=4k 2>/dev/null; sync; }

# queue NAME: the clip's 10 cards queued while the simulator answers 503.
queue() {
  wait_grep "$tmp/$1.log" 'queued id=' 10
  i=0; while [ "$(grep -c 'queued id=' "$tmp/$1.log")" -lt 10 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  check "$1: 10 cards queued while the service answers 503" test "$(grep -c 'queued id=' "$tmp/$1.log")" -eq 10
}

# watch NAME WHAT: over WINDOW seconds of a failing ack, the requests the
# simulator got and the terminal's uplink log lines; both must stay small.
watch() {
  p0=$(posts "$1") l0=$(grep -c 'uplink:' "$tmp/$1.log")
  sleep "$WINDOW"
  p=$(( $(posts "$1") - p0 )) l=$(( $(grep -c 'uplink:' "$tmp/$1.log") - l0 ))
  note "$2: $p requests and $l uplink log lines in $WINDOW s while the ack cannot be written"
  check "$2: no resend loop (at most 1 request in $WINDOW s, got $p)" test "$p" -le 1
  check "$2: the log says it once (at most 2 lines in $WINDOW s, got $l)" test "$l" -le 2
}

# ---- the disk fills up after the records were stored: the reserve ------------
echo 503 >"$tmp/reserve.mode"
start_sim reserve
conf reserve "$tmp/mnt/spool.reserve"
run_bg reserve
queue reserve
fill
echo none >"$tmp/reserve.mode"
wait_lines "$tmp/reserve.jsonl" 10 20
check "full disk, reserve: all 10 delivered, each once" once_each "$tmp/reserve.jsonl" "$tmp/clip/ids.txt"
check "full disk, reserve: the log says the reserve was used" grep -q 'gave up the spool.s reserved' "$tmp/reserve.log"
check "full disk, reserve: nothing set aside" no_dead_letters "$tmp/mnt/spool.reserve"
stop_reader; stop_sim
rm -f "$tmp/mnt/filler"; rm -rf "$tmp/mnt/spool.reserve"

# ---- the disk full and no room to make: the ack alone is retried ------------
echo 503 >"$tmp/full.mode"
start_sim full
conf full "$tmp/mnt/spool.full"
run_bg full
queue full
rm -f "$tmp/mnt/spool.full/reserve" # as if it could never be made
fill
echo none >"$tmp/full.mode"
wait_lines "$tmp/full.jsonl" 1 10
check "full disk: the first record reached the service" test "$(lines "$tmp/full.jsonl")" -eq 1
wait_grep "$tmp/full.log" 'cannot note' 5
check "full disk: the log says the queue cannot note it, and why" grep -q 'cannot note.*disk full' "$tmp/full.log"
watch full "full disk"
rm -f "$tmp/mnt/filler"
wait_lines "$tmp/full.jsonl" 10 20
check "full disk: after space is freed, all 10 delivered, each once" once_each "$tmp/full.jsonl" "$tmp/clip/ids.txt"
check "full disk: the log says the queue is writable again" grep -q 'writable again' "$tmp/full.log"
stop_reader; stop_sim

# ---- the spool not writable for the service's user --------------------------
# The service runs as its own user (packaging/cccd-reader.service); root would
# ignore the mode, so the terminal runs as nobody here.
nobody=65534
cp -r "$PKI" "$tmp/pki" && chown -R $nobody "$tmp/pki" && chmod 755 "$tmp" && chmod -R a+rX "$tmp/clip"
mkdir -p "$tmp/mnt/spool.mode" && chown $nobody "$tmp/mnt/spool.mode" && chmod 700 "$tmp/mnt/spool.mode"
echo 503 >"$tmp/mode.mode"
start_sim mode
conf mode "$tmp/mnt/spool.mode" "$tmp/pki"
chmod a+r "$tmp/conf.mode"
setpriv --reuid=$nobody --regid=$nobody --clear-groups "$CLI" run --config "$tmp/conf.mode" >/dev/null \
  2>>"$tmp/mode.log" &
READER=$!
queue mode
chmod 500 "$tmp/mnt/spool.mode"
echo none >"$tmp/mode.mode"
wait_lines "$tmp/mode.jsonl" 1 10
wait_grep "$tmp/mode.log" 'cannot note' 5
check "not writable: the log names the file and the fix" grep -q 'cannot note.*delivered.tmp.*Permission denied' \
  "$tmp/mode.log"
watch mode "not writable"
chmod 700 "$tmp/mnt/spool.mode"
wait_lines "$tmp/mode.jsonl" 10 20
check "not writable: once writable, all 10 delivered, each once" once_each "$tmp/mode.jsonl" "$tmp/clip/ids.txt"
stop_reader; stop_sim
