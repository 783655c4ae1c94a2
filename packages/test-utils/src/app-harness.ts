import { randomUUID } from 'node:crypto';
import {
  AdminService,
  AuditService,
  cacheTokenLookups,
  GlobalDirectoryService,
  MeridianError,
  type Principal,
  ResourceService,
  systemClock,
  TenantSettingsService,
  TrustedIssuerService,
} from '@meridian/core';
import { registerGraphql } from '@meridian/graphql';
import { scimPlugin } from '@meridian/scim';
import {
  Argon2PasswordHasher,
  createOrm,
  generateSecretKey,
  type MikroORM,
  PostgresAdminStore,
  PostgresAuditLog,
  PostgresDirectoryStore,
  PostgresGlobalDirectoryStore,
  PostgresIssuerStore,
  PostgresPasswordForwarding,
  PostgresTenantSettingsStore,
  SecretBox,
  translateDatabaseError,
} from '@meridian/store';
import Fastify, { type FastifyInstance } from 'fastify';
import { createTestDatabase, type TestDatabase } from './database.js';

/** The core services over the store on one database, as SCIM and GraphQL get them (no replication, no CLI). */
export interface TestServices {
  orm: MikroORM;
  adminStore: PostgresAdminStore;
  admin: AdminService;
  resources: ResourceService;
  settings: TenantSettingsService;
  auditLog: PostgresAuditLog;
  audit: AuditService;
  issuers: TrustedIssuerService;
  /** The communities' global directories; projectGlobalDirectory projects accounts into them when a test asks (the hub's replication does it after each write). */
  people: GlobalDirectoryService;
  close(): Promise<void>;
}

/** Opens the core services over the store on `databaseUrl` (already migrated). */
export async function openTestServices(databaseUrl: string): Promise<TestServices> {
  const orm = await createOrm({ url: databaseUrl });
  const adminStore = new PostgresAdminStore(orm, systemClock);
  const admin = new AdminService(adminStore, systemClock);
  const settings = new TenantSettingsService(new PostgresTenantSettingsStore(orm, systemClock), systemClock, admin);
  const auditLog = new PostgresAuditLog(orm, systemClock);
  const resources = new ResourceService(
    new PostgresDirectoryStore(orm, systemClock),
    new Argon2PasswordHasher(),
    settings,
    new PostgresPasswordForwarding(new SecretBox([generateSecretKey()]), systemClock),
    admin,
  );
  const issuers = new TrustedIssuerService(new PostgresIssuerStore(orm, systemClock), admin, {
    // JWKS URIs must be https; the hub's outbound policy also refuses inward addresses, which tests here do not need.
    async checkUrl(url, field) {
      if (!URL.canParse(url) || new URL(url).protocol !== 'https:') {
        throw new MeridianError('INVALID_INPUT', `${field} must be an https URL.`, { field });
      }
    },
  });
  return {
    orm,
    adminStore,
    admin,
    resources,
    settings,
    auditLog,
    audit: new AuditService(auditLog, adminStore),
    issuers,
    people: new GlobalDirectoryService(new PostgresGlobalDirectoryStore(orm, systemClock), admin, systemClock),
    close: () => orm.close(true),
  };
}

/** The platform token of the test apps; it authenticates as the hub's `MERIDIAN_ADMIN_TOKEN` does. */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Resolves `Authorization: Bearer <token>` to a principal: the admin token
 * (a platform principal) or a stored API token. No JWTs and no auth-failure
 * recording: those are the hub's wiring, tested there.
 */
function bearerAuthenticator(adminStore: PostgresAdminStore, adminToken: string, tokenCacheMs = 0) {
  const lookUp = cacheTokenLookups((secret) => adminStore.authenticateToken(secret), systemClock, { ttlMs: tokenCacheMs });
  return async (authorization: string | undefined): Promise<Principal | undefined> => {
    const secret = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
    if (!secret) return undefined;
    if (secret === adminToken) return { kind: 'platform', tokenId: 'env:MERIDIAN_ADMIN_TOKEN', scopes: ['admin'] };
    const found = await lookUp(secret);
    if (!found.ok) return undefined;
    const { id: tokenId, tenantId, communityId, userId, scopes } = found.token;
    if (tenantId !== null) return { kind: 'tenant', tokenId, tenantId, scopes, ...(userId ? { userId } : {}) };
    if (communityId !== null) return { kind: 'community', tokenId, communityId, scopes };
    return { kind: 'platform', tokenId, scopes };
  };
}

/** The kind of app a harness builds. */
export type TestAppKind = 'scim' | 'graphql';

/** A Fastify app with the SCIM plugin at `/scim/v2` or GraphQL at `/graphql`, over {@link TestServices}. */
export interface TestApp {
  app: FastifyInstance;
  services: TestServices;
  close(): Promise<void>;
}

/** Options of {@link buildTestApp}, {@link startScimApp} and {@link startGraphqlApp}. */
export interface TestAppOptions {
  /** Mounts SCIM beside GraphQL too, for GraphQL tests that check a write through SCIM. */
  withScim?: boolean;
  /** Mounts GraphQL beside SCIM too, for SCIM tests that check the same rule through GraphQL. */
  withGraphql?: boolean;
  /** How long a looked-up API token is trusted, as the hub's `MERIDIAN_TOKEN_CACHE_MS`; 0 (every request looked up) unless set. */
  tokenCacheMs?: number;
}

