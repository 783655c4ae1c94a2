#!/usr/bin/env node
// The baseline of `pnpm bench:oidc`: a bare oidc-provider with its default in-memory adapter, configured as the
// hub configures a community's provider (packages/oidc/src/provider.ts): the same client, lifetimes, features,
// PKCE rule and RS256 signing key, opaque access tokens. Its one account has fixed claims. It issues one access
// token for userinfo in process and writes it to BENCH_TOKEN_FILE before it listens on PORT.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

const port = Number(process.env.PORT);
const clientId = process.env.BENCH_CLIENT_ID ?? '';
const clientSecret = process.env.BENCH_CLIENT_SECRET ?? '';
const tokenFile = process.env.BENCH_TOKEN_FILE ?? '';
const issuer = `http://127.0.0.1:${port}`;
const ACCOUNT = 'bench-person';
const CLAIMS = { sub: ACCOUNT, email: 'ada@bench.example', name: 'Ada Lovelace', meridian_max_cache: 86_400 };

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const configuration: Configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['http://127.0.0.1:9/cb'],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      id_token_signed_response_alg: 'RS256',
    },
  ],
  claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'bench' }] as never },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    Interaction: 3600,
    Session: 8 * 3600,
    Grant: 90 * 86_400,
    RefreshToken: 14 * 86_400,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  findAccount: async (_ctx, sub) => (sub === ACCOUNT ? { accountId: sub, claims: async () => CLAIMS } : undefined),
};
const provider = new Provider(issuer, configuration);

// The access token a person would have after signing in and consenting: its grant, then the token itself.
const client = await provider.Client.find(clientId);
if (!client) throw new Error('the bench client is missing');
const grant = new provider.Grant({ accountId: ACCOUNT, clientId });
grant.addOIDCScope('openid email profile');
const grantId = await grant.save();
const token = new provider.AccessToken({ accountId: ACCOUNT, client, grantId, scope: 'openid email profile', gty: 'authorization_code' });
await writeFile(tokenFile, await token.save());

const handler = provider.callback();
createServer((req, res) => void handler(req, res)).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
