#!/bin/sh
# his_sim_test.sh - the hospital service simulator (tools/his_sim) from the
# outside, with the openssl command line client on 127.0.0.1: the protocol
# (200 / 409 / 4xx, one JSONL line per record), every fault mode, the
# certificates it serves, TLS versions and session resumption.
# Prints "ok - ..." or "not ok - ..." per check (counted by tests/run.sh).
#
# BUILD picks the sim (BUILD/tools/his_sim); its mbedtls version decides the
# TLS version expected (2.x: TLS 1.2 only, 3.x: TLS 1.3). When the trixie
# flavour's sim is built too (build/trixie/tools/his_sim, or TRIXIE_SIM), a
# few TLS 1.3 checks run against it as well.
set -u
BUILD=${BUILD:-build}
SIM=$BUILD/tools/his_sim
TRIXIE_SIM=${TRIXIE_SIM:-build/trixie/tools/his_sim}
PKI=$BUILD/test-pki
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "# kept $tmp (KEEP set)"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check() { # check DESCRIPTION COMMAND...
  desc=$1; shift
  if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; fi
}

if [ ! -x "$SIM" ]; then
  echo "not ok - $SIM is built"
  exit 1
fi
command -v openssl >/dev/null || { echo "not ok - the openssl command line tool is installed"; exit 1; }

# ---- the test PKI -------------------------------------------------------------
t0=$(date +%s)
check "make-test-pki: makes the PKI" tools/make-test-pki.sh "$PKI"
check "make-test-pki: every file there" sh -c "cd '$PKI' && ls ca.crt ca.key server.crt server.key server.pin \
  wrong-host.crt wrong-host.key expired.crt expired.key wrong-ca.crt wrong-ca.key wrong-ca-server.crt \
  wrong-ca-server.key wrong-ca-device.crt wrong-ca-device.key device.crt device.key .done >/dev/null"
check "make-test-pki: keys are 0600" sh -c "for k in '$PKI'/*.key; do [ \"\$(stat -c %a \"\$k\")\" = 600 ] || exit 1; done"
check "make-test-pki: expired.crt lies entirely in the past" sh -c "
  openssl x509 -in '$PKI/expired.crt' -noout -dates | grep -q 'notAfter=Jan  1 00:00:00 2021 GMT' &&
  ! openssl x509 -in '$PKI/expired.crt' -noout -checkend 0 >/dev/null"
check "make-test-pki: device certificate is CN=desk-test from the test CA" sh -c "
  openssl x509 -in '$PKI/device.crt' -noout -subject | grep -q 'CN *= *desk-test' &&
  openssl verify -CAfile '$PKI/ca.crt' '$PKI/device.crt' >/dev/null"
before=$(stat -c %Y "$PKI/ca.crt")
tools/make-test-pki.sh "$PKI"
check "make-test-pki: a second run leaves the PKI alone" test "$(stat -c %Y "$PKI/ca.crt")" = "$before"

# ---- helpers ---------------------------------------------------------------------
# start_sim NAME BINARY ARGS... : starts a sim on a free port; sets PORT, SIMPID.
start_sim() {
  name=$1; bin=$2; shift 2
  "$bin" --port 0 --port-file "$tmp/$name.port" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  SIMPID=$!
  pids="$pids $SIMPID"
  n=0
  while [ $n -lt 50 ] && ! grep -q '^listening on 127\.0\.0\.1:[0-9]*$' "$tmp/$name.out" 2>/dev/null; do
    sleep 0.1; n=$((n + 1))
  done
  PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/$name.out")
  [ -n "$PORT" ]
}
stop_sim() { # stop_sim: SIGTERM; leaves the exit status in sim_rc
  kill -TERM "$SIMPID" 2>/dev/null
  wait "$SIMPID"
  sim_rc=$?
}
mode() { # mode NAME: writes the control file (re-read before each accept and request)
  echo "$1" >"$tmp/control"
}

