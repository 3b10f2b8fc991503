#!/usr/bin/env bash
# npm test: Rego unit tests with the real OPA CLI, then every vitest suite (unit,
# integration against real redis-server / PostgreSQL, end-to-end through real Envoy).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
echo "== opa test policies/"
.tools/bin/opa test policies/ -v --fail-on-empty 2>&1 | tail -n 40
test "${PIPESTATUS[0]}" -eq 0
echo "== vitest"
npx vitest run "$@"
