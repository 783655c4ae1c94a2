import { LdapSourceReader, ldapConnectorFactory, parseLdapSourceConfig } from '@meridian/connector-ldap';
import { parseScimSourceConfig, ScimSourceReader, scimConnectorFactory } from '@meridian/connector-scim';
import { type ConnectorLogger, memoryConnectorFactory } from '@meridian/connector-sdk';
import {
  AdminService,
  AuditService,
  type CachedTokenLookup,
  CommunityThemeService,
  ConsoleRoleService,
  FirstSignInPull,
  GlobalDirectoryService,
  JitTargetService,
  type OffboardingService,
  RelyingPartyService,
  ReplicationService,
  ResourceService,
  SourceService,
  systemClock,
  TenantSettingsService,
  UpstreamProviderService,
} from '@meridian/core';
import { ConnectorRegistry, OutboundHttp, openTargetQueues, ReplicationEngine } from '@meridian/replication';
import {
  Argon2PasswordHasher,
  acquireEmbeddedDatabase,
  checkDatabase,
  createOrm,
  type EmbeddedDatabase,
  type EmbeddedRole,
  type MikroORM,
  migrate,
  openAuditKeyring,
  openSecretBox,
  PostgresAdminStore,
  PostgresAuditLog,
  PostgresCommunityThemeStore,
  PostgresConsoleRoleStore,
  PostgresDirectoryExportStore,
  PostgresDirectoryStore,
  PostgresGlobalDirectoryStore,
  PostgresIssuerStore,
  PostgresJitStore,
  PostgresOffboardingStore,
  PostgresOidcStore,
  PostgresPasswordForwarding,
  PostgresRelyingPartyStore,
  PostgresReplicationStore,
  PostgresSourceStore,
  PostgresSsoAccounts,
  PostgresTenantSettingsStore,
  PostgresUpstreamStore,
  type ReadReplica,
} from '@meridian/store';
import { forgettingOnRevoke, tokenLookupOf } from '../auth/token-lookup.js';
import type { HubConfig } from '../config/config.js';
import { openStreams, type SsfStreams } from '../http/ssf-engine.js';
import { outboxTracing } from '../observability/trace-context.js';
import { buildOffboarding } from './offboarding.js';
import { openHubReadReplica } from './read-replica.js';

