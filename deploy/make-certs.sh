#!/bin/sh
# Makes a private CA and the certificates for mutual TLS between Temporal and its clients
# (docs/security.md, "Production topology"). Usage:
#
#   deploy/make-certs.sh <dir> [agent-name ...]
#
# <dir>/ca.pem             the CA every party trusts (keep ca.key offline once you are done)
# <dir>/server.pem|.key    the Temporal server: frontend and internode, named `temporal`
# <dir>/<client>.pem|.key  one client certificate each for patchflow (api and worker), the Web UI,
#                          the admin tools, and every agent named on the command line
#
# Existing files are kept, so running it again only adds what is missing (for example a new agent).
set -eu
dir=${1:?usage: make-certs.sh <dir> [agent-name ...]}
shift
mkdir -p "$dir"
umask 077

if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=patchflow temporal CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi

# issue <name> <extendedKeyUsage> <subjectAltName>
issue() {
  [ -f "$dir/$1.pem" ] && return 0
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$dir/$1.key" -out "$dir/$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$2" "$3" >"$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 825 -extfile "$dir/$1.ext" -out "$dir/$1.pem" 2>/dev/null
  rm -f "$dir/$1.csr" "$dir/$1.ext"
}

# the server also presents its certificate as a client between its own services (internode)
issue server serverAuth,clientAuth "DNS:temporal,DNS:localhost,IP:127.0.0.1"
for client in patchflow temporal-ui admin-tools "$@"; do
  issue "$client" clientAuth "DNS:$client"
done
# the containers run as their own users and read the files through a read-only mount
chmod 0644 "$dir"/*.pem "$dir"/*.key
chmod 0600 "$dir/ca.key"
chmod 0755 "$dir"
echo "certificates in $dir: $(cd "$dir" && ls ./*.pem | tr '\n' ' ')"
