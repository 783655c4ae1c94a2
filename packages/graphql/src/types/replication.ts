import type { DeadLetter, MigrationReport, ReconcileReport, ReplicationTarget } from '@meridian/core';
import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType('ReplicationRateLimit', { description: 'At most `max` deliveries per `durationMs` to a target, across all workers.' })
export class RateLimitNode {
  @Field(() => Int)
  max!: number;

  @Field(() => Int)
  durationMs!: number;
}

@ObjectType('TargetRetirement', { description: 'When a target stops receiving changes, after another took over from it.' })
export class TargetRetirementNode {
  @Field(() => Date, { description: 'From then on the target receives no change.' })
  at!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was disabled; null while only scheduled.' })
  retiredAt!: Date | null;

  @Field(() => ID, { nullable: true, description: 'The target that took over.' })
  successorId!: string | null;
}

@ObjectType('ReplicationTarget', { description: 'A downstream system a tenant replicates to. Secret values are never returned.' })
export class ReplicationTargetNode {
  @Field(() => ID)
  id!: string;

  /** The tenant of the target, for its field resolvers (counts, dead letters). */
  tenantId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'The connector kind: scim, memory, ...' })
  kind!: string;

  @Field(() => GraphQLJSONObject)
  config!: Record<string, unknown>;

  @Field(() => [String], { description: 'Names of the secrets stored (encrypted) for this target.' })
  secretNames!: string[];

  @Field(() => String, { description: 'delete, deactivate or grace.' })
  deleteMode!: string;

  @Field(() => Int, { nullable: true, description: 'For grace: seconds between deactivation and deletion.' })
  graceSeconds!: number | null;

  @Field(() => GraphQLJSONObject, { description: 'SCIM filters per kind: { User?: string | false, Group?: string | false }.' })
  scoping!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'Attribute mapping per kind (JSONata rules); see docs/connectors.md.' })
  mapping!: Record<string, unknown>;

  @Field(() => Boolean)
  pushPasswords!: boolean;

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => Boolean)
  paused!: boolean;

  @Field(() => RateLimitNode, { nullable: true })
  rateLimit!: RateLimitNode | null;

  @Field(() => Int)
  concurrency!: number;

  @Field(() => Int)
  maxAttempts!: number;

  @Field(() => String, { description: 'closed, open (paused after consecutive failures) or half_open (probing).' })
  circuitState!: string;

  @Field(() => Int)
  consecutiveFailures!: number;

  @Field(() => TargetRetirementNode, {
    nullable: true,
    description: 'Set once a migration (migrateReplicationTarget) scheduled its retirement; see docs/migration.md.',
  })
  retirement!: TargetRetirementNode | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

@InputType('ReplicationRateLimitInput')
export class RateLimitInput {
  @Field(() => Int)
  max!: number;

  @Field(() => Int)
  durationMs!: number;
}

@InputType('ReplicationTargetInput', { description: 'A target to create, or the fields of a target to change.' })
export class ReplicationTargetInputType {
  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => String, { nullable: true, description: 'The connector kind (required to create).' })
  kind?: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Connector config, e.g. { baseUrl } for scim.' })
  config?: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Secret values, e.g. { token }; stored encrypted, merged on update (null removes).',
  })
  secrets?: Record<string, string>;

  @Field(() => String, { nullable: true })
  deleteMode?: 'delete' | 'deactivate' | 'grace';

  @Field(() => Int, { nullable: true })
  graceSeconds?: number;

  @Field(() => GraphQLJSONObject, { nullable: true })
  scoping?: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { nullable: true })
  mapping?: Record<string, unknown>;

  @Field(() => Boolean, { nullable: true })
  pushPasswords?: boolean;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean;

  @Field(() => Boolean, { nullable: true })
  paused?: boolean;

  @Field(() => RateLimitInput, { nullable: true })
  rateLimit?: RateLimitInput;

  @Field(() => Int, { nullable: true })
  concurrency?: number;

  @Field(() => Int, { nullable: true })
  maxAttempts?: number;
}

@ObjectType('ReplicationCounts', { description: 'How many resources stand where at one target.' })
export class ReplicationCountsNode {
  @Field(() => ID)
  targetId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Int)
  pending!: number;

  @Field(() => Int)
  delivered!: number;

  @Field(() => Int, { description: 'Failing and being retried.' })
  failed!: number;

  @Field(() => Int)
  deadLettered!: number;

  @Field(() => Int, { description: 'Out of the target’s scope.' })
  skipped!: number;
}

@ObjectType('ReplicationStatus', { description: 'Where one resource stands at one target.' })
export class ReplicationStatusNode {
  @Field(() => ID)
  targetId!: string;

  @Field(() => String)
  target!: string;

  @Field(() => String, { description: 'pending, synced, deactivated, grace, deleted, out_of_scope, retrying or dead_lettered.' })
  status!: string;

  @Field(() => String, { nullable: true })
  remoteId!: string | null;

  @Field(() => Int, { description: 'The highest hub version queued for the target.' })
  wantedVersion!: number;

  @Field(() => Int, { description: 'The highest hub version delivered (or decided about).' })
  handledVersion!: number;

  @Field(() => Int, { nullable: true })
  pushedVersion!: number | null;

  @Field(() => Int)
  attempts!: number;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Date, { nullable: true })
  graceUntil!: Date | null;

  @Field(() => Date)
  updatedAt!: Date;
}

@ObjectType('DeadLetter', { description: 'A permanent replication failure, with what was sent and what came back (credentials removed).' })
export class DeadLetterNode {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  targetId!: string;

  @Field(() => String)
  kind!: string;

