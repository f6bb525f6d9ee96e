#!/bin/sh
# cli_test.sh - the command line end to end, on the sanitizer build.
# Prints "ok - ..." or "not ok - ..." per check (counted by tests/run.sh).
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/asan/cccd-reader
FRAMES=$BUILD/tools/make_frames
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check DESCRIPTION COMMAND...
  desc=$1; shift
  if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; fi
}

# Runs the CLI with stdin from $1; leaves exit code in $rc, stdout in $tmp/out.
parse() {
  input=$1; shift
  printf '%b' "$input" | "$CLI" parse "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}
has() { grep -q -- "$1" "$tmp/out"; }
hasnt() { ! grep -q -- "$1" "$tmp/out"; }

CARD='079090001234|025123456|Ngô Bảo Châu|28061990|Nam|Số 12 ngõ 34 Hoàng Hoa Thám, Ba Đình, Hà Nội|15062021'
CARD24='001303007788||Trần Thị Mỹ Lệ|12032003|Nữ|Thôn Đông, Xã Tiên Phong, Ba Vì, Hà Nội|01082024||||'

parse "$CARD"
check "parse: 2021 card exits 0" test $rc -eq 0
check "parse: record keys and values" sh -c "grep -q '\"id_number\":\"079090001234\"' $tmp/out &&
  grep -q '\"old_id_number\":\"025123456\"' $tmp/out && grep -q '\"full_name\":\"Ngô Bảo Châu\"' $tmp/out &&
  grep -q '\"date_of_birth\":\"1990-06-28\"' $tmp/out && grep -q '\"issue_date\":\"2021-06-15\"' $tmp/out &&
  grep -q '\"sex\":\"male\"' $tmp/out && grep -q '\"card_type\":\"cccd-2021\"' $tmp/out &&
  grep -q '\"address\":\"Số 12 ngõ 34 Hoàng Hoa Thám, Ba Đình, Hà Nội\"' $tmp/out"

parse "\357\273\277$CARD24\r\n"
check "parse: 2024 card with BOM and CRLF" sh -c "test $rc -eq 0 && grep -q '\"card_type\":\"can-cuoc-2024\"' $tmp/out &&
  grep -q '\"old_id_number\":null' $tmp/out && grep -q '\"sex\":\"female\"' $tmp/out"

parse 'https://vneid.gov.vn/verify?c=AbC123'
check "parse: URL is not a card, exit 1" sh -c "test $rc -eq 1 && grep -q '\"kind\":\"not-cccd\"' $tmp/out"

parse '079190001234|025123456|Ngô Bảo Châu|28061990|Nam|Hà Nội|15062021'
check "parse: sex mismatch rejected with its code and both languages" sh -c "test $rc -eq 1 &&
  grep -q '\"code\":\"id-sex-mismatch\"' $tmp/out && grep -q '\"message_vi\":\"Số định danh' $tmp/out"

parse ''
check "parse: empty input is not a card" test $rc -eq 1

head -c 200000 /dev/urandom >"$tmp/big"
"$CLI" parse <"$tmp/big" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "parse: 200 kB of random bytes refused without crash" test $rc -eq 1

parse "$CARD" --text
check "parse --text: ID masked to last four digits" sh -c "grep -q '\*\*\*\*\*\*\*\*1234' $tmp/out && ! grep -q 079090001234 $tmp/out"
check "parse --text: name, birth date, address hidden" sh -c "! grep -q 'Ngô Bảo Châu' $tmp/out &&
  ! grep -q '1990-06-28' $tmp/out && ! grep -q 'Hoàng Hoa Thám' $tmp/out && grep -q 'N. B. C.' $tmp/out"
parse "$CARD" --text --show-pii
check "parse --text --show-pii: full data" sh -c "grep -q 079090001234 $tmp/out && grep -q 'Ngô Bảo Châu' $tmp/out"
parse "$CARD" --bogus
check "parse: unknown option is a usage error" test $rc -eq 2

# ---- scan: bad input --------------------------------------------------------
"$CLI" scan >"$tmp/out" 2>"$tmp/err"; rc=$?
check "scan: no files is a usage error" test $rc -eq 2
"$CLI" scan --json "$tmp/missing.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "scan: missing file named, exit 1" sh -c "test $rc -eq 1 && grep -q '\"code\":\"file-unreadable\"' $tmp/out &&
  grep -q 'missing.png' $tmp/out"
echo "hello" >"$tmp/text.png"
"$CLI" scan --json "$tmp/text.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "scan: text file is refused by content, not name" sh -c "test $rc -eq 1 && grep -q '\"code\":\"image-format\"' $tmp/out"
printf '\211PNG\r\n\032\n\0\0\0\rIHDR\0\0\1\0' >"$tmp/cut.png"
"$CLI" scan --json "$tmp/cut.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "scan: truncated PNG is corrupt" sh -c "test $rc -eq 1 && grep -q '\"code\":\"image-corrupt\"' $tmp/out"
printf 'P5\n99999 99999\n255\n' >"$tmp/huge.pgm"
"$CLI" scan --json "$tmp/huge.pgm" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "scan: huge PGM header refused before allocating" sh -c "test $rc -eq 1 && grep -q '\"code\":\"image-too-large\"' $tmp/out"

# ---- scan: generated sample frames ------------------------------------------
if [ -x "$FRAMES" ] && "$FRAMES" --samples "$tmp/samples" >"$tmp/frames.log" 2>&1; then
  "$CLI" scan --json "$tmp"/samples/*.* >"$tmp/out" 2>"$tmp/err"; rc=$?
  check "scan: every sample frame read, exit 0" test $rc -eq 0
  check "scan --json: one line per file" test "$(wc -l <"$tmp/out")" -eq "$(ls "$tmp"/samples/*.* | wc -l)"
  check "scan --json: cards, not-cards and empty frames reported" sh -c "grep -q '\"kind\":\"cccd\"' $tmp/out &&
    grep -q '\"kind\":\"not-cccd\"' $tmp/out && grep -q '\"codes\":\[\]' $tmp/out && grep -q '\"ms\":' $tmp/out"
  "$CLI" scan "$tmp"/samples/*.* >"$tmp/out" 2>"$tmp/err"
  check "scan: text output masks ID numbers" sh -c "grep -q 'ID number   \*\*\*\*\*\*\*\*[0-9]\{4\}' $tmp/out &&
    ! grep -Eq '[0-9]{12}' $tmp/out"
else
  echo "not ok - scan: make_frames --samples failed: $(tail -n 3 "$tmp/frames.log")"
fi

"$CLI" nonsense >"$tmp/out" 2>"$tmp/err"; rc=$?
check "unknown command is a usage error" test $rc -eq 2

# ---- bad input: where the output goes, what a file is ----------------------------
printf '%s' "$CARD" | "$CLI" parse >/dev/full 2>"$tmp/err"; rc=$?
check "parse > /dev/full: exit 1, says the output was lost" sh -c "test $rc -eq 1 &&
  grep -q 'output could not be written: No space left on device' $tmp/err"
printf '%s' "$CARD" | "$CLI" parse >&- 2>"$tmp/err"; rc=$?
check "parse with stdout closed: exit 1, says so" sh -c "test $rc -eq 1 && grep -q 'output could not be written' $tmp/err"
if [ -d "$tmp/samples" ]; then
  "$CLI" scan --json "$tmp"/samples/*.* >/dev/full 2>"$tmp/err"; rc=$?
  check "scan --json > /dev/full: exit 1" sh -c "test $rc -eq 1 && grep -q 'output could not be written' $tmp/err"
fi
mkfifo "$tmp/fifo.png"
timeout 10 "$CLI" scan --json "$tmp/fifo.png" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "scan a FIFO: refused at once (no hang), names it" sh -c "test $rc -eq 1 && grep -q 'FIFO' $tmp/out"
timeout 10 "$CLI" run --config "$tmp" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "run --config naming a directory: refused, names it" sh -c "test $rc -eq 1 && grep -q 'is a directory' $tmp/err"
mkfifo "$tmp/fifo.conf"
timeout 10 "$CLI" run --config "$tmp/fifo.conf" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "run --config naming a FIFO: refused at once" sh -c "test $rc -eq 1 && grep -q 'FIFO' $tmp/err"
: >"$tmp/empty.conf"
timeout 10 "$CLI" run --config "$tmp/empty.conf" >"$tmp/out" 2>"$tmp/err"; rc=$?
check "run --config naming an empty file: refused" sh -c "test $rc -eq 1 && grep -q 'sets nothing' $tmp/err"
exit 0
