#!/usr/bin/env bash
# npm test: Rego unit tests with the real OPA CLI, then every vitest suite (unit,
# integration against real redis-server / PostgreSQL / Keycloak, end-to-end through the
# real Envoy binary). Ends with one summary line: "tests: N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p .state
echo "== opa test policies/"
.tools/bin/opa test policies/ --fail-on-empty --format=json > .state/opa-test.json
opa_rc=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(".state/opa-test.json", "utf8") || "[]");
  for (const t of r) console.log(`${t.fail || t.error ? "FAIL" : "PASS"} ${t.package}.${t.name}${t.error ? " " + JSON.stringify(t.error) : ""}`);
' || opa_rc=1
echo "== vitest"
npx vitest run --reporter=default --reporter=json --outputFile.json=.state/vitest.json "$@"
vitest_rc=$?
VITEST_RC=$vitest_rc node -e '
  const fs = require("fs");
  const opa = JSON.parse(fs.readFileSync(".state/opa-test.json", "utf8") || "[]");
  let passed = opa.filter((t) => !t.fail && !t.error).length, failed = opa.length - passed;
  try {
    const v = JSON.parse(fs.readFileSync(".state/vitest.json", "utf8"));
    passed += v.numPassedTests; failed += v.numFailedTests + (v.numRuntimeErrorTestSuites ?? 0);
  } catch { failed += 1; }
  // A suite that failed to start (beforeAll) has no failed tests of its own: still a failure.
  if (process.env.VITEST_RC !== "0" && failed === 0) failed = 1;
  console.log(`tests: ${passed} passed, ${failed} failed`);
'
[ "$opa_rc" -eq 0 ] && [ "$vitest_rc" -eq 0 ]
