#!/bin/sh
# uplink_nginx_test.sh - delivery through Debian's nginx, as the hospitals run it.
#
# The real terminal (files: camera → decoder → spool → TLS uplink) against a
# real nginx (nginx-light) terminating TLS with client-certificate
# verification, in front of tools/his_sim, all on 127.0.0.1. nginx runs with
# a config of its own in a temporary folder (docs/nginx.md has the config):
# /etc/nginx, ports 80/443 and the nginx service are never touched.
#
#   1. happy path: 5 cards → 5 keys at his_sim, each once
#   2. device certificate from another CA: nginx completes TLS and answers
#      400 "The SSL certificate error"; nothing set aside, the refusal logged,
#      at most ~1 request per backoff step; the right certificate then
#      delivers each record once
#   3. the same with an expired device certificate
#   4. nginx stopped and started, then reloaded, while 30 records go out
#   5. his_sim down (502), his_sim stalled (504): records wait, then arrive once
#   6. keepalive_requests 2, keepalive_timeout 1s: 20 records, each once
#   7. the TLS version nginx logs: TLSv1.2 (mbedtls 2.28), TLSv1.3 with the
#      trixie flavour (mbedtls 3.6) when $BUILD/trixie/cccd-reader exists
#   8. `cccd-reader doctor` with the refused certificate: FAIL, exit 1
#
# Prints "ok - ..." / "not ok - ..." per check, "# ..." for what a failure
# needs explained. "ok - # SKIP" only when nginx cannot be installed or
# started. Everything has a time limit; every process and file it started or
# made goes at the end (KEEP=1 keeps the temporary folder).
set -u
BUILD=${BUILD:-build}
CLI=$BUILD/cccd-reader
SIM=$BUILD/tools/his_sim
PKI=$BUILD/test-pki
tmp=$(mktemp -d)
SIM_PID="" NGINX_PID="" READER=""
T0=$(date +%s)

cleanup() {
  stop_pid "$READER"; stop_pid "$NGINX_PID"; stop_pid "$SIM_PID"
  if [ -n "${KEEP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
. tests/lib/delivery.sh
trap 'exit 1' INT TERM HUP

# ---- nginx: found, or installed, or the test is skipped ---------------------
find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }
NGINX=$(find_nginx)
if [ -z "$NGINX" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    timeout 600 tools/install-deps.sh test >"$tmp/install.log" 2>&1
    NGINX=$(find_nginx)
  fi
  if [ -z "$NGINX" ]; then
    echo "ok - # SKIP nginx is not installed and could not be installed (tools/install-deps.sh test:" \
      "$(tail -n 1 "$tmp/install.log" 2>/dev/null || echo 'not root, or no apt-get'))"
    exit 0
  fi
fi

if ! "$NGINX" -v >"$tmp/nginx-v.log" 2>&1; then
  echo "ok - # SKIP $NGINX does not run: $(tail -n 1 "$tmp/nginx-v.log")"
  exit 0
fi

tools/make-test-pki.sh "$PKI" >"$tmp/pki.log" 2>&1 || { echo "not ok - test PKI: $(tail -n 1 "$tmp/pki.log")"; exit 0; }
PKI=$(cd "$PKI" && pwd) # nginx takes relative paths from its prefix
for n in 5 20 30; do
  "$BUILD/tools/card_clip" "$tmp/clip$n" "$n" --seed "$n" >/dev/null || { echo "not ok - card_clip $n"; exit 0; }
done
# A camera that sees no card: the run that only empties the queue.
blank() { printf 'P5\n252 252\n255\n' >"$1"; head -c 63504 /dev/zero >>"$1"; }
mkdir "$tmp/blank"; blank "$tmp/blank/blank.pgm"
# 20 cards in 4 groups of 5 with 1.25 s of empty frames between (at 20 fps):
# nginx's 1 s keepalive_timeout closes the idle connection in each gap.
mkdir "$tmp/gaps"; i=0; f=0
while [ $i -lt 20 ]; do
  if [ $i -gt 0 ] && [ $((i % 5)) -eq 0 ]; then
    g=0; while [ $g -lt 25 ]; do ln -s "$tmp/blank/blank.pgm" "$tmp/gaps/$(printf %04d $f).pgm"; f=$((f + 1)); g=$((g + 1)); done
  fi
  ln -s "$tmp/clip20/$(printf %04d $i).pgm" "$tmp/gaps/$(printf %04d $f).pgm"; f=$((f + 1)); i=$((i + 1))
done

# The TLS version the terminal must get from nginx: the bookworm build
# (mbedtls 2.28) can only do TLS 1.2; the trixie flavour (mbedtls 3.6, linked
# statically from build/trixie-libs) negotiates TLS 1.3.
case $BUILD in */trixie|trixie) DEFAULT_TLS=TLSv1.3 ;; *) DEFAULT_TLS=TLSv1.2 ;; esac
EXPECT_TLS=${EXPECT_TLS:-$DEFAULT_TLS}

