#!/usr/bin/env bash
# usage: conf/examples/tls/make-test-cert.sh
# Writes a self-signed certificate and key for localhost (valid 30 days) next to
# this script, for trying conf/examples/tls.conf. Not for production.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$dir/localhost.key" -out "$dir/localhost.pem" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
echo "$dir/localhost.pem $dir/localhost.key"