# tls [s_client options]: stdin to the sim, its answer in $tmp/resp, messages in
# $tmp/tls.err, exit status in $tmp/rc. Verifies the server like the terminal does.
tls() {
  timeout "${TLS_TIMEOUT:-5}" openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername localhost \
    -verify_return_error -verify_hostname localhost -CAfile "$PKI/ca.crt" \
    -cert "$PKI/device.crt" -key "$PKI/device.key" "$@" >"$tmp/resp" 2>"$tmp/tls.err"
  echo $? >"$tmp/rc"
}
# request KEY BODY [CONNECTION [EXTRA-HEADER-LINE]]: prints a check-in request.
request() {
  printf 'POST /api/checkin HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
  printf 'Idempotency-Key: %s\r\nContent-Length: %d\r\nConnection: %s\r\n%s\r\n%s' \
    "$1" "$(printf '%s' "$2" | wc -c)" "${3:-close}" "${4:-}" "$2"
}
# record KEY ID: a valid schema-1 record (compact, as the sim stores it).
record() {
  printf '{"schema":1,"idempotency_key":"%s","device_id":"desk-test","scan_time":"2026-11-27T16:11:31+07:00","clock_synced":true,"source":"card","card_type":"cccd-2021","id_number":"%s","full_name":"Ngô Bảo Châu","date_of_birth":"1990-06-28"}' "$1" "$2"
}
key() { printf 'desk-test-%032x' "$1"; } # key N: a well-formed idempotency key
post() { # post KEY BODY [tls options]: one check-in on its own connection; sets rc
  k=$1; b=$2; shift 2
  request "$k" "$b" | tls "$@"
  rc=$(cat "$tmp/rc")
}
status() { sed -n '1s/^HTTP\/1\.1 \([0-9][0-9][0-9]\) .*/\1/p' "$tmp/resp" | tr -d '\r'; }
body() { sed '1,/^\r$/d' "$tmp/resp"; }
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
stats() { # stats: GET /stats into $tmp/stats
  printf 'GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | tls
  body >"$tmp/stats"
}
stat_get() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$tmp/stats"; } # stat_get NAME: a counter from $tmp/stats
# handshake [s_client options] <INPUT: a bare handshake; its report in $tmp/hs.
handshake() {
  timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$PKI/ca.crt" \
    -cert "$PKI/device.crt" -key "$PKI/device.key" "$@" >"$tmp/hs" 2>&1
}
# Keeps s_client's stdin open a moment, so a TLS 1.3 ticket arrives before it quits.
hold_input() { sleep 0.3; }

version=$("$SIM" --version | sed -n 's/.*mbedtls \([0-9]*\)\..*/\1/p')
if [ "$version" = 2 ]; then TLS_EXPECTED=TLSv1.2; else TLS_EXPECTED=TLSv1.3; fi
echo "# $("$SIM" --version), expecting $TLS_EXPECTED"

# ---- start-up ----------------------------------------------------------------------
long=$(head -c 2000 /dev/zero | tr '\0' '7')
timeout 5 "$SIM" --pki "$PKI" --out "$tmp/long.jsonl" --port 0 --retry-after "$long" >"$tmp/long.out" 2>"$tmp/long.err"
long_rc=$?
check "a 2000-character --retry-after is refused at start" sh -c "[ $long_rc -eq 2 ] &&
  grep -q '^his_sim: --retry-after: at most 128 characters' '$tmp/long.err' && [ ! -s '$tmp/long.out' ] &&
  [ ! -e '$tmp/long.jsonl' ]"

# ---- protocol ---------------------------------------------------------------------
OUT=$tmp/records.jsonl
# Short intervals for the modes that pace their bytes, so their checks take a second or two.
TRICKLE_MS=10
FLOOD_MS=50
HEADER_MS=50
check "sim starts on a free port and says where" start_sim main "$SIM" --pki "$PKI" --require-client-cert \
  --out "$OUT" --control "$tmp/control" --trickle-ms $TRICKLE_MS --flood-ms $FLOOD_MS --header-ms $HEADER_MS
check "port file holds the same port" test "$(cat "$tmp/main.port" 2>/dev/null)" = "$PORT"
hexport=$(printf '%04X' "$PORT")
check "listens on 127.0.0.1 only" sh -c "grep -q ' 0100007F:$hexport 00000000:0000 0A ' /proc/net/tcp &&
  ! grep -q ':$hexport 0*:0000 0A ' /proc/net/tcp6 2>/dev/null &&
  [ \$(grep -c ':$hexport 00000000:0000 0A ' /proc/net/tcp) -eq 1 ]"

