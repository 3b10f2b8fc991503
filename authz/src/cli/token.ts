// `mem0-gov token --tenant acme --role agent-writer`: a dev token signed by the key that
// `npm run stack` generated and serves as a JWKS. Refuses to work without that dev key.
import { loadCliConfig } from '../config/cli.js';
import { loadAudiences } from '../identity/config.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { devKeyPaths, ensureDevKey, mintDevToken } from '../identity/dev-issuer.js';
import { TENANT_PATTERN } from '../identity/claims.js';
import { command, durationArg, UsageError, EXIT_FAIL, EXIT_OK } from './args.js';
import { record } from './context.js';


const ROLES = 'agent-reader, agent-writer, admin, auditor, phi-reader, platform-admin, platform-auditor';

export const token = command({
  path: 'token',
  usage: ['token --tenant T --role R [--role R]... [--sub S] [--agent A] [--ttl 15m] [--audience AUD] [--issuer URL]'],
  notes: [
    `roles: ${ROLES}`,
    'a dev token, signed by the dev stack\'s key (npm run stack); tokens for real deployments come from your IdP',
  ],
  options: {
    tenant: { type: 'string' },
    role: { type: 'string', multiple: true },
    sub: { type: 'string' },
    agent: { type: 'string' },
    ttl: { type: 'string', default: '15m' },
    audience: { type: 'string' },
    issuer: { type: 'string' },
  },
  async run({ values, ctx }) {
    if (!values.tenant || !TENANT_PATTERN.test(values.tenant)) throw new UsageError('--tenant is required (letters, digits, . _ -)');
    const roles = values.role ?? [];
    if (roles.length === 0) throw new UsageError(`--role is required (${ROLES}; repeat for several)`);
    const cli = loadCliConfig(ctx.env);
    const dir = cli.devKeyDir;
    if (!existsSync(devKeyPaths(dir).privateFile)) {
      ctx.err(`no dev signing key in ${dir}: start the dev stack first (npm run stack); tokens for real deployments come from your IdP`);
      return EXIT_FAIL;
    }
    const issuerFile = join(dir, 'issuer');
    const issuer = values.issuer ?? cli.devIssuer ?? (existsSync(issuerFile) ? readFileSync(issuerFile, 'utf8').trim() : undefined);
    if (!issuer) throw new UsageError(`no issuer: pass --issuer or start the dev stack (it writes ${issuerFile})`);
    const ttl = durationArg('--ttl', values.ttl ?? '15m') / 1000;
    const sub = values.sub ?? `${values.tenant}-dev-user`;
    await record(ctx, { command: 'token', target: `subject:${values.tenant}/${sub}`, details: { roles: roles.join(','), ttl_seconds: ttl, issuer } });
    const jwt = await mintDevToken(await ensureDevKey(dir), {
      issuer,
      audience: values.audience ?? loadAudiences(ctx.env)[0]!,
      tenant: values.tenant,
      roles,
      sub,
      ttl,
      ...(values.agent ? { agent: values.agent } : {}),
    });
    ctx.out(jwt);
    return EXIT_OK;
  },
});
export const run = token.run;
