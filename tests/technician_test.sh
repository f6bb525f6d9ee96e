#!/bin/sh
# technician_test.sh - doctor, provision and snapshot (docs/technician.md).
#
# Against tools/his_sim on loopback with the test PKI and a files: camera:
#   - doctor on a good setup: every check PASS/SKIP (the clock may WARN on a
#     machine without NTP), exit 0; a broken config names file:line; a
#     stopped server fails naming the host; an expired device certificate fails;
#   - provision: step 1 makes a 0600 key and a CSR openssl accepts; step 2
#     installs a certificate signed by the test CA, rewrites the config, and
#     doctor then passes the TLS check with a client certificate required;
#     a certificate for another key, an expired one or another CA's is refused;
#   - snapshot: a PNG of the frame's size, the score printed.
# Prints "ok - ..." / "not ok - ..." per check.
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/asan/cccd-reader
[ -x "$CLI" ] || CLI=$BUILD/cccd-reader
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
"$BUILD/tools/card_clip" "$tmp/clip" 3 >/dev/null 2>&1 || { echo "not ok - card_clip"; exit 0; }

check() { desc=$1; shift; if "$@"; then echo "ok - $desc"; else echo "not ok - $desc"; fi; }
has() { grep -q -- "$2" "$1"; }

start_sim() {
  rm -f "$tmp/port"
  "$SIM" --pki "$PKI" --require-client-cert --out "$tmp/records.jsonl" --port 0 --port-file "$tmp/port" \
    >"$tmp/sim.out" 2>"$tmp/sim.err" &
  SIM_PID=$!
  i=0; while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  PORT=$(cat "$tmp/port")
}
stop_sim() { kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; SIM_PID=""; }

# conf FILE CERT KEY: a reader config against the simulator.
conf() {
  cat >"$1" <<EOF2
; technician test
[device]
id = desk-test
[camera]
source = files:$tmp/clip
fps = 15
[gpio]
backend = null
[uplink]
; the simulator
url = https://localhost:$PORT/api/checkin
ca = $PKI/ca.crt
cert = $2
key = $3
connect_timeout_ms = 2000
read_timeout_ms = 2000
[spool]
dir = $tmp/spool
EOF2
}

# Only PASS and SKIP, except the clock, which may WARN without NTP.
only_pass_skip() { ! grep -E '^(FAIL|WARN)' "$1" | grep -qv '^WARN  clock'; }

# ---- doctor ---------------------------------------------------------------------
start_sim
conf "$tmp/good.conf" "$PKI/device.crt" "$PKI/device.key"
mkdir -m 700 "$tmp/spool"
"$CLI" doctor --config "$tmp/good.conf" --no-interactive >"$tmp/good.out" 2>"$tmp/good.err"
rc=$?
check "doctor: a good setup exits 0" [ $rc -eq 0 ]
check "doctor: every check PASS or SKIP" only_pass_skip "$tmp/good.out"
for name in config camera focus gpio cert server queue; do
  check "doctor: $name reported" has "$tmp/good.out" "^[A-Z]*  $name "
done
check "doctor: camera size and rate" has "$tmp/good.out" "frames of [0-9]*x[0-9]*.*fps measured"
check "doctor: a QR code read, its content not printed" has "$tmp/good.out" "a QR code was read ([0-9]* bytes)"
check "doctor: TLS version and verification" has "$tmp/good.out" "TLSv1.[23], server certificate verified"
check "doctor: days until our certificate expires" has "$tmp/good.out" "valid for [0-9]* more days"
check "doctor: queue stats" has "$tmp/good.out" "0 records waiting"
check "doctor: no key material printed" sh -c "! grep -q 'PRIVATE KEY' '$tmp/good.out' '$tmp/good.err'"
"$CLI" doctor --config "$tmp/good.conf" --no-interactive --json >"$tmp/good.json" 2>/dev/null
check "doctor --json: one object, ok true" sh -c "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"ok\"] and len(d[\"checks\"]) >= 8 else 1)' '$tmp/good.json'"

# The service holds the spool: doctor reads beside it instead of waiting
# (and without taking the lock, even for a moment).
(flock -x 9; sleep 3) 9<"$tmp/spool" &
LOCK_PID=$!
sleep 0.3
"$CLI" doctor --config "$tmp/good.conf" --no-interactive >"$tmp/busy.out" 2>&1
check "doctor: a locked spool is read beside the service" has "$tmp/busy.out" \
  "^PASS  queue    .*(read beside the running service)"
kill $LOCK_PID 2>/dev/null; wait $LOCK_PID 2>/dev/null

printf '[camera]\nsource = files:%s\nfps = banana\n' "$tmp/clip" >"$tmp/broken.conf"
"$CLI" doctor --config "$tmp/broken.conf" --no-interactive >"$tmp/broken.out" 2>&1
rc=$?
check "doctor: a broken config exits 1" [ $rc -eq 1 ]
check "doctor: a broken config names file:line" has "$tmp/broken.out" "^FAIL  config   $tmp/broken.conf:3"

conf "$tmp/expired.conf" "$PKI/expired.crt" "$PKI/expired.key"
"$CLI" doctor --config "$tmp/expired.conf" --no-interactive >"$tmp/expired.out" 2>&1
rc=$?
check "doctor: an expired device certificate fails" has "$tmp/expired.out" "^FAIL  cert .*expired on 2021-01-01"
check "doctor: ... and exits 1" [ $rc -eq 1 ]