  @Field(() => ID)
  localId!: string;

  @Field(() => Int, { nullable: true })
  resourceVersion!: number | null;

  @Field(() => String)
  operation!: string;

  @Field(() => String)
  reason!: string;

  @Field(() => String, { nullable: true })
  errorCode!: string | null;

  @Field(() => GraphQLJSON, { nullable: true })
  request!: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  response!: unknown;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  replayedAt!: Date | null;
}

@ObjectType('ConnectionTest', { description: 'The result of testing a target’s connection.' })
export class ConnectionTestNode {
  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => String)
  message!: string;

  @Field(() => Int, { nullable: true })
  latencyMs!: number | null;
}

@ObjectType('DriftItem', { description: 'One object that differs between the hub and a target.' })
export class DriftItemNode {
  @Field(() => String)
  kind!: string;

  @Field(() => ID, { nullable: true })
  localId!: string | null;

  @Field(() => String, { nullable: true })
  remoteId!: string | null;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => String, { description: 'missing, changed, unlinked, stale or orphan.' })
  drift!: string;

  @Field(() => [String])
  differences!: string[];

  @Field(() => String, { description: 'create, update, adopt, delete, deactivate or none.' })
  action!: string;

  @Field(() => Boolean, { nullable: true })
  applied!: boolean | null;

  @Field(() => String, { nullable: true })
  error!: string | null;
}

@ObjectType('ReconcileReport', { description: 'The comparison of the hub with a target, and what was fixed.' })
export class ReconcileReportNode {
  @Field(() => ID)
  targetId!: string;

  @Field(() => String)
  target!: string;

  @Field(() => Boolean)
  dryRun!: boolean;

  @Field(() => Int)
  hubObjects!: number;

  @Field(() => Int)
  remoteObjects!: number;

  @Field(() => Int)
  inSync!: number;

  @Field(() => [DriftItemNode])
  items!: DriftItemNode[];

  @Field(() => Int)
  fixed!: number;

  @Field(() => Int)
  failed!: number;
}

@ObjectType('MigrationItem', { description: 'What a migration did (or would do) with one object the old target holds.' })
export class MigrationItemNode {
  @Field(() => String)
  kind!: string;

  @Field(() => ID)
  localId!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => String, { nullable: true, description: 'The externalId the hub sends for it.' })
  externalId!: string | null;

  @Field(() => String, { nullable: true })
  fromRemoteId!: string | null;

  @Field(() => String, { nullable: true })
  toRemoteId!: string | null;

  @Field(() => String, { description: 'created, adopted, updated, unchanged, skipped or failed.' })
  outcome!: string;

  @Field(() => [String])
  differences!: string[];

  @Field(() => String, { nullable: true, description: 'Why it was skipped or failed.' })
  reason!: string | null;
}

@ObjectType('MigrationReport', { description: 'The per-object report of a migration from one target to another.' })
export class MigrationReportNode {
  @Field(() => Boolean)
  dryRun!: boolean;

  @Field(() => ID)
  fromId!: string;

  @Field(() => ID)
  toId!: string;

  @Field(() => Date, { nullable: true, description: 'When the old target stops receiving changes; null when none is scheduled.' })
  retireAt!: Date | null;

  @Field(() => [String], { description: 'Settings of the two targets that differ (mapping, scoping, deleteMode, pushPasswords).' })
  settingsDiffer!: string[];

  @Field(() => GraphQLJSONObject, { description: 'How many objects had each outcome.' })
  counts!: Record<string, number>;

  @Field(() => [MigrationItemNode])
  items!: MigrationItemNode[];
}

/** A migration report as GraphQL shows it. */
export function toMigrationNode(report: MigrationReport): MigrationReportNode {
  return Object.assign(new MigrationReportNode(), {
    dryRun: report.dryRun,
    fromId: report.from.id,
    toId: report.to.id,
    retireAt: report.retireAt,
    settingsDiffer: report.settingsDiffer,
    counts: report.counts,
    items: report.items.map((i) => Object.assign(new MigrationItemNode(), { ...i, reason: i.reason ?? null })),
  });
}

/** A target as GraphQL shows it. */
export function toTargetNode(target: ReplicationTarget): ReplicationTargetNode {
  return Object.assign(new ReplicationTargetNode(), {
    id: target.id,
    tenantId: target.tenantId,
    name: target.name,
    kind: target.kind,
    config: target.config,
    secretNames: target.secretNames,
    deleteMode: target.deleteMode,
    graceSeconds: target.graceSeconds,
    scoping: target.scoping,
    mapping: target.mapping,
    pushPasswords: target.pushPasswords,
    enabled: target.enabled,
    paused: target.paused,
    rateLimit: target.rateLimit,
    concurrency: target.concurrency,
    maxAttempts: target.maxAttempts,
    circuitState: target.circuitState,
    consecutiveFailures: target.consecutiveFailures,
    retirement: target.retirement ? Object.assign(new TargetRetirementNode(), target.retirement) : null,
    createdAt: target.createdAt,
    updatedAt: target.updatedAt,
  });
}

/** A dead letter as GraphQL shows it. */
export function toDeadLetterNode(letter: DeadLetter): DeadLetterNode {
  return Object.assign(new DeadLetterNode(), letter);
}

/** A reconciliation report as GraphQL shows it. */
export function toReconcileNode(report: ReconcileReport): ReconcileReportNode {
  return Object.assign(new ReconcileReportNode(), {
    ...report,
    items: report.items.map((i) => Object.assign(new DriftItemNode(), { ...i, applied: i.applied ?? null, error: i.error ?? null })),
  });
}
