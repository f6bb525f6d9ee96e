#!/bin/sh
# make-test-pki.sh - a throw-away PKI for the HTTPS uplink tests and the demo.
#
#   tools/make-test-pki.sh DIR
#
# Makes, with the openssl command line tool (EC P-256 keys, SHA-256):
#   ca.crt ca.key                    the test CA ("cccd test CA")
#   server.crt server.key            CN localhost, SAN DNS:localhost + IP:127.0.0.1, signed by the CA
#   server.pin                       SHA-256 (hex) of server.crt's DER SubjectPublicKeyInfo
#                                    (the `pin_sha256` of the uplink config)
#   wrong-host.crt wrong-host.key    CN/SAN other.example, signed by the CA
#   guest-server.crt .key            SAN IP:10.0.2.100 (the host as a qemu guest sees it), signed by the CA
#   expired.crt expired.key          CN/SAN localhost + 127.0.0.1, signed by the CA, valid
#                                    2020-01-01 .. 2021-01-01 only (entirely in the past)
#   wrong-ca.crt wrong-ca.key        a second, unrelated CA ("cccd wrong CA")
#   wrong-ca-server.crt .key         CN/SAN localhost + 127.0.0.1, signed by the wrong CA
#   device.crt device.key            client certificate of device "desk-test", signed by the CA
#   wrong-ca-device.crt .key         client certificate "desk-test" signed by the wrong CA
#                                    (the server must refuse it)
#   expired-device.crt .key          client certificate "desk-test" signed by the CA, valid
#                                    2020-01-01 .. 2021-01-01 only (the server must refuse it)
#
# Keys are 0600. Nothing secret is printed. DIR/.done marks a finished PKI: a
# second run does nothing. The files are made in a temporary folder beside DIR
# and renamed into place in one step, so two runs at once (parallel tests)
# never mix one run's key with the other's certificate. A finished PKI that
# lacks the newest file ($NEWEST below: one made by an older version of this
# script) is made again and replaces the old one, again in one rename.
set -eu

die() { echo "make-test-pki: error: $*" >&2; exit 1; }
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=${1%/}
# The file added last: a PKI without it was made by an older version of this
# script, and is made again. Change it when adding files.
NEWEST=guest-server.crt
pki_complete() { [ -f "$DIR/.done" ] && [ -f "$DIR/$NEWEST" ]; }
pki_complete && exit 0
command -v openssl >/dev/null 2>&1 || die "the openssl command line tool is not installed"

parent=$(dirname "$DIR")
mkdir -p "$parent" || die "cannot create $parent"
umask 077
tmp=$(mktemp -d "$parent/.pki.XXXXXX") || die "cannot make a temporary folder in $parent"
trap 'rm -rf "$tmp"' EXIT
log=$tmp/openssl.log

# One configuration for every step, so the system's openssl.cnf plays no part.
# SAN and CN come from the environment of each command.
cat >"$tmp/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused

[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# `openssl ca`, used only for the expired certificate (-startdate/-enddate).
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $ENV::CADIR
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
EOF
export OPENSSL_CONF="$tmp/openssl.cnf"
export SAN="DNS:unused"
export CADIR="$tmp/ca-db"

ossl() { # ossl ARGS... : openssl quietly, its messages kept for errors
  openssl "$@" >>"$log" 2>&1 || { cat "$log" >&2; die "openssl $1 failed"; }
}
newkey() { # newkey FILE
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
  chmod 600 "$1"
}
selfsigned_ca() { # selfsigned_ca NAME CN
  newkey "$tmp/$1.key"
  ossl req -new -x509 -config "$OPENSSL_CONF" -key "$tmp/$1.key" -subj "/CN=$2" -days 3650 \
    -sha256 -extensions ca_ext -out "$tmp/$1.crt"
}
signed() { # signed NAME CN CA EXTENSIONS SAN
  newkey "$tmp/$1.key"
  ossl req -new -config "$OPENSSL_CONF" -key "$tmp/$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
  SAN=$5 ossl x509 -req -in "$tmp/$1.csr" -CA "$tmp/$3.crt" -CAkey "$tmp/$3.key" \
    -CAserial "$tmp/$3.srl" -CAcreateserial -days 825 -sha256 \
    -extfile "$OPENSSL_CONF" -extensions "$4" -out "$tmp/$1.crt"
  rm -f "$tmp/$1.csr"
}

LOCAL="DNS:localhost,IP:127.0.0.1"
selfsigned_ca ca "cccd test CA"
signed server localhost ca server_ext "$LOCAL"
signed wrong-host other.example ca server_ext "DNS:other.example"
# The simulator as a qemu guest reaches it (make test-image: user networking's
# forwarded address).
signed guest-server localhost ca server_ext "IP:10.0.2.100"
signed device desk-test ca client_ext "DNS:unused"
selfsigned_ca wrong-ca "cccd wrong CA"
signed wrong-ca-server localhost wrong-ca server_ext "$LOCAL"
signed wrong-ca-device desk-test wrong-ca client_ext "DNS:unused"

# Expired: `openssl x509 -req` (OpenSSL 3.0) cannot set a start date in the
# past; `openssl ca` can.
mkdir -p "$CADIR/newcerts"
: >"$CADIR/index.txt"
echo 1000 >"$CADIR/serial"
expired() { # expired NAME CN EXTENSIONS SAN: signed by the CA, valid 2020-01-01 .. 2021-01-01
  newkey "$tmp/$1.key"
  ossl req -new -config "$OPENSSL_CONF" -key "$tmp/$1.key" -subj "/CN=$2" -out "$tmp/$1.csr"
  SAN=$4 ossl ca -batch -config "$OPENSSL_CONF" -name test_ca -cert "$tmp/ca.crt" -keyfile "$tmp/ca.key" \
    -in "$tmp/$1.csr" -out "$tmp/$1.crt" -notext -extensions "$3" \
    -startdate 20200101000000Z -enddate 20210101000000Z
  rm -f "$tmp/$1.csr"
}
expired expired localhost server_ext "$LOCAL"
expired expired-device desk-test client_ext "DNS:unused"
rm -rf "$CADIR"

# Checks: the chains verify, and the expired certificates really are expired
# (and chain to the CA but for the dates).
ossl verify -CAfile "$tmp/ca.crt" "$tmp/server.crt" "$tmp/wrong-host.crt" "$tmp/device.crt" "$tmp/guest-server.crt"
ossl verify -CAfile "$tmp/wrong-ca.crt" "$tmp/wrong-ca-server.crt" "$tmp/wrong-ca-device.crt"
for f in expired expired-device; do
  if openssl x509 -in "$tmp/$f.crt" -noout -checkend 0 >/dev/null 2>&1; then
    die "$f.crt is still valid"
  fi
done
ossl verify -CAfile "$tmp/ca.crt" -no_check_time "$tmp/expired.crt" "$tmp/expired-device.crt"

openssl x509 -in "$tmp/server.crt" -noout -pubkey | openssl pkey -pubin -outform DER |
  openssl dgst -sha256 -r | cut -d' ' -f1 >"$tmp/server.pin"
[ "$(wc -c <"$tmp/server.pin")" -eq 65 ] || die "cannot compute the server key's pin"

rm -f "$tmp"/*.srl "$log" "$tmp/openssl.cnf"
chmod 644 "$tmp"/*.crt "$tmp/server.pin"
chmod 755 "$tmp"
date -u '+%Y-%m-%dT%H:%M:%SZ' >"$tmp/.done"
chmod 644 "$tmp/.done"

# Into place in one rename; DIR may exist already as an empty folder, or as
# a finished PKI of an older version, which is first renamed out of the way.
if [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ]; then rmdir "$DIR" 2>/dev/null || true; fi
if [ -f "$DIR/.done" ] && ! pki_complete; then
  mv -T "$DIR" "$tmp.old" 2>/dev/null && rm -rf "$tmp.old"
fi
if mv -T "$tmp" "$DIR" 2>/dev/null; then
  trap - EXIT
  exit 0
fi
pki_complete && exit 0 # another run finished first: use its PKI
die "$DIR exists and is not a finished test PKI: remove it"
