import type { DeadLetter, ReplicationTarget, RequestContext, ResourceKind, TargetStatusCounts } from '@meridian/core';
import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';

/** A target as an admin describes it (mirrors the replication engine's input). */
export interface ReplicationTargetInput {
  name: string;
  kind: string;
  config?: Record<string, unknown>;
  secrets?: Record<string, string>;
  deleteMode?: 'delete' | 'deactivate' | 'grace';
  graceSeconds?: number | null;
  scoping?: Record<string, unknown>;
  mapping?: Record<string, unknown>;
  pushPasswords?: boolean;
  enabled?: boolean;
  paused?: boolean;
  rateLimit?: { max: number; durationMs: number } | null;
  concurrency?: number;
  maxAttempts?: number;
}

/** One resource's state at one target. */
export interface ReplicationLinkView {
  targetId: string;
  target: string;
  status: string;
  remoteId: string | null;
  wantedVersion: number;
  handledVersion: number;
  pushedVersion: number | null;
  attempts: number;
  lastError: string | null;
  graceUntil: Date | null;
  updatedAt: Date;
}

/** One drifting object of a reconciliation. */
export interface DriftView {
  kind: ResourceKind;
  localId: string | null;
  remoteId: string | null;
  name: string | null;
  drift: string;
  differences: string[];
  action: string;
  applied?: boolean;
  error?: string;
}

/** A reconciliation report. */
export interface ReconcileView {
  targetId: string;
  target: string;
  dryRun: boolean;
  hubObjects: number;
  remoteObjects: number;
  inSync: number;
  items: DriftView[];
  fixed: number;
  failed: number;
}

/**
 * What the GraphQL API needs of the replication engine; the hub passes the
 * engine (graphql does not depend on the replication package).
 */
export interface ReplicationAdmin {
  targets: {
    list(tenantId: string): Promise<ReplicationTarget[]>;
    get(tenantId: string, idOrName: string): Promise<ReplicationTarget>;
    create(tenantId: string, input: ReplicationTargetInput, context: RequestContext): Promise<ReplicationTarget>;
    update(
      tenantId: string,
      idOrName: string,
      changes: Partial<ReplicationTargetInput>,
      context: RequestContext,
    ): Promise<ReplicationTarget>;
    delete(tenantId: string, idOrName: string, context: RequestContext): Promise<void>;
    pause(tenantId: string, idOrName: string, context: RequestContext): Promise<ReplicationTarget>;
    resume(tenantId: string, idOrName: string, context: RequestContext): Promise<ReplicationTarget>;
    test(tenantId: string, idOrName: string): Promise<{ ok: boolean; message: string; latencyMs?: number }>;
  };
  statusCounts(tenantId: string): Promise<TargetStatusCounts[]>;
  resourceStatus(tenantId: string, kind: ResourceKind, resourceId: string): Promise<ReplicationLinkView[]>;
  deadLetters(tenantId: string, options: { target?: string; includeReplayed?: boolean; limit?: number }): Promise<DeadLetter[]>;
  replay(tenantId: string, deadLetterId: string, context: RequestContext): Promise<DeadLetter>;
  reconcile(tenantId: string, target: string, options: { dryRun: boolean }): Promise<ReconcileView>;
  waitPolicy(tenantId: string): Promise<number>;
  setWaitPolicy(tenantId: string, seconds: number, context: RequestContext): Promise<number>;
}

@ObjectType('ReplicationRateLimit', { description: 'At most `max` deliveries per `durationMs` to a target, across all workers.' })
export class RateLimitNode {
  @Field(() => Int)
  max!: number;

  @Field(() => Int)
  durationMs!: number;
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
    createdAt: target.createdAt,
    updatedAt: target.updatedAt,
  });
}

/** A dead letter as GraphQL shows it. */
export function toDeadLetterNode(letter: DeadLetter): DeadLetterNode {
  return Object.assign(new DeadLetterNode(), letter);
}

/** A reconciliation report as GraphQL shows it. */
export function toReconcileNode(report: ReconcileView): ReconcileReportNode {
  return Object.assign(new ReconcileReportNode(), {
    ...report,
    items: report.items.map((i) => Object.assign(new DriftItemNode(), { ...i, applied: i.applied ?? null, error: i.error ?? null })),
  });
}
