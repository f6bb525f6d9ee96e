#!/bin/sh
# run-cross.sh - runs the cmocka suites of a cross build under qemu-user.
#
# Called by `make test-cross` (mk/cross.mk), which builds the suites for
# CROSS_ARCH without sanitizers and sets:
#   CROSS_ARCH   arm64 | armhf
#   CROSS_BUILD  build/cross-ARCH (suites in $CROSS_BUILD/asan/tests/)
#   QEMU         qemu-aarch64 | qemu-arm
# Prints one line per suite and ends with
#   "cross ARCH: N passed, M failed, K suites skipped"; exits 1 on any failure.
#
# tests/run.sh also runs every tests/*_test.sh; without CROSS_BUILD this
# script has nothing to do and says so.
set -u
if [ -z "${CROSS_BUILD:-}" ]; then
  echo "# cross_test: run by 'make test-cross' (needs the cross build); nothing to do here"
  exit 0
fi
ARCH=${CROSS_ARCH:-arm64}
QEMU=${QEMU:-qemu-aarch64}
log=$CROSS_BUILD/test-logs
mkdir -p "$log"

# Suites that cannot run under qemu-user, with the reason (name|reason).
# Kept empty unless a suite really needs a kernel or hardware qemu-user lacks;
# the real drivers are covered by `make test-hil`.
SKIP=${CROSS_SKIP:-}

# test_run_service starts the program itself (fork + execl of $CCCD_READER):
# the kernel cannot exec an arm64 ELF without binfmt_misc, so hand it a
# script that starts the cross binary under qemu. exec keeps the pid, so
# its signals (SIGHUP, SIGTERM) reach qemu, which forwards them.
wrapper=$log/cccd-reader-qemu
cat >"$wrapper" <<EOF
#!/bin/sh
exec $QEMU "$(pwd)/$CROSS_BUILD/cccd-reader" "\$@"
EOF
chmod +x "$wrapper"
CCCD_READER="$(pwd)/$wrapper"
export CCCD_READER

passed=0; failed=0; skipped=0; failures=""
for t in "$CROSS_BUILD"/asan/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  reason=$(printf '%s\n' "$SKIP" | tr ' ' '\n' | sed -n "s/^$name|//p" | tr '_' ' ')
  if [ -n "$reason" ]; then
    skipped=$((skipped + 1)); echo "SKIP $name ($reason)"; continue
  fi
  start=$(date +%s)
  timeout 900 "$QEMU" "$t" >"$log/$name.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  ok=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -n 1)
  bad=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -n 1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${bad:-0}))
  if [ $rc -ne 0 ]; then
    [ -z "$bad" ] && failed=$((failed + 1))
    failures="$failures $name"
    echo "FAIL $name (rc $rc, ${secs}s, log: $log/$name.log)"; tail -n 30 "$log/$name.log" | sed 's/^/    /'
  else
    echo "PASS $name (${ok:-0} cases, ${secs}s)"
  fi
done
echo "cross $ARCH: $passed passed, $failed failed, $skipped suites skipped${failures:+ (failed:$failures)}"
[ "$failed" -eq 0 ]