stop_sim
"$CLI" doctor --config "$tmp/good.conf" --no-interactive >"$tmp/down.out" 2>&1
rc=$?
check "doctor: a stopped server fails naming the host" has "$tmp/down.out" "^FAIL  server   localhost:$PORT: "
check "doctor: ... with a fix" has "$tmp/down.out" "fix: check the network"
check "doctor: ... and exits 1" [ $rc -eq 1 ]

# ---- provision --------------------------------------------------------------------
start_sim
conf "$tmp/prov.conf" "" ""
"$CLI" provision --config "$tmp/prov.conf" --dir "$tmp/etc" --device-id desk-42 >"$tmp/p1.out" 2>&1
check "provision 1: exits 0" [ $? -eq 0 ]
check "provision 1: key is 0600" [ "$(stat -c %a "$tmp/etc/device.key" 2>/dev/null)" = 600 ]
check "provision 1: openssl accepts the CSR" sh -c "openssl req -verify -noout -in '$tmp/etc/device.csr' >/dev/null 2>&1"
check "provision 1: CSR's CN is the device id" sh -c "openssl req -noout -subject -in '$tmp/etc/device.csr' | grep -q 'CN *= *desk-42'"
check "provision 1: says where the CSR is" has "$tmp/p1.out" "$tmp/etc/device.csr"
check "provision 1: the key is not printed" sh -c "! grep -q 'PRIVATE KEY' '$tmp/p1.out'"
sum=$(sha256sum <"$tmp/etc/device.key")
"$CLI" provision --config "$tmp/prov.conf" --dir "$tmp/etc" --device-id desk-42 >"$tmp/p1b.out" 2>&1
check "provision 1 again: the key is reused, not overwritten" sh -c "[ '$(sha256sum <"$tmp/etc/device.key")' = '$sum' ] && grep -q 'reusing the existing' '$tmp/p1b.out'"

openssl x509 -req -in "$tmp/etc/device.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
  -CAserial "$tmp/ca.srl" -days 200 -sha256 -out "$tmp/signed.pem" >/dev/null 2>&1
cp "$tmp/prov.conf" "$tmp/prov.conf.before"
"$CLI" provision --config "$tmp/prov.conf" --dir "$tmp/etc" --cert "$PKI/device.crt" --ca "$PKI/ca.crt" >"$tmp/p2bad.out" 2>&1
rc=$?
check "provision 2: a certificate for another key is refused" has "$tmp/p2bad.out" "device.crt does not belong to $tmp/etc/device.key"
check "provision 2: ... exit 1, config untouched" sh -c "[ $rc -eq 1 ] && cmp -s '$tmp/prov.conf' '$tmp/prov.conf.before'"
"$CLI" provision --config "$tmp/prov.conf" --dir "$tmp/etc" --cert "$tmp/signed.pem" --ca "$PKI/wrong-ca.crt" >"$tmp/p2ca.out" 2>&1
check "provision 2: another CA's trust is refused" has "$tmp/p2ca.out" "is not signed by the CA in"
"$CLI" provision --config "$tmp/prov.conf" --dir "$tmp/etc" --cert "$tmp/signed.pem" --ca "$PKI/ca.crt" >"$tmp/p2.out" 2>&1
check "provision 2: installs the signed certificate" sh -c "[ $? -eq 0 ] && cmp -s '$tmp/signed.pem' '$tmp/etc/device.crt' && cmp -s '$PKI/ca.crt' '$tmp/etc/ca.crt'"
check "provision 2: certificate and CA are 0644" sh -c "[ \$(stat -c %a '$tmp/etc/device.crt') = 644 ] && [ \$(stat -c %a '$tmp/etc/ca.crt') = 644 ]"
check "provision 2: config rewritten" sh -c "grep -qx 'id = desk-42' '$tmp/prov.conf' && grep -qx 'cert = $tmp/etc/device.crt' '$tmp/prov.conf' && grep -qx 'key = $tmp/etc/device.key' '$tmp/prov.conf' && grep -qx 'ca = $tmp/etc/ca.crt' '$tmp/prov.conf'"
check "provision 2: comments and other keys kept" sh -c "grep -qx '; the simulator' '$tmp/prov.conf' && grep -qx 'read_timeout_ms = 2000' '$tmp/prov.conf'"
"$CLI" doctor --config "$tmp/prov.conf" --no-interactive >"$tmp/pd.out" 2>&1
check "provision 2: doctor then passes TLS with a client certificate required" has "$tmp/pd.out" "^PASS  server .*our certificate accepted"
check "provision 2: ... and nothing fails" only_pass_skip "$tmp/pd.out"
stop_sim

# ---- snapshot -----------------------------------------------------------------------
"$CLI" snapshot "$tmp/snap.png" --config "$tmp/good.conf" >"$tmp/snap.out" 2>&1
check "snapshot: exits 0" [ $? -eq 0 ]
pngsize() { python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]) if d[:8]==b"\x89PNG\r\n\x1a\n" else "none")' "$1" 2>/dev/null; }
pgmsize() { python3 -c 'import sys; t=open(sys.argv[1],"rb").read(64).split(); print("%sx%s" % (t[1].decode(), t[2].decode()))' "$1" 2>/dev/null; }
size=$(pngsize "$tmp/snap.png")
frame=$(pgmsize "$(ls "$tmp"/clip/*.pgm | head -n 1)")
check "snapshot: a PNG of the frame's size ($size, frame $frame)" test -n "$frame" -a "$size" = "$frame"
check "snapshot: score and codes printed" has "$tmp/snap.out" "sharpness [0-9]* (centre), 1 QR code outlined"
