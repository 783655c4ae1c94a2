import { AdminService, AuditService, ResourceService, systemClock, TenantSettingsService } from '@meridian/core';
import {
  Argon2PasswordHasher,
  acquireEmbeddedDatabase,
  createOrm,
  type EmbeddedDatabase,
  type EmbeddedRole,
  type MikroORM,
  migrate,
  openAuditKeyring,
  PostgresAdminStore,
  PostgresAuditLog,
  PostgresDirectoryStore,
  PostgresTenantSettingsStore,
} from '@meridian/store';
import type { HubConfig } from '../config/config.js';

/** The database, stores and services one process works with. */
export interface Runtime {
  orm: MikroORM;
  databaseUrl: string;
  embedded: EmbeddedDatabase | undefined;
  adminStore: PostgresAdminStore;
  admin: AdminService;
  resources: ResourceService;
  settings: TenantSettingsService;
  /** The audit log: verification, signed checkpoints, retention, authentication failures. */
  auditLog: PostgresAuditLog;
  audit: AuditService;
  /** Migrations applied while opening. */
  applied: string[];
  close(): Promise<void>;
}

/** Opens PostgreSQL (embedded unless `DATABASE_URL` is set), applies pending migrations and builds the services. */
export async function openRuntime(config: HubConfig, role: EmbeddedRole, log: (message: string) => void = () => {}): Promise<Runtime> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await acquireEmbeddedDatabase({ dataDir: config.dataDir, port: config.embeddedPgPort, role, log });
    databaseUrl = embedded.url;
  }
  try {
    const orm = await createOrm({ url: databaseUrl });
    const applied = await migrate(orm);
    const adminStore = new PostgresAdminStore(orm, systemClock);
    const settings = new TenantSettingsService(new PostgresTenantSettingsStore(orm, systemClock), systemClock);
    // The signing key is read (or generated) on first use: commands that never sign or verify touch no key file.
    const keyring = openAuditKeyring({ configured: config.audit.signingKey, dataDir: config.dataDir, log });
    const auditLog = new PostgresAuditLog(orm, systemClock, { keyring });
    return {
      orm,
      databaseUrl,
      embedded,
      adminStore,
      admin: new AdminService(adminStore, systemClock),
      resources: new ResourceService(new PostgresDirectoryStore(orm, systemClock), new Argon2PasswordHasher(), settings),
      settings,
      auditLog,
      audit: new AuditService(auditLog, adminStore),
      applied,
      async close() {
        await orm.close(true);
        await embedded?.release();
      },
    };
  } catch (error) {
    await embedded?.release();
    throw error;
  }
}
