export type { MikroORM } from '@mikro-orm/postgresql';
export { decodeCursor, encodeCursor, type KeysetCursor } from './admin/cursor.js';
export { hashTokenSecret, PostgresAdminStore } from './admin/postgres-admin-store.js';
export { type AuditAppend, appendAuditEntry, recordAuthenticationFailure } from './audit/append-audit-entry.js';
export { GENESIS_HASH, hashAuditEntry, redactSecrets } from './audit/audit-hash.js';
export { PostgresAuditLog, type PostgresAuditLogOptions } from './audit/postgres-audit-log.js';
export {
  AUDIT_SIGNING_KEY_FILE,
  AuditKeyError,
  type AuditKeyring,
  type AuditKeyringOptions,
  type AuditSigningKey,
  auditKeyId,
  checkpointPayload,
  formatAuditSigningKey,
  generateAuditSigningKey,
  openAuditKeyring,
  parseAuditPublicKey,
  parseAuditSigningKey,
  signCheckpoint,
  staticAuditKeyring,
  verifyCheckpointSignature,
} from './audit/signing-key.js';
export {
  type AuditHashInput,
  type ChainStart,
  type ChainWalk,
  GENESIS_START,
  type StoredAuditRow,
  type TrustedCheckpoint,
  type VerifyAuditChainOptions,
  verifyAuditChain,
} from './audit/verify-audit-chain.js';
export { PostgresIssuerStore } from './auth/postgres-issuer-store.js';
export { PostgresDirectoryExportStore } from './community/postgres-directory-export-store.js';
export { PostgresGlobalDirectoryStore } from './community/postgres-global-directory-store.js';
export { PostgresConsoleRoleStore } from './console/postgres-console-role-store.js';
export { isUuid, PostgresDirectoryStore } from './directory/postgres-directory-store.js';
export {
  acquireEmbeddedDatabase,
  type EmbeddedDatabase,
  type EmbeddedDatabaseOptions,
  type EmbeddedRole,
  type EmbeddedState,
} from './embedded/embedded-database.js';
export { EmbeddedDatabaseError, type EmbeddedErrorReason } from './embedded/embedded-errors.js';
export { isPortFree } from './embedded/postgres-process.js';
export { recordEvent } from './events/event-recorder.js';
export { filterToSql, type SortExpression, type SqlFragment, sortToSql } from './filter/to-sql.js';
export { PostgresJitStore } from './jit/postgres-jit-store.js';
export { HashOpener, HashSealer, RSA_SEALING, transferKeyIdOf, X25519_SEALING } from './migration/hash-sealing.js';
export { PostgresTenantTransferStore } from './migration/postgres-tenant-transfer-store.js';
export { PostgresTransferKeys, type TransferPublicKey } from './migration/postgres-transfer-keys.js';
export { PostgresOffboardingStore } from './offboarding/postgres-offboarding-store.js';
export { type CheckDatabaseOptions, checkDatabase, DatabaseConnectError, type DatabaseProblem } from './orm/check-database.js';
export { createOrm, migrate, type OrmOptions } from './orm/create-orm.js';
export { isConnectionFailure, translateDatabaseError } from './orm/database-errors.js';
export {
  memoryWritePositions,
  openReadReplica,
  type ReadReplica,
  type ReadRoute,
  type ReadRouteReason,
  type ReadServedBy,
  type WritePositions,
} from './orm/read-replica.js';
export { forkForCommunity, forkForPlatform, forkForTenant } from './orm/sql.js';
export {
  PENDING_PASSWORD_TTL_MS,
  PostgresPasswordForwarding,
  type SecretSealer,
} from './replication/pending-passwords.js';
export { PostgresReplicationStore } from './replication/postgres-replication-store.js';
export { Argon2PasswordHasher } from './secrets/argon2-password-hasher.js';
export {
  PostgresSealedSecrets,
  type SealedColumn,
  type SealedColumnReport,
  type SealedEnvelope,
} from './secrets/postgres-sealed-secrets.js';
export {
  formatSecretKeys,
  generateSecretKey,
  type OpenSecretBoxOptions,
  openSecretBox,
  parseSecretKeys,
  SECRET_KEYS_FILE,
  SecretBox,
  SecretBoxError,
  type SecretBoxErrorCode,
  type SecretKey,
} from './secrets/secret-box.js';
export { PostgresSourceStore } from './sources/postgres-source-store.js';
export { PostgresCommunityThemeStore } from './sso/postgres-community-theme-store.js';
export { type OidcKeyKind, type OidcPayload, PostgresOidcStore } from './sso/postgres-oidc-store.js';
export { hashClientSecret, PostgresRelyingPartyStore, type RelyingPartyClient } from './sso/postgres-relying-party-store.js';
export { type LoginAccount, type LoginFailureReason, PostgresSsoAccounts, type SsoPerson } from './sso/postgres-sso-accounts.js';
export { PostgresUpstreamStore, type UpstreamLogin } from './sso/postgres-upstream-store.js';
export { PostgresAsyncRequestStore } from './streams/postgres-async-request-store.js';
export { PostgresEventStreamStore, type PushItem } from './streams/postgres-event-stream-store.js';
export { PostgresTenantSettingsStore } from './tenancy/postgres-tenant-settings-store.js';