# ---- nginx --------------------------------------------------------------------
# The modules whose temporary folders nginx creates at start: all must point
# into our prefix (the defaults are under /var/lib/nginx).
temp_paths() {
  printf 'client_body_temp_path %s/body; proxy_temp_path %s/proxy;' "$1" "$1"
  for m in fastcgi uwsgi scgi; do
    "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module" || printf ' %s_temp_path %s/%s;' "$m" "$1" "$m"
  done
}
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;" # workers as nobody could not enter the 0700 temporary folder

# nginx_conf NAME [DIRECTIVES]: $tmp/ngx.NAME/nginx.conf, proxying to
# his_sim on SIM_PORT; DIRECTIVES go into the server block.
nginx_conf() {
  d=$tmp/ngx.$1
  mkdir -p "$d/temp"
  cat >"$d/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
events { worker_connections 64; }
http {
    $(temp_paths "$d/temp")
    log_format checkin '\$remote_addr [\$time_local] "\$request" \$status \$ssl_protocol '
                       'verify=\$ssl_client_verify conn=\$connection req=\$connection_requests '
                       'key=\$http_idempotency_key upstream=\$upstream_status';
    access_log $d/access.log checkin;

    server {
        listen 127.0.0.1:$NGX_PORT ssl;
        server_name localhost;

        ssl_certificate         $PKI/server.crt;
        ssl_certificate_key     $PKI/server.key;
        ssl_protocols           TLSv1.2 TLSv1.3;
        ssl_client_certificate  $PKI/ca.crt;
        ssl_verify_client       on;
        ${2:-}

        location /api/checkin {
            proxy_pass https://127.0.0.1:$SIM_PORT;
            proxy_http_version 1.1;
            proxy_set_header Host localhost;
            proxy_set_header Connection "";
            proxy_set_header Idempotency-Key \$http_idempotency_key;
            proxy_ssl_certificate         $PKI/device.crt;
            proxy_ssl_certificate_key     $PKI/device.key;
            proxy_ssl_trusted_certificate $PKI/ca.crt;
            proxy_ssl_verify              on;
            proxy_ssl_name                localhost;
            proxy_ssl_server_name         on;
            proxy_ssl_session_reuse       on;
        }
    }
}
EOF
}

# start_nginx NAME: runs $tmp/ngx.NAME/nginx.conf in the foreground (as our
# child); ready once its pid file is written, which it does after binding.
start_nginx() {
  d=$tmp/ngx.$1
  rm -f "$d/nginx.pid"
  "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" \
    -g "daemon off; master_process on; pid $d/nginx.pid; error_log $d/error.log notice;" \
    >>"$d/stdout" 2>&1 &
  NGINX_PID=$!
  i=0; while [ ! -s "$d/nginx.pid" ] && kill -0 "$NGINX_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  if [ -s "$d/nginx.pid" ] && kill -0 "$NGINX_PID" 2>/dev/null; then return 0; fi
  stop_pid "$NGINX_PID"; NGINX_PID=""
  return 1
}
stop_nginx() { stop_pid "$NGINX_PID"; NGINX_PID=""; }
nginx_error() { grep -h 'emerg\|alert\|crit' "$tmp/ngx.$1/error.log" "$tmp/ngx.$1/stdout" 2>/dev/null | tail -n 1; }