K1=$(key 1)
R1=$(record "$K1" 079090001234)
post "$K1" "$R1"
check "valid record: 200 with maKetQua 000" sh -c "[ '$(status)' = 200 ] && body_=\$(sed '1,/^\r\$/d' '$tmp/resp') &&
  echo \"\$body_\" | grep -q '\"maKetQua\":\"000\"' && echo \"\$body_\" | grep -q '\"message\":'"
check "valid record: one compact line in the JSONL, as sent" sh -c "[ \$(wc -l <'$OUT') -eq 1 ] && [ \"\$(cat '$OUT')\" = '$R1' ]"
check "records file is 0600" test "$(stat -c %a "$OUT")" = 600
post "$K1" "$R1"
check "same key again: 409, still one line" sh -c "[ '$(status)' = 409 ] && [ \$(wc -l <'$OUT') -eq 1 ]"

post "$(key 2)" "$(record "$(key 2)" 079090001238)"
check "id ending in 8: maKetQua 010 (expired)" sh -c "[ '$(status)' = 200 ] && grep -q '\"maKetQua\":\"010\"' '$tmp/resp'"
post "$(key 3)" "$(record "$(key 3)" 079090001239)"
check "id ending in 9: maKetQua 050 (no card information)" sh -c "[ '$(status)' = 200 ] && grep -q '\"maKetQua\":\"050\"' '$tmp/resp'"
post "$(key 2)" "$(record "$(key 2)" 079090001238)"
check "a repeat of an 010 record: 409 carries 010" sh -c "[ '$(status)' = 409 ] && grep -q '\"maKetQua\":\"010\"' '$tmp/resp'"

