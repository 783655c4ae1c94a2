import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { openRuntime, type Runtime } from '../src/runtime/runtime.js';

/** A hub app on a fresh database, with a community, two tenants and their tokens. */
export interface HubHarness {
  db: TestDatabase;
  runtime: Runtime;
  app: FastifyInstance;
  adminToken: string;
  tenants: { emea: { id: string; token: string; readOnly: string }; apac: { id: string; token: string } };
  close(): Promise<void>;
}

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

/** Options of {@link startHub}. */
export interface HubOptions {
  /** More environment variables, e.g. `MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1'` for a test that talks to a server on this machine. */
  env?: Record<string, string>;
}

export async function startHub(options: HubOptions = {}): Promise<HubHarness> {
  const db = await createTestDatabase();
  const adminToken = 'test-admin-token-0123456789abcdefghijklmnop';
  const config = loadConfig({
    DATABASE_URL: db.url,
    MERIDIAN_ADMIN_TOKEN: adminToken,
    MERIDIAN_PUBLIC_URL: 'https://hub.test',
    ...options.env,
  });
  const runtime = await openRuntime(config, 'client');
  const app = await buildApp({ config, runtime, logger: false });
  const { admin } = runtime;
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  await admin.createCommunity(platform, { slug: 'other', name: 'Other CoI' }, system);
  const emea = await admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
  const apac = await admin.createTenant(platform, { slug: 'apac', name: 'APAC', community: 'other' }, system);
  const all = ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'];
  const emeaToken = (await admin.issueToken(platform, { tenant: 'emea', scopes: all }, system)).token;
  const readOnly = (await admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:read'] }, system)).token;
  const apacToken = (await admin.issueToken(platform, { tenant: 'apac', scopes: all }, system)).token;
  return {
    db,
    runtime,
    app,
    adminToken,
    tenants: { emea: { id: emea.id, token: emeaToken, readOnly }, apac: { id: apac.id, token: apacToken } },
    async close() {
      await app.close();
      await runtime.close();
      await db.close();
    },
  };
}
