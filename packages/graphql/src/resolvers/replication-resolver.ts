import { MAX_REPLICATION_WAIT_SECONDS, MeridianError, type ReplicationService, type TargetInput } from '@meridian/core';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { TenantNode } from '../types/objects.js';
import {
  ConnectionTestNode,
  DeadLetterNode,
  MigrationReportNode,
  ReconcileReportNode,
  ReplicationCountsNode,
  ReplicationStatusNode,
  ReplicationTargetInputType,
  ReplicationTargetNode,
  toDeadLetterNode,
  toMigrationNode,
  toReconcileNode,
  toTargetNode,
} from '../types/replication.js';
import { contextOf } from './request-context.js';

/** Core's replication service, which authorizes every call; UNAVAILABLE on a hub without replication. */
export function replicationOf(ctx: GraphqlContext): ReplicationService {
  const replication = ctx.services.replication;
  if (!replication) throw new MeridianError('UNAVAILABLE', 'Replication is not configured on this hub.');
  return replication;
}

/** Input objects carry no prototype surprises into the engine: copy them to plain JSON, without absent fields. */
function plain(input: ReplicationTargetInputType): Partial<TargetInput> {
  return JSON.parse(JSON.stringify(input)) as Partial<TargetInput>;
}

/**
 * Replication targets of a tenant, their status and dead letters
 * (issue 5). Tenant administrators only, as core's `ReplicationService`
 * decides (`replication.read`, `replication.manage`): targets hold credentials.
 */
@Resolver(() => TenantNode)
export class ReplicationResolver {
  @FieldResolver(() => [ReplicationTargetNode], { description: "The tenant's replication targets." })
  async replicationTargets(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    return (await replicationOf(ctx).targets(ctx.principal, tenant)).map(toTargetNode);
  }

  @FieldResolver(() => [ReplicationCountsNode], {
    description: 'Per target: pending, delivered, failed, dead-lettered and skipped resources.',
  })
  async replicationCounts(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    return replicationOf(ctx).statusCounts(ctx.principal, tenant);
  }

  @FieldResolver(() => [DeadLetterNode], { description: 'Permanent failures, newest first; replayed ones when asked.' })
  async deadLetters(
    @Root() tenant: TenantNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('target', () => String, { nullable: true, description: 'Target id or name.' }) target?: string | null,
    @Arg('includeReplayed', () => Boolean, { defaultValue: false }) includeReplayed?: boolean,
    @Arg('limit', () => Int, { defaultValue: 100 }) limit?: number,
  ) {
    const letters = await replicationOf(ctx).deadLetters(ctx.principal, tenant, {
      ...(target ? { target } : {}),
      includeReplayed: includeReplayed ?? false,
      limit: limit ?? 100,
    });
    return letters.map(toDeadLetterNode);
  }

  @FieldResolver(() => Int, { description: 'Seconds a SCIM write waits for its deliveries when the client sends no Prefer: wait.' })
  async replicationWaitSeconds(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    return replicationOf(ctx).waitPolicy(ctx.principal, tenant);
  }

  @Query(() => [ReplicationStatusNode], { description: 'Where one User or Group stands at each target of its tenant.' })
  async replicationStatus(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('kind', () => String, { description: 'User or Group.' }) kind: string,
    @Arg('id', () => ID) id: string,
  ) {
    return replicationOf(ctx).resourceStatus(ctx.principal, tenant, kind, id);
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Creates a replication target; its secrets are stored encrypted.' })
  async createReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('input', () => ReplicationTargetInputType) input: ReplicationTargetInputType,
  ) {
    return toTargetNode(await replicationOf(ctx).createTarget(ctx.principal, tenant, plain(input), contextOf(ctx)));
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Changes a target (mapping, scoping, secrets, limits, ...).' })
  async updateReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String, { description: 'Target id or name.' }) target: string,
    @Arg('input', () => ReplicationTargetInputType) input: ReplicationTargetInputType,
  ) {
    return toTargetNode(await replicationOf(ctx).updateTarget(ctx.principal, tenant, target, plain(input), contextOf(ctx)));
  }

  @Mutation(() => Boolean, { description: 'Deletes a target, its queue, links and dead letters; remote objects stay.' })
  async deleteReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    await replicationOf(ctx).deleteTarget(ctx.principal, tenant, target, contextOf(ctx));
    return true;
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Pauses deliveries to a target; changes keep queueing.' })
  async pauseReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    return toTargetNode(await replicationOf(ctx).pauseTarget(ctx.principal, tenant, target, contextOf(ctx)));
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Resumes deliveries to a target.' })
  async resumeReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    return toTargetNode(await replicationOf(ctx).resumeTarget(ctx.principal, tenant, target, contextOf(ctx)));
  }

  @Mutation(() => ConnectionTestNode, { description: "Tests a target's connection and credentials without changing anything." })
  async testReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    const result = await replicationOf(ctx).testTarget(ctx.principal, tenant, target);
    return Object.assign(new ConnectionTestNode(), { ok: result.ok, message: result.message, latencyMs: result.latencyMs ?? null });
  }

  @Mutation(() => DeadLetterNode, { description: "Replays a dead letter: the resource's current state is queued for its target again." })
  async replayDeadLetter(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string, @Arg('id', () => ID) id: string) {
    return toDeadLetterNode(await replicationOf(ctx).replay(ctx.principal, tenant, id, contextOf(ctx)));
  }

  @Mutation(() => ReconcileReportNode, { description: 'Compares the hub with a target object by object; fixes the drift unless dryRun.' })
  async reconcileReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
    @Arg('dryRun', () => Boolean, { defaultValue: true }) dryRun: boolean,
  ) {
    return toReconcileNode(await replicationOf(ctx).reconcile(ctx.principal, tenant, target, { dryRun }));
  }

  @Mutation(() => MigrationReportNode, {
    description:
      "Brings target `to` to the state target `from` holds (each User and Group created or adopted, with the hub's externalIds and memberships) and retires `from` at `retireAt`; a dry run (the default) writes nothing.",
  })
  async migrateReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('from', () => String) from: string,
    @Arg('to', () => String) to: string,
    @Arg('retireAt', () => Date, { nullable: true }) retireAt: Date | null,
    @Arg('dryRun', () => Boolean, { defaultValue: true }) dryRun: boolean,
  ) {
    return toMigrationNode(
      await replicationOf(ctx).migrate(ctx.principal, tenant, { from, to, retireAt: retireAt ?? null, dryRun }, contextOf(ctx)),
    );
  }

  @Mutation(() => ReplicationTargetNode, { description: "Drops a target's scheduled retirement (before its time)." })
  async cancelReplicationTargetRetirement(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    return toTargetNode(await replicationOf(ctx).cancelRetirement(ctx.principal, tenant, target, contextOf(ctx)));
  }

  @Mutation(() => Int, {
    description: `Sets how long SCIM writes of the tenant wait for their deliveries by default (0-${MAX_REPLICATION_WAIT_SECONDS} s, the longest any write waits).`,
  })
  async setReplicationWaitSeconds(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('seconds', () => Int) seconds: number,
  ) {
    return replicationOf(ctx).setWaitPolicy(ctx.principal, tenant, seconds, contextOf(ctx));
  }
}
