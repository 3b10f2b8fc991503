// An OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4) for tests: Keycloak's path
// (`/realms/<realm>/protocol/openid-connect/token`), request and answer shape, for the dev issuer.
// Each registered agent client gets a secret generated at start (never committed); a valid
// request gets an access token minted with the dev key — tenant, role and `azp` = client id, as
// the realm's agent clients have them (iam/README.md). Wrong or missing credentials get 401
// `invalid_client`, other grants 400 `unsupported_grant_type`, as Keycloak answers.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface AgentClient {
  clientId: string;
  tenant: string;
  roles: string[];
}

export interface TokenEndpoint {
  /** POST here with grant_type=client_credentials and HTTP Basic client_id:client_secret. */
  url: string;
  secrets: Record<string, string>;
  /** Requests answered so far, by outcome. */
  issued: number;
  refused: number;
  close(): Promise<void>;
}

type Mint = (o: { tenant: string; roles: string[]; sub: string; agent: string; ttl: number }) => Promise<string>;

export async function startTokenEndpoint(clients: AgentClient[], mint: Mint, realm = 'dev'): Promise<TokenEndpoint> {
  const secrets: Record<string, string> = {};
  for (const c of clients) secrets[c.clientId] = randomBytes(24).toString('base64url');
  const path = `/realms/${realm}/protocol/openid-connect/token`;
  const state = { issued: 0, refused: 0 };
  const server: Server = createServer((req, res) => {
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache', ...extra });
      res.end(JSON.stringify(body));
    };
    if (req.url !== path || req.method !== 'POST') return answer(404, { error: 'not_found' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          state.refused++;
          return answer(400, { error: 'invalid_request', error_description: 'form body expected' });
        }
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        // client_secret_basic (Authorization header) or client_secret_post (form fields).
        let id = form.get('client_id') ?? '';
        let secret = form.get('client_secret') ?? '';
        const auth = req.headers.authorization ?? '';
        if (auth.startsWith('Basic ')) {
          const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
          const i = decoded.indexOf(':');
          id = decodeURIComponent(decoded.slice(0, i));
          secret = decodeURIComponent(decoded.slice(i + 1));
        }
        const client = clients.find((c) => c.clientId === id);
        const want = client ? Buffer.from(secrets[client.clientId]!) : Buffer.alloc(0);
        if (!client || want.length !== Buffer.byteLength(secret) || !timingSafeEqual(want, Buffer.from(secret))) {
          state.refused++;
          return answer(401, { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' }, { 'www-authenticate': `Basic realm="${realm}"` });
        }
        if (form.get('grant_type') !== 'client_credentials') {
          state.refused++;
          return answer(400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' });
        }
        const ttl = 300;
        const token = await mint({ tenant: client.tenant, roles: client.roles, sub: `service-account-${client.clientId}`, agent: client.clientId, ttl });
        state.issued++;
        answer(200, { access_token: token, expires_in: ttl, refresh_expires_in: 0, token_type: 'Bearer', 'not-before-policy': 0, scope: 'profile email' });
      })().catch(() => answer(500, { error: 'server_error' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    secrets,
    get issued() { return state.issued; },
    get refused() { return state.refused; },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
