#!/usr/bin/env bash
# Compiles the Rego policy to wasm with the real OPA CLI: policies/build/policy.wasm.
# Only the policy modules go in (no *_test.rego, no data: data.json is loaded at run time so
# operators can change RBAC/tenant data without a rebuild).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OPA="${OPA:-$ROOT/.tools/bin/opa}"
OUT="${POLICY_BUILD_OUT:-$HERE/build}"
mkdir -p "$OUT"
mapfile -t modules < <(find "$HERE" -maxdepth 1 -name '*.rego' ! -name '*_test.rego' | sort)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$OPA" build -t wasm -e mem0/authz/decision -o "$tmp/bundle.tar.gz" "${modules[@]}"
tar -xzf "$tmp/bundle.tar.gz" -C "$tmp" /policy.wasm 2>/dev/null || tar -xzf "$tmp/bundle.tar.gz" -C "$tmp" policy.wasm
# Rename into place so a watching engine never reads a half-written file.
cp "$tmp/policy.wasm" "$OUT/.policy.wasm.tmp"
chmod 644 "$OUT/.policy.wasm.tmp"
mv -f "$OUT/.policy.wasm.tmp" "$OUT/policy.wasm"
echo "$OUT/policy.wasm ($(wc -c <"$OUT/policy.wasm") bytes)" >&2
