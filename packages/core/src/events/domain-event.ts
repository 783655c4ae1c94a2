import type { ResourceKind } from '../scim/resource-types.js';

/** Event types written to the outbox; `<resource>.<past-tense verb>`. */
export type EventType =
  | 'user.created'
  | 'user.replaced'
  | 'user.updated'
  | 'user.deleted'
  | 'group.created'
  | 'group.replaced'
  | 'group.updated'
  | 'group.deleted'
  | 'target.created'
  | 'target.updated'
  | 'target.deleted'
  | 'target.migrated'
  | 'target.retirement_cancelled'
  | 'target.retired'
  | 'replication.delivered'
  | 'replication.dead_lettered'
  | 'replication.replayed'
  | 'replication.admitted'
  | 'replication.admission_failed'
  | 'community.created'
  | 'community.theme_set'
  | 'tenant.created'
  | 'tenant.policy_changed'
  | 'schema.created'
  | 'schema.deleted'
  | 'token.created'
  | 'token.revoked'
  | 'account.offboarding_scheduled'
  | 'account.offboarded'
  | 'account.offboarding_cancelled'
  | 'account.offboarding_completed'
  | 'account.ownership_transfer_requested'
  | 'account.ownership_transferred'
  | 'tenant.exported'
  | 'tenant.imported'
  | 'issuer.created'
  | 'issuer.deleted'
  | 'directory.rules_changed'
  | 'directory.linked'
  | 'directory.unlinked'
  | 'directory.released'
  | 'directory.pinned'
  | 'directory.export_created'
  | 'directory.export_deleted'
  | 'rp.created'
  | 'rp.updated'
  | 'rp.deleted'
  | 'rp.secret_rotated'
  | 'sso.consented'
  | 'sso.released'
  | 'sso.grant_revoked'
  | 'sso.upstream_set'
  | 'sso.upstream_removed'
  | 'sso.upstream_linked'
  | 'auth.failed'
  | 'stream.created'
  | 'stream.updated'
  | 'stream.deleted'
  | 'source.created'
  | 'source.updated'
  | 'source.deleted'
  | 'source.synced'
  | 'source.event_applied'
  | 'console.role_granted'
  | 'console.role_revoked';

/** Every event type, for docs and exhaustive tests. */
export const EVENT_TYPES: readonly EventType[] = [
  'user.created',
  'user.replaced',
  'user.updated',
  'user.deleted',
  'group.created',
  'group.replaced',
  'group.updated',
  'group.deleted',
  'target.created',
  'target.updated',
  'target.deleted',
  'target.migrated',
  'target.retirement_cancelled',
  'target.retired',
  'replication.delivered',
  'replication.dead_lettered',
  'replication.replayed',
  'replication.admitted',
  'replication.admission_failed',
  'community.created',
  'community.theme_set',
  'tenant.created',
  'tenant.policy_changed',
  'schema.created',
  'schema.deleted',
  'token.created',
  'token.revoked',
  'account.offboarding_scheduled',
  'account.offboarded',
  'account.offboarding_cancelled',
  'account.offboarding_completed',
  'account.ownership_transfer_requested',
  'account.ownership_transferred',
  'tenant.exported',
  'tenant.imported',
  'issuer.created',
  'issuer.deleted',
  'directory.rules_changed',
  'directory.linked',
  'directory.unlinked',
  'directory.released',
  'directory.pinned',
  'directory.export_created',
  'directory.export_deleted',
  'rp.created',
  'rp.updated',
  'rp.deleted',
  'rp.secret_rotated',
  'sso.consented',
  'sso.released',
  'sso.grant_revoked',
  'sso.upstream_set',
  'sso.upstream_removed',
  'sso.upstream_linked',
  'auth.failed',
  'stream.created',
  'stream.updated',
  'stream.deleted',
  'source.created',
  'source.updated',
  'source.deleted',
  'source.synced',
  'source.event_applied',
  'console.role_granted',
  'console.role_revoked',
];

/** The kinds of resource an event can be about. */
export type EventResourceType =
  | ResourceKind
  | 'Community'
  | 'Tenant'
  | 'Token'
  | 'Schema'
  | 'Issuer'
  | 'Target'
  | 'Person'
  | 'DirectoryExport'
  | 'RelyingParty'
  | 'Grant'
  | 'UpstreamProvider'
  | 'EventStream'
  | 'Source'
  | 'ConsoleRoleGrant';

/**
 * A change, written in the same transaction as the change itself: once to the
 * outbox (for replication and the global directory) and once to the audit log.
 */
export interface DomainEvent {
  type: EventType;
  /** Null for platform-level changes (a community). */
  tenantId: string | null;
  resourceType: EventResourceType;
  resourceId: string;
  /** The resource version after the change, when it has one. */
  version?: number;
  /** Before/after values for the audit diff; secrets are never placed here. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

/** The event type for a change to a SCIM resource: PUT replaces, PATCH updates. */
export function resourceEventType(kind: ResourceKind, verb: 'created' | 'replaced' | 'updated' | 'deleted'): EventType {
  return `${kind === 'User' ? 'user' : 'group'}.${verb}`;
}