/** The database, stores and services one process works with. */
export interface Runtime {
  /** Acts as the application role `meridian_app`: row-level security applies to every query (ADR 0010). */
  orm: MikroORM;
  databaseUrl: string;
  /** The streaming replica of `DATABASE_READ_URL`, for the reads of requests that only read (ADR 0031); the HTTP app routes them. */
  readReplica: ReadReplica | undefined;
  embedded: EmbeddedDatabase | undefined;
  adminStore: PostgresAdminStore;
  /** Looks API tokens up for the authenticator, remembering live ones (ADR 0022). */
  tokenLookup: CachedTokenLookup;
  admin: AdminService;
  resources: ResourceService;
  settings: TenantSettingsService;
  /** Replication (issue 5): targets, relay, workers, status; `serve --role worker|all` starts its relay and workers. */
  replication: ReplicationEngine;
  /** The engine's admin surface for callers who must be authorized (GraphQL, the CLI): targets, status, dead letters, replay, reconcile, wait policy. */
  replicationService: ReplicationService;
  /** The communities' global directories (issue 6); the replication engine's projector keeps them. */
  directory: GlobalDirectoryService;
  /**
   * The outbound request policy and its `fetch`: every request made on behalf of a tenant or a community
   * (replication, directory exports, JWKS) goes through it (docs/security.md, "Outbound requests").
   */
  outbound: OutboundHttp;
  /** The audit log: verification, signed checkpoints, retention, authentication failures. */
  auditLog: PostgresAuditLog;
  audit: AuditService;
  /** The trusted JWT issuers' store (the hub builds their service and verifier on it: auth/trusted-issuers.ts). */
  issuerStore: PostgresIssuerStore;
  /** Relying parties of the communities and people's grants (issue 15), for GraphQL and the CLI. */
  relyingParties: RelyingPartyService;
  /** The admin console's role grants (issue 21, ADR 0034): the service, and the store its tokens are checked against on every request. */
  consoleRoles: { service: ConsoleRoleService; store: PostgresConsoleRoleStore };
  /** The communities' sign-in page themes (issue 15, docs/sso.md), for GraphQL and the CLI. */
  communityThemes: CommunityThemeService;
  /** What the communities' OpenID Providers read and write (packages/oidc, mounted by the hub at /oidc/{community}). */
  sso: {
    relyingParties: PostgresRelyingPartyStore;
    accounts: PostgresSsoAccounts;
    payloads: PostgresOidcStore;
    hasher: Argon2PasswordHasher;
    upstreams: PostgresUpstreamStore;
    themes: PostgresCommunityThemeStore;
  };
  /** Offices' upstream identity providers (issue 15), for the CLI. */
  upstreamProviders: UpstreamProviderService;
  /** Leavers with a successor (issue 19): handover, suspension, transfers, the deletion after the grace period. */
  offboarding: OffboardingService;
  /** Inbound sources of tenants (issue 18): directories the hub follows. */
  sources: SourceService;
  /** The communities' Shared Signals transmitters (issue 17): streams, SETs, push and poll delivery. */
  streams: SsfStreams;
  /** Just-in-time provisioning (issue 16): relying parties' targets "on first sign-in" and the admitted set. */
  jit: { store: PostgresJitStore; targets: JitTargetService; firstSignIn: FirstSignInPull };
  /** Migrations applied while opening. */
  applied: string[];
  /** Resolves when the database answers (readiness). */
  pingDatabase(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link openRuntime}. */
export interface RuntimeOptions {
  /** Creates the database named in `DATABASE_URL` when the server has none (`meridian migrate --create-database`). */
  createDatabase?: boolean;
  /** Restarts the embedded PostgreSQL when it dies (the serving hub). */
  supervise?: boolean;
}

/**
 * Opens PostgreSQL (embedded unless `DATABASE_URL` is set), applies pending migrations and builds the services.
 * Migrations run as `DATABASE_URL`'s own user, on a connection of their own; the
 * services' connections act as `meridian_app`, never as the owner (ADR 0010).
 * `logger` receives the replication engine's structured lines (dead letters, circuit changes); silent by default.
 */
export async function openRuntime(
  config: HubConfig,
  role: EmbeddedRole,
  log: (message: string) => void = () => {},
  logger?: ConnectorLogger,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (databaseUrl) {
    // Before MikroORM sees the URL: it would create a database it does not find, and a typo would make an empty hub.
    const { created } = await checkDatabase(databaseUrl, { create: options.createDatabase ?? false });
    if (created) log('Created the database named in DATABASE_URL.');
  } else {
    embedded = await acquireEmbeddedDatabase({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      role,
      log,
      supervise: options.supervise ?? false,
    });
    databaseUrl = embedded.url;
  }
  try {
    const orm = await createOrm({ url: databaseUrl });
    let applied: string[];
    try {
      applied = await migrate(orm);
    } catch (error) {
      await orm.close(true);
      throw error;
    }
    const readReplica = await openHubReadReplica(orm, config, log);
    const adminStore = new PostgresAdminStore(orm, systemClock);
    // API tokens are trusted for a second per process (ADR 0022); a revocation made here is seen here at once.
    const tokenLookup = tokenLookupOf(adminStore, { tokenCacheMs: config.tokenCacheMs });
    const admin = new AdminService(forgettingOnRevoke(adminStore, tokenLookup), systemClock);
    const settings = new TenantSettingsService(new PostgresTenantSettingsStore(orm, systemClock), systemClock, admin);
    // The signing key is read (or generated) on first use: commands that never sign or verify touch no key file.
    const keyring = openAuditKeyring({ configured: config.audit.signingKey, dataDir: config.dataDir, log });
    const auditLog = new PostgresAuditLog(orm, systemClock, { keyring });
    // Connector secrets and passwords on their way to targets are sealed with the hub's SecretBox.
    const secretBox = await openSecretBox({ configured: config.secretKeys, dataDir: config.dataDir, log });
    const directory = new PostgresDirectoryStore(orm, systemClock);
    const hasher = new Argon2PasswordHasher();
    const resources = new ResourceService(
      directory,
      hasher,
      settings,
      new PostgresPasswordForwarding(secretBox, systemClock),
      // Callers name tenants by slug or id; the admin service finds them and checks their reach.
      admin,
    );
    const globalDirectory = new PostgresGlobalDirectoryStore(orm, systemClock, (entry, error) =>
      log(
        `global directory: projecting ${entry.resource_type} ${entry.resource_id} failed, retrying later: ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
    const people = new GlobalDirectoryService(globalDirectory, admin, systemClock);
    const outbound = new OutboundHttp({ allow: config.outboundAllow });
    const offboardingStore = new PostgresOffboardingStore(orm, systemClock);
    const jitStore = new PostgresJitStore(orm, systemClock);
    const replication = new ReplicationEngine({
      outbound,
      // JIT targets receive only the people admitted at their first sign-in (issue 16).
      admissions: jitStore,
      store: new PostgresReplicationStore(orm, systemClock),
      queues: openTargetQueues({ redisUrl: config.redisUrl, databaseUrl }),
      registry: new ConnectorRegistry([
        scimConnectorFactory,
        memoryConnectorFactory,
        // LDAP opens sockets, not fetch requests: the same outbound policy answers the address to connect to.
        ldapConnectorFactory({ connectAddress: (host) => outbound.connectAddress(host) }),
      ]),
      sealer: secretBox,
      resources: {
        get: (tenantId, kind, id, include) => directory.get(tenantId, kind, id, include),
        getMany: (tenantId, kind, ids, include) => directory.getMany(tenantId, kind, ids, include),
        shapeOf: (tenantId, kind) => resources.shapeOf(tenantId, kind),
        page: (tenantId, kind, page) => directory.page(tenantId, kind, page),
      },
      clock: systemClock,
      directory: globalDirectory,
      directoryExports: new PostgresDirectoryExportStore(orm, systemClock),
      people,
      logger,
      // With OpenTelemetry on, each delivery is a span in the trace of the request that caused it (ADR 0026).
      deliveries: await outboxTracing(orm),
      transfers: offboardingStore,
      tuning: { jobsPerRequest: config.replicationJobsPerRequest },
    });
    const sourceStore = new PostgresSourceStore(orm, systemClock, secretBox);
    const scimSources = new ScimSourceReader(outbound.fetchFor({ httpsOnly: true }));
    // An LDAP source is read through the outbound policy's sockets, for syncs and first sign-ins alike.
    const ldapSources = new LdapSourceReader((host) => outbound.connectAddress(host));
    const sso = {
      relyingParties: new PostgresRelyingPartyStore(orm, systemClock),
      accounts: new PostgresSsoAccounts(orm, systemClock),
      payloads: new PostgresOidcStore(orm, systemClock, secretBox),
      hasher,
      upstreams: new PostgresUpstreamStore(orm, systemClock, secretBox),
      themes: new PostgresCommunityThemeStore(orm, systemClock),
    };
    const streams = openStreams({
      publicUrl: config.publicUrl,
      orm,
      box: secretBox,
      admin,
      adminStore,
      sso,
      outbound,
      waiting: replication,
      retentionMs: config.ssfRetentionDays * 86_400_000,
    });
    return {
      orm,
      databaseUrl,
      readReplica,
      sso,
      streams,
      relyingParties: new RelyingPartyService(sso.relyingParties, sso.accounts, admin),
      consoleRoles: (() => {
        const store = new PostgresConsoleRoleStore(orm, systemClock);
        return { store, service: new ConsoleRoleService(store, admin, adminStore) };
      })(),
      communityThemes: new CommunityThemeService(sso.themes, admin),
      jit: {
        store: jitStore,
        targets: new JitTargetService(jitStore, admin),
        firstSignIn: new FirstSignInPull(sourceStore, resources, { scim: scimSources, ldap: ldapSources }),
      },
      // The issuer answers to the outbound request policy when it is set, as on every request made to it.
      upstreamProviders: new UpstreamProviderService(sso.upstreams, admin, {
        checkUrl: (url, field) => outbound.checkUrl(url, field, { httpsOnly: true }),
      }),
      embedded,
      adminStore,
      tokenLookup,
      admin,
      directory: people,
      resources,
      replication,
      replicationService: new ReplicationService(replication, admin),
      offboarding: buildOffboarding({
        directory,
        store: offboardingStore,
        admin,
        replication,
        grants: sso.accounts,
        clock: systemClock,
      }),
      // An LDAP source is checked when it is created (config, outbound policy) and read through the policy's sockets.
      sources: new SourceService(
        sourceStore,
        resources,
        { ldap: ldapSources, scim: scimSources },
        systemClock,
        async (input) => {
          if (input.kind !== 'scim') return outbound.checkUrl(parseLdapSourceConfig(input.config, input.secrets).url, 'config.url');
          // A SCIM source (issue 16) holds a bearer token: https only, unless the allow-list opens the host; the keys
          // its events are verified with (issue 17) come from a URL held to the same rule.
          const scim = parseScimSourceConfig(input.config, input.secrets);
          await outbound.checkUrl(scim.baseUrl, 'config.baseUrl', { httpsOnly: true });
          if (scim.events) await outbound.checkUrl(scim.events.jwksUri, 'config.events.jwksUri', { httpsOnly: true });
        },
        admin,
      ),
      outbound,
      settings,
      auditLog,
      audit: new AuditService(auditLog, adminStore),
      applied,
      issuerStore: new PostgresIssuerStore(orm, systemClock),
      async pingDatabase() {
        await orm.em.fork().execute('select 1');
      },
      async close() {
        try {
          await streams.stop();
          await replication.close();
          await outbound.close();
          // A connection lost in the middle of a transaction (the database restarted) can keep the pool from
          // closing: give it a bounded time, then go on, so the embedded PostgreSQL is still stopped.
          await settleWithin(orm.close(true), CLOSE_TIMEOUT_MS);
          await settleWithin(readReplica?.close() ?? Promise.resolve(), CLOSE_TIMEOUT_MS);
        } finally {
          await embedded?.release();
        }
      },
    };
  } catch (error) {
    await embedded?.release();
    throw error;
  }
}

const CLOSE_TIMEOUT_MS = 10_000;

/** Waits for `work` at most `ms`; a failure or a timeout is not the caller's concern (it is stopping). */
async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
