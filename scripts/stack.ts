// `npm run stack`: the whole governance stack on loopback with DESIGN's default ports —
// Envoy :9000 (TLS) → authz :9191 (gRPC) / :9192 (HTTP) → Mem0 :9006 (the in-memory
// stand-in, or a real Mem0 via MEM0_GOV_MEM0_URL), plus redis-server, PostgreSQL and a
// dev token issuer on :9193. Generated material (dev key, certs, spool) lives in .state/.
//
// In front of a real Mem0:
//   MEM0_GOV_MEM0_URL=http://127.0.0.1:8000 MEM0_GOV_MEM0_API_KEY_FILE=/path/to/admin-api-key npm run stack
// Envoy forwards to that URL's host and port (80/443 by default, TLS with SNI for https); the
// other MEM0_GOV_* variables of this environment (the API key, limits, policy files, …) reach
// the authz service unless the stack wires them itself (it says which it ignored).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../testing/stack.js';
import { ROOT } from '../testing/tools.js';

const realMem0 = process.env.MEM0_GOV_MEM0_URL;
const stack = await startStack({
  stateDir: join(ROOT, '.state'),
  ports: { envoy: 9000, envoyAdmin: 9901, grpc: 9191, http: 9192, issuer: 9193, ...(realMem0 ? {} : { mem0: 9006 }) },
  ...(realMem0 ? { mem0Url: realMem0 } : {}),
  inheritEnv: process.env,
  logLevel: process.env.MEM0_GOV_LOG_LEVEL ?? 'info',
  authzTimeout: 'shipped', // the budgets a deployment gets
});

if (stack.ignoredEnv.length > 0) {
  process.stderr.write(`mem0-gov stack: ignoring ${stack.ignoredEnv.join(', ')} from the environment (the stack sets these itself)\n`);
}
const keyNote = stack.env.MEM0_GOV_MEM0_API_KEY_FILE !== undefined || stack.env.MEM0_GOV_MEM0_API_KEY !== undefined
  ? 'authz injects X-API-Key' : 'no Mem0 API key (set MEM0_GOV_MEM0_API_KEY_FILE if Mem0 enforces one)';
const ca = stack.envoy.caFile;
// What the admin CLI needs to reach this stack's Redis and PostgreSQL.
const envFile = join(ROOT, '.state', 'stack.env');
const cliEnv = {
  MEM0_GOV_REDIS_URL: stack.redis.url,
  MEM0_GOV_PG_URL: stack.env.MEM0_GOV_PG_URL,
  MEM0_GOV_PG_ADMIN_URL: stack.env.MEM0_GOV_PG_ADMIN_URL,
  MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE: stack.env.MEM0_GOV_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE,
  // Dev stack only: lets the CLI's admin chain sign checkpoints with the same dev key.
  MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE: stack.env.MEM0_GOV_AUDIT_CHECKPOINT_KEY_FILE,
  MEM0_GOV_DEV_KEY_DIR: join(stack.stateDir, 'dev-issuer'),
};
writeFileSync(envFile, Object.entries(cliEnv).map(([k, v]) => `export ${k}=${v}`).join('\n') + '\n');
process.stdout.write(`
mem0-gov stack ready: https://127.0.0.1:${stack.envoy.port} → authz 127.0.0.1:${stack.authz.grpcPort} → Mem0 ${stack.mem0Url} (${keyNote})
  admin CLI env:     source .state/stack.env
  mint a dev token:  TOKEN=$(bin/mem0-gov token --tenant acme --role agent-writer)
  call Mem0:         curl --cacert ${ca} -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
                       -d '{"messages":[{"role":"user","content":"I like tea"}],"user_id":"acme:alice"}' https://127.0.0.1:${stack.envoy.port}/memories
  health/metrics:    http://127.0.0.1:${stack.authz.httpPort}/readyz  /metrics     Envoy admin: http://127.0.0.1:${stack.envoy.adminPort}
  operate:           bin/mem0-gov audit verify | limits get | revoke --tenant acme --sub … | tenant suspend acme
Ctrl-C stops everything.
`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    stack.stop().then(() => process.exit(0));
  });
}
