#!/usr/bin/env bash
# Generates every secret docker/compose.yaml references, into docker/secrets/ (git-ignored).
# Idempotent: an existing file is kept, so re-running never rotates a live password; delete a
# file (and the volume that baked it in, for the databases) to rotate it.
#
#   bash docker/gen-secrets.sh                      # into docker/secrets/
#   MEM0_GOV_SECRETS_DIR=/some/dir bash docker/gen-secrets.sh
#   OPENAI_API_KEY=sk-... bash docker/gen-secrets.sh   # Mem0's LLM key (the only one we cannot make)
#
# Permissions: the directory is 0700 (only its owner on the host can read anything in it). The
# files themselves are 0644 because Compose bind-mounts file secrets with their host mode and
# several images run as a non-root user (envoy 101, node 1000, keycloak 1000, grafana 472).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${MEM0_GOV_SECRETS_DIR:-$HERE/secrets}"

command -v openssl >/dev/null 2>&1 || { echo "gen-secrets: openssl is required" >&2; exit 1; }

mkdir -p "$OUT/tls"
chmod 700 "$OUT"
umask 022

log() { printf '[gen-secrets] %s\n' "$*" >&2; }

# A random token: 32 bytes, hex (safe in URLs, config files and shell).
random_secret() {
  local name="$1"
  if [ -s "$OUT/$name" ]; then return; fi
  openssl rand -hex 32 | tr -d '\n' >"$OUT/$name.tmp"
  mv -f "$OUT/$name.tmp" "$OUT/$name"
  log "created $name"
}

# Mem0's ADMIN_API_KEY was called mem0_api_key before: keep its value under the new name, so
# a Mem0 and an authz started from older secrets keep agreeing on it.
if [ -s "$OUT/mem0_api_key" ] && [ ! -e "$OUT/mem0_admin_api_key" ]; then
  mv -f "$OUT/mem0_api_key" "$OUT/mem0_admin_api_key"
  log "renamed mem0_api_key to mem0_admin_api_key"
fi

# mem0_admin_api_key: Mem0's ADMIN_API_KEY, held by authz only (injected as X-API-Key).
# mem0_jwt_secret: Mem0's JWT_SECRET (its dashboard sessions; the server refuses to start
# with auth on and no JWT_SECRET). Neither ever reaches an agent.
for name in pg_superuser_password pg_owner_password pg_writer_password redis_password \
  mem0_admin_api_key mem0_jwt_secret mem0_db_password keycloak_admin_password grafana_admin_password; do
  random_secret "$name"
done

# Mem0 calls an LLM provider on writes; that key comes from the operator. An empty file keeps
# the stack startable (reads work, Mem0 writes fail until a key is written here).
if [ ! -e "$OUT/openai_api_key" ] || { [ ! -s "$OUT/openai_api_key" ] && [ -n "${OPENAI_API_KEY:-}" ]; }; then
  printf '%s' "${OPENAI_API_KEY:-}" >"$OUT/openai_api_key"
  if [ -n "${OPENAI_API_KEY:-}" ]; then log "wrote openai_api_key from OPENAI_API_KEY"; else log "openai_api_key is EMPTY: put your LLM key there for Mem0 writes"; fi
fi

# Ed25519 key that signs audit checkpoints (PKCS#8 PEM). The public half is for auditors.
if [ ! -s "$OUT/audit_checkpoint_key.pem" ]; then
  openssl genpkey -algorithm ed25519 -out "$OUT/audit_checkpoint_key.pem.tmp"
  mv -f "$OUT/audit_checkpoint_key.pem.tmp" "$OUT/audit_checkpoint_key.pem"
  rm -f "$OUT/audit_checkpoint_key.pub.pem"
  log "created audit_checkpoint_key.pem (Ed25519)"
fi
if [ ! -s "$OUT/audit_checkpoint_key.pub.pem" ]; then
  openssl pkey -in "$OUT/audit_checkpoint_key.pem" -pubout -out "$OUT/audit_checkpoint_key.pub.pem"
fi

# Dev TLS for Envoy's :9000 listener: a local CA and a server certificate signed by it.
# Clients trust tls/ca.crt (e.g. curl --cacert docker/secrets/tls/ca.crt https://localhost:9000/).
TLS="$OUT/tls"
if [ ! -s "$TLS/ca.crt" ] || [ ! -s "$TLS/ca.key" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=mem0-gov dev CA" -keyout "$TLS/ca.key" -out "$TLS/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  rm -f "$TLS/server.crt" "$TLS/server.key"
  log "created tls/ca.crt"
fi
if [ ! -s "$TLS/server.crt" ] || [ ! -s "$TLS/server.key" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$TLS/server.key" -out "$tmp/server.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:envoy,DNS:edge-pod" \
    "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tmp/ext"
  openssl x509 -req -in "$tmp/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial \
    -days 397 -extfile "$tmp/ext" -out "$TLS/server.crt" 2>/dev/null
  rm -f "$TLS/ca.srl"
  log "created tls/server.crt (SAN localhost, 127.0.0.1, envoy, edge-pod)"
fi

# Compose bind-mounts these; see the header for why 0644 inside a 0700 directory.
find "$OUT" -type f ! -name .gitignore -exec chmod 644 {} +
chmod 600 "$TLS/ca.key"
log "secrets ready in $OUT"