n=$(lines "$OUT")
post "$(key 4)" '{"schema":1,"idempotency_key":'
check "malformed JSON: 400" test "$(status)" = 400
post "$(key 4)" "$(record "$(key 4)" 079090001234 | sed 's/"schema":1/"schema":2/')"
check "unknown schema: 422 naming the field" sh -c "[ '$(status)' = 422 ] && grep -q '\"field\":\"schema\"' '$tmp/resp'"
post "$(key 5)" "$(record "$(key 4)" 079090001234)"
check "Idempotency-Key header differs from the body: 422" test "$(status)" = 422
post "$(key 4)" "$(record "$(key 4)" 079090001234 | sed 's/"device_id":"desk-test",//')"
check "no device_id: 422" sh -c "[ '$(status)' = 422 ] && grep -q '\"field\":\"device_id\"' '$tmp/resp'"
post "$(key 4)" "$(record "$(key 4)" 079090001234 | sed 's/"scan_time":"[^"]*",//')"
check "no scan_time: 422" test "$(status)" = 422
post "$(key 4)" "$(record "$(key 4)" 079090001234 | sed 's/"card_type":"cccd-2021"/"card_type":"passport"/')"
check "unknown card_type: 422" test "$(status)" = 422
post "$(key 4)" "$(record "$(key 4)" 079090001234 | sed 's/}$/,"phone":"0900000000"}/')"
check "a key the protocol does not have: 422" test "$(status)" = 422
printf 'POST /api/checkin HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n' "$(key 4)" | tls
check "body above 64 KiB: 413" test "$(status)" = 413
big=$(head -c 9000 /dev/zero | tr '\0' 'a')
request "$(key 4)" "$(record "$(key 4)" 079090001234)" close "X-Big: $big
" | tls
check "head above 8 KiB: 431" test "$(status)" = 431
printf 'GARBAGE\r\n\r\n' | tls
check "malformed request line: 400" test "$(status)" = 400
printf 'GET /api/checkin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | tls
check "GET on the check-in path: 405 with Allow: POST" sh -c "[ '$(status)' = 405 ] && grep -qi '^Allow: POST' '$tmp/resp'"
check "refused records are not stored" test "$(lines "$OUT")" = "$n"

# Two requests on one connection (keep-alive), then close.
stats; conns_before=$(stat_get connections)
{ request "$(key 6)" "$(record "$(key 6)" 079090001234)" keep-alive
  request "$(key 7)" "$(record "$(key 7)" 079090001234)" close; } | tls
cp "$tmp/resp" "$tmp/resp2"
stats; conns_after=$(stat_get connections)
check "keep-alive: two answers on one connection" sh -c "[ \$(grep -o 'HTTP/1.1 200 OK' '$tmp/resp2' | wc -l) -eq 2 ] &&
  grep -qi '^Connection: keep-alive' '$tmp/resp2' && [ $conns_after -eq \$(($conns_before + 2)) ]"

# TLS: version, client certificate, resumption.
hold_input | handshake -sess_out "$tmp/sess.pem"
check "TLS: negotiates $TLS_EXPECTED" grep -q "^New, $TLS_EXPECTED," "$tmp/hs"
if [ "$version" = 2 ]; then
  handshake -tls1_3 </dev/null
  check "TLS: mbedtls 2.28 refuses TLS 1.3" sh -c "! grep -q '^New, TLSv1.3' '$tmp/hs'"
else
  handshake -tls1_2 </dev/null
  check "TLS: TLS 1.2 still accepted" grep -q '^New, TLSv1.2,' "$tmp/hs"
fi
hold_input | handshake -sess_in "$tmp/sess.pem"
check "TLS: session resumed" grep -q "^Reused, $TLS_EXPECTED," "$tmp/hs"
stats; failures=$(stat_get handshake_failures)
timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$PKI/ca.crt" \
  -quiet </dev/null >/dev/null 2>&1
stats
check "TLS: no client certificate is refused (--require-client-cert)" test "$(stat_get handshake_failures)" = $((failures + 1))
post "$(key 8)" "$(record "$(key 8)" 079090001234)" -cert "$PKI/wrong-ca-device.crt" -key "$PKI/wrong-ca-device.key"
answer=$(status)
stats
check "TLS: a client certificate from another CA is refused" sh -c "[ -z '$answer' ] && [ $rc -ne 0 ] &&
  [ $(stat_get handshake_failures) -eq $((failures + 2)) ]"
check "TLS: the resumption is counted" sh -c "! grep -q '\"resumed\":0,' '$tmp/stats'"
check "stats: counters as JSON" sh -c "grep -q '\"accepted\":5,' '$tmp/stats' && grep -q '\"duplicates\":2,' '$tmp/stats' &&
  grep -q '\"records\":5,' '$tmp/stats' && grep -q '\"200\":5' '$tmp/stats' && grep -q '\"mode\":\"none\"' '$tmp/stats'"

# Eight connections at once, all with the same new key: one 200, seven 409, one line.
KP=$(key 20)
RP=$(record "$KP" 079090001234)
n=$(lines "$OUT")
ppids=""
for i in 1 2 3 4 5 6 7 8; do
  request "$KP" "$RP" | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" -servername localhost \
    -CAfile "$PKI/ca.crt" -cert "$PKI/device.crt" -key "$PKI/device.key" >"$tmp/par$i" 2>/dev/null &
  ppids="$ppids $!"
done
wait $ppids
check "8 parallel connections, one key: one 200, seven 409, one line" sh -c "
  [ \$(grep -l '^HTTP/1.1 200 ' '$tmp'/par* | wc -l) -eq 1 ] && [ \$(grep -l '^HTTP/1.1 409 ' '$tmp'/par* | wc -l) -eq 7 ] &&
  [ \$(wc -l <'$OUT') -eq $((n + 1)) ]"

# ---- fault modes (switched through the control file) ------------------------------------
n=$(lines "$OUT")
mode 500
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault 500: 500, record not stored" sh -c "[ '$(status)' = 500 ] && [ $(lines "$OUT") -eq $n ]"
mode 503
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault 503: 503 with Retry-After: 2" sh -c "[ '$(status)' = 503 ] && grep -q \"^Retry-After: 2$(printf '\r')\$\" '$tmp/resp'"
mode 422
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault 422 (any status 400..599): 422" test "$(status)" = 422
mode 302
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault 302 (any status 300..399): 302 with Location, JSON body, record not stored" sh -c "
  [ '$(status)' = 302 ] && grep -q \"^Location: https://elsewhere.invalid/api/checkin$(printf '\r')\$\" '$tmp/resp' &&
  grep -q '\"error\":\"simulated 302' '$tmp/resp' && [ $(lines "$OUT") -eq $n ]"
mode 304
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault 304: a head only (no Content-Length, no body)" sh -c "[ '$(status)' = 304 ] &&
  ! grep -qi '^Content-Length' '$tmp/resp' && [ -z \"\$(sed '1,/^\r\$/d' '$tmp/resp')\" ] && [ $(lines "$OUT") -eq $n ]"
stats
check "stats work in every mode" sh -c "grep -q '\"mode\":\"304\"' '$tmp/stats'"

# nginx's own pages: what a proxy in front of the service answers by itself.
# nginx_page TITLE H1 [LINE]: the page, byte for byte (CRLF line ends).
nginx_page() {
  printf '<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n' "$1" "$2"
  [ -n "${3:-}" ] && printf '<center>%s</center>\r\n' "$3"
  printf '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'
}
nginx_page '502 Bad Gateway' '502 Bad Gateway' >"$tmp/page502"
mode proxy-502
{ request "$(key 10)" "$(record "$(key 10)" 079090001234)" keep-alive
  request "$(key 10)" "$(record "$(key 10)" 079090001234)" close; } | tls
check "fault proxy-502: nginx's page (text/html, Server: nginx), byte for byte, twice on one connection" sh -c "
  [ \$(grep -c '^HTTP/1.1 502 Bad Gateway' '$tmp/resp') -eq 2 ] && grep -q '^Server: nginx' '$tmp/resp' &&
  grep -q '^Content-Type: text/html$(printf '\r')\$' '$tmp/resp' &&
  grep -q \"^Content-Length: $(wc -c <"$tmp/page502")$(printf '\r')\$\" '$tmp/resp' &&
  [ \$(grep -c '^Connection: keep-alive' '$tmp/resp') -eq 1 ] &&
  sed '1,/^\r\$/d' '$tmp/resp' | head -n 7 | cmp -s - '$tmp/page502' && [ $(lines "$OUT") -eq $n ]"
mode proxy-503
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault proxy-503: nginx's reason phrase and title, no Retry-After, not stored" sh -c "
  grep -q '^HTTP/1.1 503 Service Temporarily Unavailable' '$tmp/resp' && ! grep -qi '^Retry-After' '$tmp/resp' &&
  grep -q '<title>503 Service Temporarily Unavailable</title>' '$tmp/resp' && [ $(lines "$OUT") -eq $n ]"
nginx_page '400 The SSL certificate error' '400 Bad Request' 'The SSL certificate error' >"$tmp/page495"
mode cert-refused
t_start=$(date +%s)
request "$(key 10)" "$(record "$(key 10)" 079090001234)" keep-alive | tls
t_took=$(($(date +%s) - t_start))
check "fault cert-refused: 400, nginx's certificate error page, Connection: close, then EOF" sh -c "
  grep -q '^HTTP/1.1 400 Bad Request' '$tmp/resp' && grep -q '^Content-Type: text/html' '$tmp/resp' &&
  grep -q '^Connection: close' '$tmp/resp' && grep -q '<title>400 The SSL certificate error</title>' '$tmp/resp' &&
  sed '1,/^\r\$/d' '$tmp/resp' | cmp -s - '$tmp/page495' && [ $(cat "$tmp/rc") -eq 0 ] && [ $t_took -lt 3 ] &&
  [ $(lines "$OUT") -eq $n ]"

mode stall
TLS_TIMEOUT=2 post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault stall: no answer within 2 s" sh -c "[ $rc -eq 124 ] && [ ! -s '$tmp/resp' ] && [ $(lines "$OUT") -eq $n ]"

mode reset
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "fault reset: half an answer, then a connection reset" sh -c "grep -q '^HTTP/1.1 200 OK' '$tmp/resp' &&
  ! grep -q maKetQua '$tmp/resp' && grep -q 'errno=104' '$tmp/tls.err'"
check "fault reset: the record was stored (only the answer was lost)" test "$(lines "$OUT")" = $((n + 1))
mode none
post "$(key 10)" "$(record "$(key 10)" 079090001234)"
check "after reset, the retry is answered 409" test "$(status)" = 409

mode refuse
sleep 0.3
post "$(key 11)" "$(record "$(key 11)" 079090001234)"
check "fault refuse: connection refused" sh -c "[ $rc -ne 0 ] && grep -q 'errno=111' '$tmp/tls.err'"
mode none
sleep 0.3
post "$(key 11)" "$(record "$(key 11)" 079090001234)"
check "refuse -> none: accepting again" test "$(status)" = 200

mode close
request "$(key 12)" "$(record "$(key 12)" 079090001234)" keep-alive | tls
check "fault close: answered with Connection: close, then closed" sh -c "[ '$(status)' = 200 ] &&
  grep -qi '^Connection: close' '$tmp/resp' && [ $(cat "$tmp/rc") -eq 0 ]"
mode chunked
post "$(key 13)" "$(record "$(key 13)" 079090001234)"
check "fault chunked: 200 in chunks" sh -c "[ '$(status)' = 200 ] && grep -qi '^Transfer-Encoding: chunked' '$tmp/resp' &&
  ! grep -qi '^Content-Length' '$tmp/resp' && sed '1,/^\r\$/d' '$tmp/resp' | tr -d '\r' | grep -q '^10\$' &&
  sed '1,/^\r\$/d' '$tmp/resp' | tr -d '\r' | tail -n 2 | head -n 1 | grep -q '^0\$'"
mode overlong
n=$(lines "$OUT")
{ request "$(key 16)" "$(record "$(key 16)" 079090001234)" keep-alive
  request "$(key 22)" "$(record "$(key 22)" 079090001234)" close; } | tls
check "fault overlong: 200 with Content-Length: 2, {} and 30 more bytes; stored; the connection serves the next request" sh -c "
  [ '$(status)' = 200 ] && [ \$(grep -c '^Content-Length: 2$(printf '\r')\$' '$tmp/resp') -eq 2 ] &&
  grep -q '^Connection: keep-alive' '$tmp/resp' &&
  [ \"\$(sed '1,/^\r\$/d' '$tmp/resp' | head -n 1)\" = '{}JUNK-PAST-CONTENT-LENGTH-00000HTTP/1.1 200 OK$(printf '\r')' ] &&
  [ \$(grep -o '{}JUNK-PAST-CONTENT-LENGTH-00000' '$tmp/resp' | wc -l) -eq 2 ] && [ $(lines "$OUT") -eq $((n + 2)) ]"
# trickle: the answer one byte a TLS record, TRICKLE_MS apart. s_client's
# -msg log counts the records; the size of what has arrived after a second,
# and the time the whole took, show the pace.
mode trickle
n=$(lines "$OUT")
ms_now() { echo $(($(date +%s%N) / 1000000)); }
t_start=$(ms_now)
request "$(key 17)" "$(record "$(key 17)" 079090001234)" | TLS_TIMEOUT=8 tls -msg -msgfile "$tmp/msg" &
tpid=$!
sleep 1
part=$(wc -c <"$tmp/resp")
wait $tpid
t_took=$(($(ms_now) - t_start))
total=$(wc -c <"$tmp/resp")
records=$(grep -c '^<<< .*RecordHeader' "$tmp/msg")
echo "# trickle: $part bytes after 1 s, $total in $t_took ms, $records TLS records in"
check "fault trickle: the whole answer (200, stored), one byte a TLS record, $TRICKLE_MS ms apart" sh -c "
  [ '$(status)' = 200 ] && grep -q '\"maKetQua\":\"000\"' '$tmp/resp' && [ $(lines "$OUT") -eq $((n + 1)) ] &&
  [ $records -ge $total ] && [ $part -gt 0 ] && [ $part -le $((1000 / TRICKLE_MS + 10)) ] &&
  [ $t_took -ge $(((total - 1) * TRICKLE_MS)) ]"
# continue-flood and header-trickle never finish an answer: a 0.7 s
# window shows what they send, byte for byte, and that nothing else comes.
mode continue-flood
n=$(lines "$OUT")
TLS_TIMEOUT=0.7 post "$(key 18)" "$(record "$(key 18)" 079090001234)"
k=$(grep -c '^HTTP/1.1 100 Continue' "$tmp/resp")
i=0; while [ $i -lt "$k" ]; do printf 'HTTP/1.1 100 Continue\r\n\r\n'; i=$((i + 1)); done >"$tmp/expect"
sleep 0.3
check "fault continue-flood: only 100 Continue, every $FLOOD_MS ms ($k in 0.7 s), no final answer, not stored; ends with the client" sh -c "
  [ $rc -eq 124 ] && [ $k -ge 4 ] && [ $k -le $((700 / FLOOD_MS + 1)) ] && cmp -s '$tmp/expect' '$tmp/resp' &&
  [ $(lines "$OUT") -eq $n ] && grep -q ' \"100 Continue\" sent, no final answer (continue-flood): closed by the client' '$tmp/main.err'"
mode header-trickle
TLS_TIMEOUT=0.7 post "$(key 18)" "$(record "$(key 18)" 079090001234)"
k=$(grep -c '^X-Wait: ' "$tmp/resp")
{ printf 'HTTP/1.1 200 OK\r\n'; i=1; while [ $i -le "$k" ]; do printf 'X-Wait: %d\r\n' $i; i=$((i + 1)); done; } >"$tmp/expect"
check "fault header-trickle: 200 OK, then X-Wait: N every $HEADER_MS ms ($k in 0.7 s), the head never ends, not stored" sh -c "
  [ $rc -eq 124 ] && [ $k -ge 4 ] && [ $k -le $((700 / HEADER_MS)) ] && cmp -s '$tmp/expect' '$tmp/resp' &&
  [ $(lines "$OUT") -eq $n ]"
# stray: one request on a kept-alive connection gets 200 {} and then an
# unasked second 200 {}; the next request there (and on any connection) 503.
mode stray
n=$(lines "$OUT")
{ request "$(key 19)" "$(record "$(key 19)" 079090001234)" keep-alive
  request "$(key 21)" "$(record "$(key 21)" 079090001234)" close; } | tls
grep -o 'HTTP/1.1 [0-9]*' "$tmp/resp" | tr '\n' ' ' >"$tmp/statuses" # a stray's status line follows a body: not at ^
check "fault stray: two 200 {} for one request, then 503 for the next; the first record stored, not the second" sh -c "
  [ \"\$(cat '$tmp/statuses')\" = 'HTTP/1.1 200 HTTP/1.1 200 HTTP/1.1 503 ' ] &&
  [ \$(grep -c '^Content-Length: 2$(printf '\r')\$' '$tmp/resp') -eq 2 ] && [ \$(grep -o '{}HTTP/1.1 ' '$tmp/resp' | wc -l) -eq 2 ] &&
  grep -q '\"error\":\"simulated 503' '$tmp/resp' && [ $(lines "$OUT") -eq $((n + 1)) ] && grep -q '$(key 19)' '$OUT'"
post "$(key 21)" "$(record "$(key 21)" 079090001234)"
check "fault stray: afterwards every request is 503, on a new connection too" sh -c "[ '$(status)' = 503 ] &&
  grep -q '^Retry-After: 2' '$tmp/resp' && [ $(lines "$OUT") -eq $((n + 1)) ]"
mode none; sleep 0.3; mode stray
post "$(key 21)" "$(record "$(key 21)" 079090001234)"
check "fault stray: the mode set again sends a stray again" sh -c "[ \$(grep -o 'HTTP/1.1 200 OK' '$tmp/resp' | wc -l) -eq 2 ] &&
  [ $(lines "$OUT") -eq $((n + 2)) ]"
mode close-delimited
post "$(key 14)" "$(record "$(key 14)" 079090001234)"
check "fault close-delimited: body ends at the close" sh -c "[ '$(status)' = 200 ] && ! grep -qi '^Content-Length' '$tmp/resp' &&
  ! grep -qi '^Transfer-Encoding' '$tmp/resp' && grep -q '\"maKetQua\":\"000\"' '$tmp/resp'"
mode stall-accept
TLS_TIMEOUT=1 post "$(key 15)" "$(record "$(key 15)" 079090001234)"
check "fault stall-accept: no handshake" sh -c "[ $rc -eq 124 ] && [ ! -s '$tmp/resp' ]"
mode wrong-cert
tls </dev/null
check "fault wrong-cert (with --pki): a certificate from another CA" grep -qi 'unable to get local issuer certificate' "$tmp/tls.err"
mode expired-cert
tls </dev/null
check "fault expired-cert (with --pki): an expired certificate" grep -qi 'certificate has expired' "$tmp/tls.err"
mode wrong-host
tls </dev/null
check "fault wrong-host (with --pki): a certificate for another name" grep -qi 'hostname mismatch' "$tmp/tls.err"
mode none

stop_sim
check "SIGTERM: exits 0 with counters on stderr" sh -c "[ $sim_rc -eq 0 ] && grep -q 'counters: requests=' '$tmp/main.err' &&
  grep -q 'status: .*200=' '$tmp/main.err'"
check "no personal data in the sim's log" sh -c "! grep -q -e 0790900012 -e 'Ngô' -e 'Bảo' -e 1990-06-28 '$tmp/main.err'"

# A restarted sim still knows the keys in its file.
check "restart on the same file" start_sim again "$SIM" --pki "$PKI" --out "$OUT"
post "$K1" "$R1"
check "restart: an old key is still a 409" test "$(status)" = 409
stop_sim

# ---- certificates given at start (the way to run the certificate faults without --pki) ----
served() { # served: what the sim presents, as openssl x509 sees it, into $tmp/cert
  timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -subject -issuer -ext subjectAltName -enddate >"$tmp/cert" 2>&1
}
start_sim wronghost "$SIM" --cert "$PKI/wrong-host.crt" --key "$PKI/wrong-host.key" --out "$tmp/wh.jsonl" --fault wrong-host
served; tls </dev/null
check "started with wrong-host.crt: serves other.example, verification fails" sh -c "
  grep -q 'DNS:other.example' '$tmp/cert' && ! grep -q localhost '$tmp/cert' && grep -qi 'hostname mismatch' '$tmp/tls.err'"
stop_sim
start_sim expired "$SIM" --cert "$PKI/expired.crt" --key "$PKI/expired.key" --out "$tmp/ex.jsonl" --fault expired-cert
served; tls </dev/null
check "started with expired.crt: serves a certificate that ended in 2021" sh -c "
  grep -q 'notAfter=Jan  1 00:00:00 2021 GMT' '$tmp/cert' && grep -qi 'certificate has expired' '$tmp/tls.err'"
stop_sim
start_sim wrongca "$SIM" --cert "$PKI/wrong-ca-server.crt" --key "$PKI/wrong-ca-server.key" --out "$tmp/wc.jsonl"
served; tls </dev/null
check "started with wrong-ca-server.crt: issued by the wrong CA" sh -c "
  grep -q 'issuer=CN *= *cccd wrong CA' '$tmp/cert' && grep -qi 'unable to get local issuer' '$tmp/tls.err'"
stop_sim

# ---- the trixie flavour (mbedtls 3.6): TLS 1.3 --------------------------------------------
if [ "$version" = 2 ] && [ -x "$TRIXIE_SIM" ] && [ "$TRIXIE_SIM" != "$SIM" ]; then
  echo "# $("$TRIXIE_SIM" --version)"
  check "trixie sim starts" start_sim trixie "$TRIXIE_SIM" --pki "$PKI" --require-client-cert --out "$tmp/trixie.jsonl"
  hold_input | handshake -tls1_3 -sess_out "$tmp/sess13.pem"
  check "trixie sim: openssl s_client -tls1_3 negotiates TLS 1.3" grep -q '^New, TLSv1.3,' "$tmp/hs"
  hold_input | handshake -tls1_3 -sess_in "$tmp/sess13.pem"
  check "trixie sim: TLS 1.3 session resumed (ticket)" grep -q '^Reused, TLSv1.3,' "$tmp/hs"
  handshake -tls1_2 </dev/null
  check "trixie sim: TLS 1.2 still accepted" grep -q '^New, TLSv1.2,' "$tmp/hs"
  post "$K1" "$R1"
  check "trixie sim: 200 and one line" sh -c "[ '$(status)' = 200 ] && [ $(lines "$tmp/trixie.jsonl") -eq 1 ]"
  post "$K1" "$R1"
  check "trixie sim: 409 on a repeat" test "$(status)" = 409
  stop_sim
  check "trixie sim: SIGTERM, exit 0" test "$sim_rc" -eq 0
elif [ "$version" = 2 ]; then
  echo "# trixie flavour: $TRIXIE_SIM not built (make trixie-libs && make FLAVOR=trixie $TRIXIE_SIM), TLS 1.3 checks skipped"
fi

echo "# took $(($(date +%s) - t0)) s"
