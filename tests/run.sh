#!/bin/sh
# run.sh - runs every test of the project and prints one closing line:
#   "total: N passed, M failed"
# Called by `make check` (and so by `make test` and CI) after the build.
#
# Environment: BUILD (build directory), FUZZ_SECONDS (time per fuzzer),
# FUZZ_ONLY=1 (only the fuzzers, for `make fuzz`).
set -u
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
SHARED=${SHARED:-../shared}
passed=0
failed=0
failures=""
log=$BUILD/test-logs
mkdir -p "$log"

# ASan's leak checker is on; UBSan stops at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

record() { # record NAME STATUS [LOGFILE]
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1)); echo "PASS $1"
  else
    failed=$((failed + 1)); failures="$failures $1"; echo "FAIL $1${3:+ (log: $3)}"
    [ -n "${3:-}" ] && tail -n 30 "$3" | sed 's/^/    /'
  fi
}

# cmocka suites: each test case counts, from the suite's own summary.
run_cmocka() {
  for t in "$BUILD"/asan/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" >"$log/$name.log" 2>&1
    rc=$?
    ok=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -n 1)
    bad=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$name.log" | tail -n 1)
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${bad:-0}))
    if [ $rc -ne 0 ]; then
      # A crash or a leak report after the summary fails the suite as a whole.
      [ -z "$bad" ] && failed=$((failed + 1))
      failures="$failures $name"
      echo "FAIL $name (log: $log/$name.log)"; tail -n 40 "$log/$name.log" | sed 's/^/    /'
    else
      echo "PASS $name (${ok:-0} cases)"
    fi
  done
}

# Shell scenario scripts: each prints "ok - ..." / "not ok - ..." lines.
run_scripts() {
  for s in tests/*_test.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    BUILD=$BUILD SHARED=$SHARED sh "$s" >"$log/$name.log" 2>&1
    rc=$?
    ok=$(grep -c '^ok ' "$log/$name.log")
    bad=$(grep -c '^not ok ' "$log/$name.log")
    passed=$((passed + ok)); failed=$((failed + bad))
    if [ $rc -ne 0 ] || [ "$bad" -ne 0 ]; then
      [ "$bad" -eq 0 ] && failed=$((failed + 1))
      failures="$failures $name"
      echo "FAIL $name (log: $log/$name.log)"; grep -E '^not ok|^#' "$log/$name.log" | head -n 40 | sed 's/^/    /'
    else
      echo "PASS $name ($ok checks)"
    fi
  done
}

# Fuzzers: replay the saved regressions, then explore for FUZZ_SECONDS from
# the seed corpus (copied, so the repository's corpus stays small).
run_fuzzers() {
  for f in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    reg=tests/fuzz/regressions/$name
    if [ -d "$reg" ] && [ -n "$(ls "$reg" 2>/dev/null | grep -v '^\.gitkeep$')" ]; then
      "$f" $(ls -d "$reg"/* | grep -v '\.gitkeep$') >"$log/$name-regressions.log" 2>&1
      record "$name regressions" $? "$log/$name-regressions.log"
    fi
    work=$BUILD/fuzz/corpus-$name
    mkdir -p "$work" "$BUILD/fuzz/artifacts"
    [ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    # A target's own limits (tests/fuzz/NAME.flags), e.g. a memory budget.
    flags=""
    [ -f "tests/fuzz/$name.flags" ] && flags=$(cat "tests/fuzz/$name.flags")
    # shellcheck disable=SC2086 # option lists, split on purpose
    "$f" $dict $flags -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -artifact_prefix="$BUILD/fuzz/artifacts/$name-" "$work" >"$log/$name.log" 2>&1
    record "$name (${FUZZ_SECONDS}s)" $? "$log/$name.log"
  done
}

if [ "${FUZZ_ONLY:-0}" = 1 ]; then
  run_fuzzers
else
  run_cmocka
  run_scripts
  run_fuzzers
fi

[ -n "$failures" ] && echo "failed:$failures"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
