// A relying party of a Meridian community that keeps its own accounts and creates one on a person's first sign-in,
// from what the person released to it (use case 2.3.5 of the SCIM use-cases draft, docs/provisioning.md):
//
//   1. the person signs in at Meridian (authorization code, PKCE, state);
//   2. on the callback, the app looks its account up by `sub`; when it has none, it pulls the person from Meridian
//      over SCIM, either with the sign-in's access token (GET {issuer}/scim/v2/Me) or with its own client
//      credentials (GET {issuer}/scim/v2/Users/{sub}), and creates the account from that;
//   3. later sign-ins find the account and pull nothing.
//
// Run: ISSUER=https://hub.example.org/oidc/coi CLIENT_ID=rp_… CLIENT_SECRET=mrp_… PUBLIC_URL=http://localhost:3000 \
//      [PULL=client-credentials] node server.mjs
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

/**
 * Starts the relying party: `issuer`, `clientId`, `clientSecret`, `publicUrl` (default: where it listens), `port`,
 * `host`, `pull` (`access-token`, the default, or `client-credentials`), and `openid`, the openid-client module
 * (imported when absent; the tests pass theirs). Answers its URL, its local accounts, the pulls it made and `close()`.
 */
export async function startRelyingParty(options) {
  const client = options.openid ?? (await import('openid-client'));
  const insecure = options.issuer.startsWith('http://') ? { execute: [client.allowInsecureRequests] } : undefined;
  const config = await client.discovery(
    new URL(options.issuer),
    options.clientId,
    undefined,
    client.ClientSecretBasic(options.clientSecret),
    insecure,
  );
  /** The app's own accounts, by the `sub` Meridian knows the person by for this app. */
  const accounts = new Map();
  /** Sign-ins under way, by a random cookie value: PKCE verifier and state. */
  const pending = new Map();
  /** Signed-in browsers, by a random cookie value: the account's sub. */
  const sessions = new Map();
  const pulls = [];

  /** The person's released attributes as a SCIM User, with the sign-in's token or the app's own. */
  async function pull(sub, accessToken) {
    let token = accessToken;
    let url = `${options.issuer}/scim/v2/Me`;
    if (options.pull === 'client-credentials') {
      token = (await client.clientCredentialsGrant(config)).access_token;
      url = `${options.issuer}/scim/v2/Users/${encodeURIComponent(sub)}`;
    }
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/scim+json' } });
    if (!response.ok) throw new Error(`Meridian answered ${response.status} to GET ${url}`);
    pulls.push(url);
    return response.json();
  }

  const cookie = (req, name) =>
    (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim().split('='))
      .find(([key]) => key === name)?.[1];

  let publicUrl = options.publicUrl;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', publicUrl);
    try {
      if (url.pathname === '/login') {
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const id = randomBytes(16).toString('base64url');
        pending.set(id, { verifier, state });
        const to = client.buildAuthorizationUrl(config, {
          redirect_uri: `${publicUrl}/callback`,
          scope: 'openid profile email',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        });
        res.writeHead(303, { location: to.href, 'set-cookie': `signin=${id}; HttpOnly; SameSite=Lax; Path=/` }).end();
        return;
      }
      if (url.pathname === '/callback') {
        const started = pending.get(cookie(req, 'signin') ?? '');
        if (!started) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('No sign-in under way.');
          return;
        }
        pending.delete(cookie(req, 'signin'));
        if (url.searchParams.has('error')) {
          res.writeHead(403, { 'content-type': 'text/plain' }).end(`Sign-in refused: ${url.searchParams.get('error')}`);
          return;
        }
        const tokens = await client.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: started.verifier,
          expectedState: started.state,
        });
        const { sub } = tokens.claims();
        if (!accounts.has(sub)) {
          // First sign-in: create the local account from what the person released to this app.
          const user = await pull(sub, tokens.access_token);
          accounts.set(sub, {
            sub,
            userName: user.userName ?? null,
            displayName: user.displayName ?? null,
            email: user.emails?.[0]?.value ?? null,
            createdAt: new Date().toISOString(),
          });
        }
        const session = randomBytes(16).toString('base64url');
        sessions.set(session, sub);
        res.writeHead(303, { location: '/', 'set-cookie': `session=${session}; HttpOnly; SameSite=Lax; Path=/` }).end();
        return;
      }
      if (url.pathname === '/') {
        const account = accounts.get(sessions.get(cookie(req, 'session') ?? ''));
        const body = account ? `Hello ${account.displayName ?? account.userName}` : 'Not signed in. Go to /login.';
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found.');
    } catch (error) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`Sign-in failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  await new Promise((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  // Without a public URL, the app is reached where it listens.
  publicUrl ??= `http://127.0.0.1:${server.address().port}`;
  return {
    url: publicUrl,
    accounts,
    pulls,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const publicUrl = process.env.PUBLIC_URL ?? 'http://localhost:3000';
  const rp = await startRelyingParty({
    issuer: process.env.ISSUER,
    clientId: process.env.CLIENT_ID,
    clientSecret: process.env.CLIENT_SECRET,
    publicUrl,
    port: Number(new URL(publicUrl).port || 3000),
    host: 'localhost',
    pull: process.env.PULL === 'client-credentials' ? 'client-credentials' : 'access-token',
  });
  console.log(`Listening at ${publicUrl} (register ${publicUrl}/callback as its redirect URI)`);
  process.on('SIGINT', () => void rp.close().then(() => process.exit(0)));
}
