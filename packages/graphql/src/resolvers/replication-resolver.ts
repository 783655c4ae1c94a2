import { MAX_REPLICATION_WAIT_SECONDS, MeridianError, type ResourceKind } from '@meridian/core';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { TenantNode } from '../types/objects.js';
import {
  ConnectionTestNode,
  DeadLetterNode,
  ReconcileReportNode,
  type ReplicationAdmin,
  ReplicationCountsNode,
  ReplicationStatusNode,
  type ReplicationTargetInput,
  ReplicationTargetInputType,
  ReplicationTargetNode,
  toDeadLetterNode,
  toReconcileNode,
  toTargetNode,
} from '../types/replication.js';
import { contextOf } from './request-context.js';

function engineOf(ctx: GraphqlContext): ReplicationAdmin {
  const engine = ctx.services.replication;
  if (!engine) throw new MeridianError('UNAVAILABLE', 'Replication is not configured on this hub.');
  return engine;
}

/** Input objects carry no prototype surprises into the engine: copy them to plain JSON, without absent fields. */
function plain(input: ReplicationTargetInputType): Partial<ReplicationTargetInput> {
  return JSON.parse(JSON.stringify(input)) as Partial<ReplicationTargetInput>;
}

function kindOf(kind: string): ResourceKind {
  if (kind !== 'User' && kind !== 'Group') throw new MeridianError('INVALID_INPUT', "'kind' is User or Group.", { field: 'kind' });
  return kind;
}

/**
 * Replication targets of a tenant, their status and dead letters
 * (issue 5). Tenant administrators only: targets hold credentials.
 */
@Resolver(() => TenantNode)
export class ReplicationResolver {
  @FieldResolver(() => [ReplicationTargetNode], { description: "The tenant's replication targets." })
  async replicationTargets(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.read', tenant.id);
    return (await engineOf(ctx).targets.list(found.id)).map(toTargetNode);
  }

  @FieldResolver(() => [ReplicationCountsNode], {
    description: 'Per target: pending, delivered, failed, dead-lettered and skipped resources.',
  })
  async replicationCounts(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.read', tenant.id);
    return engineOf(ctx).statusCounts(found.id);
  }

  @FieldResolver(() => [DeadLetterNode], { description: 'Permanent failures, newest first; replayed ones when asked.' })
  async deadLetters(
    @Root() tenant: TenantNode,
    @Ctx() ctx: GraphqlContext,
    @Arg('target', () => String, { nullable: true, description: 'Target id or name.' }) target?: string | null,
    @Arg('includeReplayed', () => Boolean, { defaultValue: false }) includeReplayed?: boolean,
    @Arg('limit', () => Int, { defaultValue: 100 }) limit?: number,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.read', tenant.id);
    const letters = await engineOf(ctx).deadLetters(found.id, {
      ...(target ? { target } : {}),
      includeReplayed: includeReplayed ?? false,
      limit: limit ?? 100,
    });
    return letters.map(toDeadLetterNode);
  }

  @FieldResolver(() => Int, { description: 'Seconds a SCIM write waits for its deliveries when the client sends no Prefer: wait.' })
  async replicationWaitSeconds(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.read', tenant.id);
    return engineOf(ctx).waitPolicy(found.id);
  }

  @Query(() => [ReplicationStatusNode], { description: 'Where one User or Group stands at each target of its tenant.' })
  async replicationStatus(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('kind', () => String, { description: 'User or Group.' }) kind: string,
    @Arg('id', () => ID) id: string,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.read', tenant);
    return engineOf(ctx).resourceStatus(found.id, kindOf(kind), id);
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Creates a replication target; its secrets are stored encrypted.' })
  async createReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('input', () => ReplicationTargetInputType) input: ReplicationTargetInputType,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    const values = plain(input);
    if (!values.name || !values.kind)
      throw new MeridianError('INVALID_INPUT', 'A new target needs a name and a kind.', { field: values.name ? 'kind' : 'name' });
    return toTargetNode(await engineOf(ctx).targets.create(found.id, values as ReplicationTargetInput, contextOf(ctx)));
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Changes a target (mapping, scoping, secrets, limits, ...).' })
  async updateReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String, { description: 'Target id or name.' }) target: string,
    @Arg('input', () => ReplicationTargetInputType) input: ReplicationTargetInputType,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    return toTargetNode(await engineOf(ctx).targets.update(found.id, target, plain(input), contextOf(ctx)));
  }

  @Mutation(() => Boolean, { description: 'Deletes a target, its queue, links and dead letters; remote objects stay.' })
  async deleteReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    await engineOf(ctx).targets.delete(found.id, target, contextOf(ctx));
    return true;
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Pauses deliveries to a target; changes keep queueing.' })
  async pauseReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    return toTargetNode(await engineOf(ctx).targets.pause(found.id, target, contextOf(ctx)));
  }

  @Mutation(() => ReplicationTargetNode, { description: 'Resumes deliveries to a target.' })
  async resumeReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    return toTargetNode(await engineOf(ctx).targets.resume(found.id, target, contextOf(ctx)));
  }

  @Mutation(() => ConnectionTestNode, { description: "Tests a target's connection and credentials without changing anything." })
  async testReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    const result = await engineOf(ctx).targets.test(found.id, target);
    return Object.assign(new ConnectionTestNode(), { ok: result.ok, message: result.message, latencyMs: result.latencyMs ?? null });
  }

  @Mutation(() => DeadLetterNode, { description: "Replays a dead letter: the resource's current state is queued for its target again." })
  async replayDeadLetter(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string, @Arg('id', () => ID) id: string) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    return toDeadLetterNode(await engineOf(ctx).replay(found.id, id, contextOf(ctx)));
  }

  @Mutation(() => ReconcileReportNode, { description: 'Compares the hub with a target object by object; fixes the drift unless dryRun.' })
  async reconcileReplicationTarget(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('target', () => String) target: string,
    @Arg('dryRun', () => Boolean, { defaultValue: true }) dryRun: boolean,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    return toReconcileNode(await engineOf(ctx).reconcile(found.id, target, { dryRun }));
  }

  @Mutation(() => Int, {
    description: `Sets how long SCIM writes of the tenant wait for their deliveries by default (0-${MAX_REPLICATION_WAIT_SECONDS} s, the longest any write waits).`,
  })
  async setReplicationWaitSeconds(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('seconds', () => Int) seconds: number,
  ) {
    const found = await ctx.services.admin.authorizeTenant(ctx.principal, 'replication.manage', tenant);
    return engineOf(ctx).setWaitPolicy(found.id, seconds, contextOf(ctx));
  }
}