/** Builds the SCIM or GraphQL app over the services on `databaseUrl`, as the hub mounts them (base URL `https://hub.test`). */
export async function buildTestApp(
  kind: TestAppKind,
  databaseUrl: string,
  adminToken = TEST_ADMIN_TOKEN,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const services = await openTestServices(databaseUrl);
  const app = Fastify({ logger: false, bodyLimit: 1_048_576, genReqId: () => randomUUID() });
  const authenticate = bearerAuthenticator(services.adminStore, adminToken, options.tokenCacheMs);
  try {
    if (kind === 'scim' || options.withScim) {
      await app.register(scimPlugin, {
        prefix: '/scim/v2',
        resources: services.resources,
        settings: services.settings,
        authenticate,
        baseUrl: 'https://hub.test/scim/v2',
        translateError: translateDatabaseError,
      });
    }
    if (kind === 'graphql' || options.withGraphql) {
      await registerGraphql(app, {
        services: {
          admin: services.admin,
          resources: services.resources,
          settings: services.settings,
          issuers: services.issuers,
          audit: services.audit,
          people: services.people,
        },
        authenticate,
        translateError: translateDatabaseError,
      });
    }
    await app.ready();
  } catch (error) {
    await app.close();
    await services.close();
    throw error;
  }
  return {
    app,
    services,
    async close() {
      await app.close();
      await services.close();
    },
  };
}

/** A SCIM or GraphQL app on a fresh database, with two communities, two tenants and their tokens. */
export interface AppHarness {
  db: TestDatabase;
  app: FastifyInstance;
  services: TestServices;
  adminToken: string;
  tenants: { emea: { id: string; token: string; readOnly: string }; apac: { id: string; token: string } };
  close(): Promise<void>;
}

const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

/**
 * Builds the app on a fresh test database with the hub harness's fixtures:
 * communities `coi` and `other`, tenants `emea` (in `coi`: a token with every
 * scope and a `scim:read` one) and `apac` (in `other`: every scope).
 */
async function startApp(kind: TestAppKind, options: TestAppOptions = {}): Promise<AppHarness> {
  const db = await createTestDatabase();
  let built: TestApp | undefined;
  try {
    built = await buildTestApp(kind, db.url, TEST_ADMIN_TOKEN, options);
    const { admin } = built.services;
    await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    await admin.createCommunity(platform, { slug: 'other', name: 'Other CoI' }, system);
    const emea = await admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, system);
    const apac = await admin.createTenant(platform, { slug: 'apac', name: 'APAC', community: 'other' }, system);
    const all = ['scim:read', 'scim:write', 'graphql:read', 'graphql:write'];
    const emeaToken = (await admin.issueToken(platform, { tenant: 'emea', scopes: all }, system)).token;
    const readOnly = (await admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:read'] }, system)).token;
    const apacToken = (await admin.issueToken(platform, { tenant: 'apac', scopes: all }, system)).token;
    const app = built;
    return {
      db,
      app: app.app,
      services: app.services,
      adminToken: TEST_ADMIN_TOKEN,
      tenants: { emea: { id: emea.id, token: emeaToken, readOnly }, apac: { id: apac.id, token: apacToken } },
      async close() {
        await app.close();
        await db.close();
      },
    };
  } catch (error) {
    await built?.close();
    await db.close();
    throw error;
  }
}

/** The SCIM app (Fastify + scimPlugin at `/scim/v2`) on a fresh test database; see {@link AppHarness}. */
export function startScimApp(options: TestAppOptions = {}): Promise<AppHarness> {
  return startApp('scim', options);
}

/** The GraphQL app (Fastify + registerGraphql at `/graphql`) on a fresh test database; see {@link AppHarness}. */
export function startGraphqlApp(options: TestAppOptions = {}): Promise<AppHarness> {
  return startApp('graphql', options);
}

/**
 * Projects every account and group of `community` into its global directory
 * now: what the hub's relay and projector do in the background after each
 * write (replication's job, tested in the hub), done here in the test's own
 * time from the store: a rebuild queues them, then the due entries are
 * projected until none is left. Answers how many entries were projected.
 */
export async function projectGlobalDirectory(services: TestServices, community: string): Promise<number> {
  await services.people.rebuild(platform, community);
  let projected = 0;
  for (;;) {
    const step = await services.people.store.projectDue(200, systemClock.now());
    if (step.length === 0) return projected;
    projected += step.length;
  }
}

/** One GraphQL error on the wire. */
export interface GqlError {
  message: string;
  extensions: { code: string; field?: string; [key: string]: unknown };
  path?: (string | number)[];
}

/** A GraphQL answer: the HTTP status and the parsed body. */
export interface GqlResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are checked field by field.
  body: { data?: Record<string, any> | null; errors?: GqlError[] };
}

/** Posts one GraphQL operation to `/graphql` with `token` as bearer (none when undefined); `operationName` picks one of several. */
export async function gql(
  app: FastifyInstance,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
  operationName?: string,
): Promise<GqlResponse> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    payload: JSON.stringify({ query, ...(variables ? { variables } : {}), ...(operationName ? { operationName } : {}) }),
  });
  return { status: res.statusCode, body: JSON.parse(res.body) as GqlResponse['body'] };
}
