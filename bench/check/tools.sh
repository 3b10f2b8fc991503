#!/usr/bin/env bash
# Tools of the check bench only (never part of `npm test`'s bootstrap), into the git-ignored
# .tools/bin:
#   bash bench/check/tools.sh ghz                 go install of ghz (pinned)
#   bash bench/check/tools.sh opa-envoy-plugin    builds opa-envoy-plugin (pinned tag) from the
#                                                 public source; then OPA_ENVOY_PLUGIN=.tools/bin/opa-envoy-plugin
#   OPA_ENVOY_PLUGIN_SRC=DIR bash bench/check/tools.sh opa-envoy-plugin
#                                                 the same from a checkout you made (no access to
#                                                 GitHub: an export of the tag from a mirror)
# run.ts calls the first when ghz is missing. The second is opt-in: it clones from GitHub and
# compiles OPA (minutes). The Go module proxy refuses `go install` of opa-envoy-plugin (403 "This
# module version is not available" for its -envoy tags), but serves its dependencies, so a
# checkout builds.
set -euo pipefail

GHZ_VERSION="v0.121.0"
OPA_ENVOY_PLUGIN_TAG="v1.19.1-envoy"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/.tools/bin"
mkdir -p "$BIN"
log() { printf '[bench/check/tools] %s\n' "$*" >&2; }

ghz() {
  # `go install` builds report version "dev": the installed version is kept next to the binary.
  if [ -x "$BIN/ghz" ] && [ "$(cat "$BIN/.ghz-version" 2>/dev/null)" = "$GHZ_VERSION" ]; then return 0; fi
  log "go install github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  GOBIN="$BIN" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  echo "$GHZ_VERSION" > "$BIN/.ghz-version"
}

opa_envoy_plugin() {
  local src rc=0
  src="$(mktemp -d)"
  if [ -n "${OPA_ENVOY_PLUGIN_SRC:-}" ]; then
    [ -f "$OPA_ENVOY_PLUGIN_SRC/cmd/opa-envoy-plugin/main.go" ] || { log "OPA_ENVOY_PLUGIN_SRC=$OPA_ENVOY_PLUGIN_SRC is not an opa-envoy-plugin checkout"; rm -rf "$src"; return 66; }
    # A copy: `-mod=mod` may rewrite go.mod/go.sum, and the checkout is not ours to change.
    log "building a copy of $OPA_ENVOY_PLUGIN_SRC (it should be tag $OPA_ENVOY_PLUGIN_TAG)"
    cp -a "$OPA_ENVOY_PLUGIN_SRC/." "$src/" || rc=$?
  else
    log "git clone opa-envoy-plugin $OPA_ENVOY_PLUGIN_TAG"
    git clone --quiet --depth 1 --branch "$OPA_ENVOY_PLUGIN_TAG" https://github.com/open-policy-agent/opa-envoy-plugin.git "$src" || rc=$?
  fi
  if [ "$rc" = 0 ]; then
    log "go build ./cmd/opa-envoy-plugin (GOFLAGS=-mod=mod: dependencies from the module proxy)"
    (cd "$src" && GOFLAGS=-mod=mod go build -o "$BIN/opa-envoy-plugin" ./cmd/opa-envoy-plugin) || rc=$?
  fi
  rm -rf "$src"
  [ "$rc" = 0 ] || { log "build failed ($rc)"; return "$rc"; }
  log "built $BIN/opa-envoy-plugin — run the bench with OPA_ENVOY_PLUGIN=$BIN/opa-envoy-plugin"
}

case "${1:-}" in
  ghz) ghz ;;
  opa-envoy-plugin) opa_envoy_plugin ;;
  *) echo "usage: bash bench/check/tools.sh ghz|opa-envoy-plugin" >&2; exit 64 ;;
esac
