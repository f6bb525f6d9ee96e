#!/bin/sh
# spool_cli_test.sh - `cccd-reader spool` end to end.
#
# The real terminal (camera files → decoder → spool → TLS uplink) against
# tools/his_sim refusing every check-in as a record (422, the service's own
# error naming each record): every record ends in dead.log (sealed with a
# spool key). Then, as the technician would: status, list (masked,
# --show-pii), requeue refused while the lock is held, requeue by number and
# all, the service started again: every record reaches the hospital once,
# with its first idempotency key. Also damage in dead.log, purge, bad input,
# a missing spool directory, a key file open to others, and (as root) the
# files a requeue writes belonging to the spool directory's owner.
# Prints "ok - ..." / "not ok - ..." per check.
set -u
BUILD=${BUILD:-build}
RUN=$BUILD/cccd-reader
CLI=$BUILD/asan/cccd-reader # the spool command under the sanitizers when built
[ -x "$CLI" ] || CLI=$RUN
SIM=$BUILD/tools/his_sim
tmp=$(mktemp -d)
SIM_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
PKI=$BUILD/test-pki
tools/make-test-pki.sh "$PKI" >/dev/null 2>&1 || { echo "not ok - test PKI"; exit 0; }
"$BUILD/tools/card_clip" "$tmp/clip" 12 >/dev/null || { echo "not ok - card_clip"; exit 0; }
mkdir "$tmp/blank" && { printf 'P5\n16 16\n255\n'; head -c 256 /dev/zero; } >"$tmp/blank/0000.pgm"

