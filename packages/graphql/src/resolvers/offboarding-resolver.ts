import { MeridianError, type OffboardingRecord, type OffboardingService } from '@meridian/core';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { contextOf } from './request-context.js';

// Leavers with a successor (issue 19, docs/offboarding.md). The core's OffboardingService authorizes
// (`hr.write` on the tenant) and decides; these resolvers only translate.

@ObjectType('OwnershipTransfer', {
  description: "The transfer of the leaver's owned objects at one target, as the replication worker recorded it.",
})
class TransferNode {
  @Field(() => ID)
  targetId!: string;

  @Field(() => String)
  target!: string;

  @Field(() => String, { description: 'queued, retrying, done or dead_lettered (then see the target’s dead letters).' })
  status!: string;

  @Field(() => Int, { nullable: true, description: 'Objects the target reported it handed over.' })
  transferred!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Int)
  attempts!: number;
}

@ObjectType('Offboarding', { description: 'One offboarding: its plan, where it stands, its report and its transfers.' })
class OffboardingNode {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { description: 'The leaver.' })
  userId!: string;

  @Field(() => ID)
  successorId!: string;

  @Field(() => String, { description: 'scheduled, suspended, deleted or cancelled.' })
  status!: string;

  @Field(() => Date)
  runAt!: Date;

  @Field(() => Date)
  deleteAt!: Date;

  @Field(() => GraphQLJSONObject, { description: 'What moves where (docs/offboarding.md, "The plan").' })
  plan!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'What the handover changed; null before it ran.' })
  report!: Record<string, unknown> | null;

  @Field(() => [TransferNode])
  transfers!: TransferNode[];
}

@ObjectType('OffboardingResult')
class OffboardingResultNode {
  @Field(() => Boolean)
  dryRun!: boolean;

  @Field(() => GraphQLJSONObject, { description: 'What moves where; a dry run returns only this.' })
  plan!: Record<string, unknown>;

  @Field(() => OffboardingNode, { nullable: true })
  offboarding!: OffboardingNode | null;
}

@InputType('OffboardAccountInput')
class OffboardInput {
  @Field(() => String, { description: 'The leaver: User id or userName.' })
  user!: string;

  @Field(() => String, { description: 'The successor: User id or userName.' })
  successor!: string;

  @Field(() => Date, { nullable: true, description: 'A scheduled leave; now when omitted.' })
  at?: Date | null;

  @Field(() => Int, { nullable: true, description: 'Days from the leave to the deletion, 0 to 3650 (default 30).' })
  graceDays?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'False: no group membership moves (default true).' })
  moveGroups?: boolean | null;

  @Field(() => [String], { nullable: true, description: 'Groups (id or displayName) that stay with the leaver.' })
  keepGroups?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Plan only: show what would move, where, and change nothing.' })
  dryRun?: boolean | null;
}

function json(value: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

function toNode(record: OffboardingRecord): OffboardingNode {
  return {
    id: record.id,
    userId: record.userId,
    successorId: record.successorId,
    status: record.status,
    runAt: record.runAt,
    deleteAt: record.deleteAt,
    plan: json(record.plan),
    report: record.report === null ? null : json(record.report),
    transfers: record.transfers.map((t) => ({ ...t })),
  };
}

function serviceOf(ctx: GraphqlContext): OffboardingService {
  const service = ctx.services.offboarding;
  if (!service) throw new MeridianError('UNAVAILABLE', 'Offboarding is not available on this hub.');
  return service;
}

@Resolver()
export class OffboardingResolver {
  @Mutation(() => OffboardingResultNode, {
    description:
      "Hands a leaver's groups, entitlements, roles, direct reports and owned objects to a successor, suspends the leaver and deletes it after the grace period (hr.write).",
  })
  async offboardAccount(
    @Arg('tenant', () => ID) tenant: string,
    @Arg('input', () => OffboardInput) input: OffboardInput,
    @Ctx() ctx: GraphqlContext,
  ): Promise<OffboardingResultNode> {
    const outcome = await serviceOf(ctx).offboard(
      ctx.principal,
      tenant,
      {
        user: input.user,
        successor: input.successor,
        at: input.at ?? undefined,
        graceDays: input.graceDays ?? undefined,
        policy: { moveGroups: input.moveGroups ?? true, keepGroups: input.keepGroups ?? [] },
        dryRun: input.dryRun ?? false,
      },
      contextOf(ctx),
    );
    return { dryRun: outcome.dryRun, plan: json(outcome.plan), offboarding: outcome.offboarding ? toNode(outcome.offboarding) : null };
  }

  @Mutation(() => OffboardingNode, {
    description: 'Cancels a scheduled or suspended offboarding (by its id, or the leaver’s id or userName).',
  })
  async cancelOffboarding(
    @Arg('tenant', () => ID) tenant: string,
    @Arg('user', () => String) user: string,
    @Ctx() ctx: GraphqlContext,
  ): Promise<OffboardingNode> {
    return toNode(await serviceOf(ctx).cancel(ctx.principal, tenant, user, contextOf(ctx)));
  }

  @Query(() => [OffboardingNode], { description: "The tenant's offboardings, newest first (hr.write)." })
  async offboardings(
    @Arg('tenant', () => ID) tenant: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Ctx() ctx: GraphqlContext,
  ): Promise<OffboardingNode[]> {
    return (await serviceOf(ctx).list(ctx.principal, tenant, first ?? 100)).map(toNode);
  }
}