# setup NAME [DIRECTIVES]: a fresh his_sim and nginx for one scenario.
setup() {
  stop_nginx; stop_sim
  start_sim "$1" || { echo "not ok - $1: his_sim did not start: $(tail -n 1 "$tmp/$1.sim.err")"; return 1; }
  nginx_conf "$1" "${2:-}"
  start_nginx "$1" || { echo "not ok - $1: nginx did not start: $(nginx_error "$1")"; return 1; }
}

# A free port for nginx: a random one below Linux's ephemeral range, tried
# until nginx can bind it. The terminals' configs keep it for the whole run.
NGX_PORT=""
start_sim probe || { echo "not ok - his_sim did not start: $(tail -n 1 "$tmp/probe.sim.err")"; exit 0; }
tries=0
while [ $tries -lt 8 ]; do
  tries=$((tries + 1))
  NGX_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000))
  nginx_conf probe
  if ! "$NGINX" -t -q -p "$tmp/ngx.probe" -c "$tmp/ngx.probe/nginx.conf" -e "$tmp/ngx.probe/error.log" \
       -g "pid $tmp/ngx.probe/nginx.pid; error_log $tmp/ngx.probe/error.log;" >"$tmp/ngx.probe/stdout" 2>&1; then
    echo "not ok - nginx refuses the test's config: $(nginx_error probe)"; exit 0
  fi
  start_nginx probe && break
  NGX_PORT=""
  nginx_error probe | grep -q 'in use' || break
done
stop_nginx; stop_sim
if [ -z "$NGX_PORT" ]; then
  echo "ok - # SKIP nginx ($NGINX) does not start here: $(nginx_error probe)"
  exit 0
fi
note "$("$NGINX" -v 2>&1) on 127.0.0.1:$NGX_PORT, terminal expected to negotiate $EXPECT_TLS"

