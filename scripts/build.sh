#!/usr/bin/env bash
# Build = compile the Rego policy to wasm with the real OPA CLI, then typecheck.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash policies/build.sh
npx tsc -p tsconfig.json --noEmit