CLI_RUN=$CLI CLI=$RUN # the library's run_bg starts $CLI; the spool command is $CLI_RUN
. tests/lib/delivery.sh
CLI=$CLI_RUN
# spool ARGS...: the command; exit code in $rc, stdout in $tmp/out, stderr in $tmp/err.
spool() { "$CLI" spool "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
has() { grep -q -- "$1" "$tmp/out"; }
says() { grep -q -- "$1" "$tmp/err"; }

# sim MODE: the simulator, records in $tmp/his.jsonl, in fault mode MODE.
sim() { echo "$1" >"$tmp/his.mode"; start_sim his; }

# conf FILE CLIPDIR SPOOLDIR [KEYFILE [CAMERA LINE]]
conf() {
  cat >"$1" <<EOF
[device]
id = desk-test
[camera]
source = files:$2
fps = 100
${5:-}
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
[spool]
dir = $3
key_file = ${4:-}
EOF
}

keys_of() { grep -o 'desk-test-[0-9a-f]*' "$1" | sort -u; } # the idempotency keys in a file

# ---- a hospital that refuses everything ----------------------------------------
head -c 32 /dev/urandom >"$tmp/spool.key" && chmod 600 "$tmp/spool.key"
SP=$tmp/spool
sim 422
conf "$tmp/conf" "$tmp/clip" "$SP" "$tmp/spool.key"
"$RUN" run --config "$tmp/conf" --once >/dev/null 2>"$tmp/run1.log"
check "run: 12 check-ins refused with 422 and set aside" sh -c \
  "test \$(grep -c 'refused by the service' '$tmp/run1.log') -eq 12 && test $(lines "$tmp/his.jsonl") -eq 0"

spool status --config "$tmp/conf"
check "status: 12 dead letters, by reason, nothing undelivered" sh -c "test $rc -eq 0 &&
  grep -q '^undelivered   0 records' '$tmp/out' && grep -q '^dead letters  12 in $SP/dead.log, the oldest set aside' '$tmp/out' &&
  grep -q '^        12  HTTP 422$' '$tmp/out'"
check "status: says how to requeue" has "sudo cccd-reader spool requeue --all"
spool status --json --config "$tmp/conf"
check "status --json: counts for programs" sh -c "test $rc -eq 0 &&
  grep -q '\"dead_letters\": *{[^}]*\"records\": *12' '$tmp/out' && grep -q '\"by_reason\": *{\"HTTP 422\": *12}' '$tmp/out' &&
  grep -q '\"undelivered\": *{[^}]*\"records\": *0' '$tmp/out' && grep -q '\"service_running\": *false' '$tmp/out'"

"$RUN" doctor --config "$tmp/conf" >"$tmp/doctor" 2>&1
check "doctor: dead letters counted in records, a warning that names the requeue command" sh -c \
  "grep -q '^WARN  dead .*12 records set aside' '$tmp/doctor' && grep -q 'spool requeue --all' '$tmp/doctor'"

spool list --dead --config "$tmp/conf"
cp "$tmp/out" "$tmp/dead-list"
check "list --dead: one line per dead letter with its reason" sh -c "test $rc -eq 0 &&
  test \$(grep -c 'HTTP 422: simulated 422 (his_sim fault mode) for desk-test-[0-9a-f]*\$' '$tmp/out') -eq 12 && grep -q '^12 dead letters\$' '$tmp/out'"
check "list --dead: each idempotency key shown" test "$(keys_of "$tmp/out" | wc -l)" -eq 12
masked_ok=yes
while read -r id; do
  last4=$(printf '%s' "$id" | tail -c 4)
  grep -q "\*\*\*\*\*\*\*\*$last4 " "$tmp/out" || masked_ok=no
done <"$tmp/clip/ids.txt"
check "list --dead: ID numbers masked to their last four digits" test $masked_ok = yes
check "list --dead: no full ID number, no name" sh -c "! grep -qFf '$tmp/clip/ids.txt' '$tmp/out' && ! grep -q full_name '$tmp/out'"
spool list --dead --show-pii --config "$tmp/conf"
check "list --dead --show-pii: full ID numbers and names" sh -c "test $rc -eq 0 &&
  test \$(grep -cFf '$tmp/clip/ids.txt' '$tmp/out') -eq 12 && test \$(grep -c 'full_name: ' '$tmp/out') -eq 12"
spool list --config "$tmp/conf"
check "list: no undelivered record" sh -c "test $rc -eq 0 && grep -q '^0 undelivered records\$' '$tmp/out'"

# ---- the lock: status reads beside it, requeue and purge say what to do ---------------
exec 9<"$SP"
flock -n 9
spool requeue --all --config "$tmp/conf"
check "requeue while the spool is locked: refused, exit 1" test $rc -eq 1
check "requeue while locked: says stop, run, start" sh -c "grep -q 'in use by another process' '$tmp/err' &&
  grep -q 'sudo systemctl stop cccd-reader' '$tmp/err' && grep -q 'cccd-reader spool requeue --all --config $tmp/conf' '$tmp/err' &&
  grep -q 'sudo systemctl start cccd-reader' '$tmp/err'"
spool purge --older-than 0 --config "$tmp/conf"
check "purge while locked: refused, exit 1" sh -c "test $rc -eq 1 && grep -q 'sudo systemctl stop cccd-reader' '$tmp/err'"
spool status --config "$tmp/conf"
check "status while locked: read anyway, said to be a snapshot" sh -c "test $rc -eq 0 &&
  grep -q 'the service is running' '$tmp/out' && grep -q '^dead letters  12' '$tmp/out'"
spool list --dead --config "$tmp/conf"
check "list while locked: read anyway" sh -c "test $rc -eq 0 && grep -q '^12 dead letters' '$tmp/out'"
flock -u 9
exec 9<&-
spool list --dead --config "$tmp/conf"
check "nothing changed while locked" test "$(keys_of "$tmp/out")" = "$(keys_of "$tmp/dead-list")"

# The real service running on the spool: the same, against its own lock.
conf "$tmp/conf.service" "$tmp/blank" "$SP" "$tmp/spool.key" "loop = true"
"$RUN" run --config "$tmp/conf.service" >/dev/null 2>"$tmp/service.log" &
service=$!
# (not polled with flock: taking the lock to test it could make the service's start fail)
i=0; while ! grep -q 'started device' "$tmp/service.log" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
spool status --config "$tmp/conf"
check "status beside the running service: read, said to be a snapshot" sh -c "test $rc -eq 0 &&
  grep -q 'the service is running' '$tmp/out' && grep -q '^dead letters  12' '$tmp/out'"
spool requeue --seq 3 --config "$tmp/conf"
check "requeue beside the running service: refused with the three steps" sh -c "test $rc -eq 1 &&
  grep -q 'sudo systemctl stop cccd-reader' '$tmp/err' && grep -q 'cccd-reader spool requeue --seq 3' '$tmp/err'"
kill "$service"; wait "$service"

# ---- requeue ---------------------------------------------------------------------------------
spool requeue --reason "HTTP 5" --config "$tmp/conf"
check "requeue --reason matching nothing: says so, exit 0" sh -c "test $rc -eq 0 && grep -q 'no dead letter' '$tmp/out'"
spool requeue --seq 1,2 --config "$tmp/conf"
check "requeue --seq 1,2: two queued again" sh -c "test $rc -eq 0 &&
  grep -q 'requeued 2 dead letter(s) from $SP/dead.log as records 13..14' '$tmp/out'"
spool requeue --all --config "$tmp/conf"
check "requeue --all: the other ten, and says to start the service" sh -c "test $rc -eq 0 &&
  grep -q 'requeued 10 dead letter(s)' '$tmp/out' && grep -q 'sudo systemctl start cccd-reader' '$tmp/out'"
spool status --config "$tmp/conf"
check "status after requeue: 12 undelivered, no dead letter" sh -c "grep -q '^undelivered   12 records' '$tmp/out' &&
  grep -q '^dead letters  0 in' '$tmp/out'"
spool list --config "$tmp/conf"
check "list: the queued records carry their first idempotency keys" \
  test "$(keys_of "$tmp/out")" = "$(keys_of "$tmp/dead-list")"
spool requeue --all --config "$tmp/conf"
check "requeue again: nothing left to do" sh -c "test $rc -eq 0 && grep -q 'no dead letter to requeue' '$tmp/out'"

echo none >"$tmp/his.mode"
conf "$tmp/conf.blank" "$tmp/blank" "$SP" "$tmp/spool.key"
"$RUN" run --config "$tmp/conf.blank" --once >/dev/null 2>"$tmp/run2.log"
check "service started again: all 12 delivered, each once, with their first keys" sh -c "
  test $(lines "$tmp/his.jsonl") -eq 12 && test \"\$(grep -o 'desk-test-[0-9a-f]*' '$tmp/his.jsonl' | sort -u)\" = '$(keys_of "$tmp/dead-list")'"
check "the hospital has every card once" sh -c \
  "test \"\$(sed 's/.*\"id_number\":\"\\([0-9]*\\)\".*/\\1/' '$tmp/his.jsonl' | sort)\" = \"\$(sort '$tmp/clip/ids.txt')\""

# ---- damage in dead.log; purge -----------------------------------------------------------------
echo 422 >"$tmp/his.mode"
"$RUN" run --config "$tmp/conf" --once >/dev/null 2>"$tmp/run3.log" # the same cards: new check-ins, refused
spool status --config "$tmp/conf"
check "a second refused run: 12 new dead letters" grep -q '^dead letters  12 in' "$tmp/out"
cp -r "$SP" "$tmp/damaged"
conf "$tmp/conf.damaged" "$tmp/blank" "$tmp/damaged" "$tmp/spool.key"
size=$(wc -c <"$tmp/damaged/dead.log")
printf 'XXXX' | dd of="$tmp/damaged/dead.log" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
truncate -s $((size - 7)) "$tmp/damaged/dead.log"
spool status --config "$tmp/conf.damaged"
check "status on a damaged dead.log: the intact ones counted, damage reported" sh -c "test $rc -eq 0 &&
  grep -q '^dead letters  10 in' '$tmp/out' && grep -q '^damaged ' '$tmp/out'"
spool list --dead --config "$tmp/conf.damaged"
check "list on a damaged dead.log: ten, and the damaged bytes" sh -c "test $rc -eq 0 &&
  grep -q '^10 dead letters; [0-9]* damaged bytes skipped' '$tmp/out'"

spool purge --older-than 1 --config "$tmp/conf"
check "purge --older-than 1: nothing that young removed" sh -c "test $rc -eq 0 && grep -q '^purged 0 dead letter' '$tmp/out'"
sleep 1.1
spool purge --older-than 0 --config "$tmp/conf"
check "purge --older-than 0: all removed" sh -c "test $rc -eq 0 && grep -q '^purged 12 dead letter(s)' '$tmp/out'"
spool status --config "$tmp/conf"
check "status after purge: no dead letter" grep -q '^dead letters  0 in' "$tmp/out"

# ---- bad input ------------------------------------------------------------------------------------
spool frobnicate --config "$tmp/conf"
check "unknown subcommand: usage, exit 2" sh -c "test $rc -eq 2 && grep -q 'usage: cccd-reader spool' '$tmp/err'"
spool
check "no subcommand: usage, exit 2" test $rc -eq 2
spool status --bogus --config "$tmp/conf"
check "unknown option: exit 2" test $rc -eq 2
spool list --json --config "$tmp/conf"
check "an option of another subcommand: exit 2" test $rc -eq 2
spool purge --older-than -1 --config "$tmp/conf"
check "purge --older-than -1: exit 2, says why" sh -c "test $rc -eq 2 && grep -q 'whole number of days' '$tmp/err'"
spool purge --older-than 2x --config "$tmp/conf"
check "purge --older-than 2x: exit 2" test $rc -eq 2
spool purge --config "$tmp/conf"
check "purge without --older-than: exit 2" sh -c "test $rc -eq 2 && grep -q 'required' '$tmp/err'"
spool requeue --all --seq 3 --config "$tmp/conf"
check "requeue with two choices: exit 2" test $rc -eq 2
spool requeue --seq abc --config "$tmp/conf"
check "requeue --seq abc: exit 2" test $rc -eq 2
spool requeue --seq 0 --config "$tmp/conf"
check "requeue --seq 0: exit 2" test $rc -eq 2
spool --help
check "spool --help: usage on stdout, exit 0" sh -c "test $rc -eq 0 && grep -q 'requeue' '$tmp/out'"

conf "$tmp/conf.missing" "$tmp/blank" "$tmp/no/such/spool"
for sub in status "list --dead" "requeue --all" "purge --older-than 3"; do
  spool $sub --config "$tmp/conf.missing"
  check "$sub with a missing spool directory: exit 1, names it and the key to fix" sh -c "test $rc -eq 1 &&
    grep -q '$tmp/no/such/spool' '$tmp/err' && grep -q '\[spool\] dir in $tmp/conf.missing' '$tmp/err'"
done
check "the missing spool directory was not made" test ! -e "$tmp/no/such/spool"
spool status --config "$tmp/nothere.conf"
check "a missing config file: exit 1, named" sh -c "test $rc -eq 1 && grep -q 'nothere.conf' '$tmp/err'"
chmod 644 "$tmp/spool.key"
spool list --config "$tmp/conf"
check "a key file open to others: exit 1, says chmod 600" sh -c "test $rc -eq 1 && grep -q 'chmod 600' '$tmp/err'"
chmod 600 "$tmp/spool.key"
check "no key byte in any output" sh -c "! grep -qF \"\$(od -An -tx1 '$tmp/spool.key' | tr -d ' \n')\" '$tmp/out' '$tmp/err'"

# ---- as root: a requeue writes files the service (the directory's owner) can read ---------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  echo 422 >"$tmp/his.mode"
  "$RUN" run --config "$tmp/conf" --once >/dev/null 2>"$tmp/run4.log"
  chmod 755 "$tmp"
  chown -R nobody "$SP" "$tmp/spool.key"
  spool requeue --all --config "$tmp/conf"
  check "as root: requeue runs as the spool directory's owner" sh -c "test $rc -eq 0 &&
    test -z \"\$(find '$SP' ! -user nobody)\""
  chmod 700 "$tmp"
else
  echo "ok - as root: requeue runs as the spool directory's owner # SKIP not root"
fi

stop_sim