# ---- the terminal ------------------------------------------------------------
# conf NAME CAMERA_DIR CERT [BACKOFF_MIN BACKOFF_MAX] (FPS from the
# environment, default 100): the terminal's config with its own spool.
conf() {
  cat >"$tmp/conf.$1" <<EOF
[device]
id = desk-test
[camera]
source = files:$2
fps = ${FPS:-100}
[scan]
duplicate_window_s = 600
decode_threads = 1
[uplink]
url = https://localhost:$NGX_PORT/api/checkin
ca = $PKI/ca.crt
cert = $PKI/$3.crt
key = $PKI/$3.key
connect_timeout_ms = 2000
read_timeout_ms = 3000
backoff_min_ms = ${4:-200}
backoff_max_ms = ${5:-1000}
[spool]
dir = $tmp/spool.$1
EOF
}
# run_once NAME [BINARY]: `run --once` in the foreground (the queue drains
# for at most 15 s after the last picture); stderr appended to NAME.log.
run_once() { timeout 45 "${2:-$CLI}" run --config "$tmp/conf.$1" --once >/dev/null 2>>"$tmp/$1.log"; }
wait_reader() { # wait_reader S: until the background --once run ends, at most S seconds
  i=0; while kill -0 "$READER" 2>/dev/null && [ $i -lt $(($1 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  stop_reader
}

access() { echo "$tmp/ngx.$1/access.log"; }
said() { # said NAME: how the run went, for a failure
  show "$tmp/$1.log" 'uplink|refus|dead|set aside|queue:'
}

# ---- 1. happy path (and 7: the TLS version nginx saw) ---------------------------
if setup happy; then
  conf happy "$tmp/clip5" device
  run_once happy
  check "happy: 5 cards through nginx, each ID and key once at his_sim ($(lines "$tmp/happy.jsonl") records)" \
    once_each "$tmp/happy.jsonl" "$tmp/clip5/ids.txt"
  check "happy: nginx verified the device certificate and passed Idempotency-Key (5 requests, 200, verify=SUCCESS)" \
    test "$(grep -c ' 200 .*verify=SUCCESS .*key=desk-test-[0-9a-f]\{32\} upstream=200' "$(access happy)")" -eq 5
  check "happy: the keys nginx logged are the keys his_sim stored" \
    test "$(sed -n 's/.* key=\([^ ]*\).*/\1/p' "$(access happy)" | sort -u)" = "$(keys "$tmp/happy.jsonl" | sort -u)"
  check "happy: one kept-alive connection to nginx" grep -q 'uplink delivered=5 .*connects=1$' "$tmp/happy.log" ||
    show "$tmp/happy.log" 'uplink'
  once_each "$tmp/happy.jsonl" "$tmp/clip5/ids.txt" || said happy
  n=$(grep -c . "$(access happy)"); v=$(grep -c " 200 $EXPECT_TLS " "$(access happy)")
  check "TLS version: nginx logged $EXPECT_TLS for all $n requests of $CLI ($v)" test "$v" -eq "$n" -a "$n" -gt 0 ||
    show "$(access happy)"
fi

# TLS 1.3 with the trixie flavour (mbedtls 3.6), if it was built (by
# tests/uplink_trixie_test.sh, which runs after this one, or by hand): brought
# up to date with the sources first, which costs nothing when it is.
T=$BUILD/trixie/cccd-reader
if [ "$EXPECT_TLS" = TLSv1.3 ]; then
  echo "ok - # SKIP TLS 1.3 with the trixie flavour: $CLI is that flavour (checked above)"
elif [ ! -x "$T" ] || [ ! -f build/trixie-libs/prefix/.done ]; then
  echo "ok - # SKIP TLS 1.3: no trixie flavour built ($T; make trixie-libs &&" \
    "make FLAVOR=trixie BUILD=$BUILD/trixie $T, as tests/uplink_trixie_test.sh does)"
elif ! timeout 600 make --no-print-directory FLAVOR=trixie BUILD="$BUILD/trixie" "$T" >"$tmp/trixie-build.log" 2>&1; then
  echo "not ok - TLS 1.3: the trixie flavour did not build: $(grep -m 3 'error' "$tmp/trixie-build.log")"
elif setup tls13; then
  conf tls13 "$tmp/clip5" device
  run_once tls13 "$T"
  check "TLS 1.3 (trixie flavour): 5 cards through nginx, each once" once_each "$tmp/tls13.jsonl" "$tmp/clip5/ids.txt"
  n=$(grep -c . "$(access tls13)"); v=$(grep -c ' 200 TLSv1.3 ' "$(access tls13)")
  check "TLS 1.3 (trixie flavour): nginx logged TLSv1.3 for all $n requests ($v)" test "$v" -eq "$n" -a "$n" -gt 0 ||
    show "$(access tls13)"
fi

# ---- 2, 3. a device certificate nginx refuses ----------------------------------
# nginx finishes the TLS handshake whatever the client certificate, then
# answers every request with 400 "The SSL certificate error" and
# Connection: close. That is the hospital refusing THIS DEVICE, not the
# record: the record must wait, not be set aside as a bad record.
# refused NAME CERT SECONDS BACKOFF_MIN BACKOFF_MAX VERIFY_PATTERN [MAX_REQUESTS]
refused() {
  name=$1
  setup "$name" || return
  conf "$name" "$tmp/clip5" "$2" "$4" "$5"
  run_bg "$name"
  sleep "$3"
  stop_reader
  log=$tmp/$name.log acc=$(access "$name")
  check "$name: nginx refused the certificate (400 and verify=$6 in its access log)" \
    grep -q " 400 .*verify=$6" "$acc" || show "$acc"
  check "$name: nothing reached his_sim" test "$(lines "$tmp/$name.jsonl")" -eq 0
  check "$name: all 5 cards queued" test "$(queued_keys "$log" | wc -l)" -eq 5
  check "$name: nothing set aside (dead.log absent or empty: $(cat "$tmp/spool.$name/dead.log" 2>/dev/null | wc -c) bytes)" \
    no_dead_letters "$tmp/spool.$name"
  # Today's "record seq=N refused for good (HTTP 400 ...); set aside" line
  # has both words too, but tells of the record being dropped: not counted.
  check "$name: the terminal logs the refusal (a line with 'refus' and '400')" \
    sh -c "grep -i 'refus' '$log' | grep -v 'refused for good' | grep -q 400" || said "$name"
  reqs=$(grep -c . "$acc")
  # At most about one request per backoff step while refused: no hammering.
  [ -n "${7:-}" ] && check "$name: at most $7 requests in $3 s with backoff $4..$5 ms ($reqs made)" \
    test "$reqs" -le "$7"
  # The fixed certificate: a run whose camera sees nothing empties the queue.
  conf "$name" "$tmp/blank" device
  run_once "$name"
  check "$name: the right certificate delivers all 5, each once ($(lines "$tmp/$name.jsonl") records)" \
    once_each "$tmp/$name.jsonl" "$tmp/clip5/ids.txt"
  check "$name: the keys delivered are the 5 queued under the refused certificate" \
    test "$(keys "$tmp/$name.jsonl" | sort -u)" = "$(queued_keys "$log")" -a "$(queued_keys "$log" | wc -l)" -eq 5
}
refused wrong-ca wrong-ca-device 10 1000 4000 FAILED 12
refused expired expired-device 3 200 1000 'FAILED:certificate has expired'

# ---- 8. doctor with the refused certificate -------------------------------------
if setup doctor; then
  conf doctor "$tmp/clip5" wrong-ca-device
  timeout 60 "$CLI" doctor --config "$tmp/conf.doctor" --no-interactive >"$tmp/doctor.out" 2>&1
  rc=$?
  check "doctor, refused certificate: exit status 1 (got $rc)" test "$rc" -eq 1
  check "doctor, refused certificate: a FAIL line for the server check naming the refusal" \
    sh -c "grep -E '^FAIL +server' '$tmp/doctor.out' | grep -qi 'refus'" ||
    show "$tmp/doctor.out" '^[A-Z]+ +(server|cert)|^ready|^NOT'
  # The same check with the right certificate passes: the setup is not the cause.
  conf doctor "$tmp/clip5" device
  timeout 60 "$CLI" doctor --config "$tmp/conf.doctor" --no-interactive >"$tmp/doctor-ok.out" 2>&1
  check "doctor, right certificate: PASS for the server check" grep -Eq '^PASS +server' "$tmp/doctor-ok.out"
fi

# ---- 4. nginx stopped and started, then reloaded, mid-delivery -----------------
if setup restart; then
  FPS=10 conf restart "$tmp/clip30" device # 3 s of cards
  "$CLI" run --config "$tmp/conf.restart" --once >/dev/null 2>>"$tmp/restart.log" & READER=$!
  wait_lines "$tmp/restart.jsonl" 6 15
  at_stop=$(lines "$tmp/restart.jsonl")
  stop_nginx
  sleep 0.5
  start_nginx restart || echo "not ok - restart: nginx did not start again: $(nginx_error restart)"
  wait_lines "$tmp/restart.jsonl" 18 15
  at_reload=$(lines "$tmp/restart.jsonl")
  kill -HUP "$NGINX_PID" 2>/dev/null
  wait_reader 40
  note "restart: nginx stopped at $at_stop records delivered, reloaded at $at_reload"
  check "restart: nginx restarted and reloaded mid-delivery (at $at_stop and $at_reload of 30)" \
    test "$at_stop" -lt 30 -a "$at_reload" -lt 30
  check "restart: all 30 cards arrived, each once ($(lines "$tmp/restart.jsonl") records)" \
    once_each "$tmp/restart.jsonl" "$tmp/clip30/ids.txt" || said restart
  check "restart: nothing set aside" no_dead_letters "$tmp/spool.restart"
fi

# ---- 5. his_sim down (502) and stalled (504) -------------------------------------
if setup down; then
  conf down "$tmp/clip5" device
  stop_sim # nginx stays, its upstream is gone
  run_bg down
  sleep 2.5
  check "his_sim down: nginx answered 502" grep -q '"POST /api/checkin HTTP/1.1" 502 ' "$(access down)"
  check "his_sim down: nothing set aside" no_dead_letters "$tmp/spool.down"
  check "his_sim down: the terminal says why (HTTP 502)" grep -q 'uplink: .*502' "$tmp/down.log"
  was=$SIM_PORT
  start_sim down --port "$was" || echo "not ok - his_sim down: could not start it again"
  if [ "$SIM_PORT" != "$was" ]; then
    # his_sim should listen on the --port given; where it does not, nginx is
    # pointed at the new port and reloaded.
    note "his_sim down: his_sim came back on port $SIM_PORT, not on --port $was: nginx reloaded to follow"
    nginx_conf down; kill -HUP "$NGINX_PID"
  fi
  wait_lines "$tmp/down.jsonl" 5 15
  stop_reader
  check "his_sim back: all 5 delivered, each once ($(lines "$tmp/down.jsonl") records)" \
    once_each "$tmp/down.jsonl" "$tmp/clip5/ids.txt" || said down
fi

echo stall >"$tmp/stall.mode"
if setup stall 'proxy_read_timeout 1s;'; then
  conf stall "$tmp/clip5" device
  run_bg stall
  sleep 3
  check "his_sim stalled: nginx answered 504 (proxy_read_timeout 1s)" \
    grep -q '"POST /api/checkin HTTP/1.1" 504 ' "$(access stall)"
  check "his_sim stalled: nothing stored" test "$(lines "$tmp/stall.jsonl")" -eq 0
  check "his_sim stalled: nothing set aside" no_dead_letters "$tmp/spool.stall"
  echo none >"$tmp/stall.mode"
  wait_lines "$tmp/stall.jsonl" 5 15
  stop_reader
  check "his_sim answering again: all 5 delivered, each once ($(lines "$tmp/stall.jsonl") records)" \
    once_each "$tmp/stall.jsonl" "$tmp/clip5/ids.txt" || said stall
fi

# ---- 6. nginx closes kept-alive connections often -------------------------------
if setup keepalive 'keepalive_requests 2; keepalive_timeout 1s;'; then
  FPS=20 conf keepalive "$tmp/gaps" device
  run_once keepalive
  acc=$(access keepalive)
  conns=$(sed -n 's/.* conn=\([0-9]*\) .*/\1/p' "$acc" | sort -u | wc -l)
  note "keepalive: $(grep -c . "$acc") requests over $conns connections; $(grep -o 'connects=[0-9]*' "$tmp/keepalive.log")"
  check "keepalive_requests 2, keepalive_timeout 1s: all 20 delivered, each once ($(lines "$tmp/keepalive.jsonl") records)" \
    once_each "$tmp/keepalive.jsonl" "$tmp/clip20/ids.txt" || said keepalive
  check "keepalive: no request answered other than 200 ($(grep -vc '" 200 ' "$acc") others)" \
    test "$(grep -vc '" 200 ' "$acc")" -eq 0 || show "$acc" '" [^2]'

fi

stop_nginx; stop_sim
note "nginx test: $(($(date +%s) - T0)) s"
exit 0
