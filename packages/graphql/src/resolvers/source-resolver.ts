import type { FirstSignInPull, InboundSource, SourceService, SourceSyncResult } from '@meridian/core';
import { MeridianError } from '@meridian/core';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, Field, Float, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { contextOf } from './request-context.js';

// Inbound sources of a tenant (issues 16 and 18, docs/sources.md): the office's own directory (LDAP or
// SCIM) that the hub follows. Read with `replication.read`, managed with `replication.manage`, as targets.

@ObjectType('InboundSourceCounts', { description: 'What one sync did.' })
class InboundSourceCountsNode {
  @Field(() => Boolean, { description: 'A full comparison (finds deletions), or an incremental read.' })
  full!: boolean;

  @Field(() => Int)
  read!: number;

  @Field(() => Int)
  created!: number;

  @Field(() => Int)
  updated!: number;

  @Field(() => Int)
  deleted!: number;

  @Field(() => Int)
  unchanged!: number;

  @Field(() => Int)
  failed!: number;
}

@ObjectType('InboundSource', { description: 'A directory an office keeps and the hub follows; its secrets are never shown.' })
class InboundSourceNode {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  tenantId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'ldap or scim.' })
  kind!: string;

  @Field(() => GraphQLJSONObject, { description: 'The source config (URL, base DN, filter, mapping, firstSignIn, ...); no secrets.' })
  config!: Record<string, unknown>;

  @Field(() => [String], { description: 'The names of the stored secrets (bindPassword, token), never their values.' })
  secretNames!: string[];

  @Field(() => Float, { description: 'A sync that would delete more than this share (percent) of the accounts stops.' })
  deletionThresholdPercent!: number;

  @Field(() => Int, { description: 'A full comparison at least this often (seconds).' })
  fullSyncIntervalSeconds!: number;

  @Field(() => Int, { nullable: true, description: 'A worker syncs the source this often (seconds); null: only on demand.' })
  syncIntervalSeconds!: number | null;

  @Field(() => Date, { nullable: true })
  lastSyncAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastFullSyncAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'applied, needs_confirmation or failed; null before the first sync.' })
  lastSyncStatus!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the last sync failed or stopped.' })
  lastSyncError!: string | null;

  @Field(() => InboundSourceCountsNode, { nullable: true })
  lastSyncCounts!: InboundSourceCountsNode | null;

  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType('InboundSourcePlanItem', { description: 'One change of a sync, planned or applied.' })
class InboundSourcePlanItemNode {
  @Field(() => String, { description: 'create, update or delete.' })
  action!: string;

  @Field(() => String, { description: "The entry's stable id at the source (LDAP entryUUID, SCIM id)." })
  remoteId!: string;

  @Field(() => String, { nullable: true, description: 'Where the entry lives at the source (its DN or URL).' })
  location!: string | null;

  @Field(() => String, { nullable: true })
  userName!: string | null;

  @Field(() => ID, { nullable: true, description: 'The hub account it feeds.' })
  resourceId!: string | null;
}

@ObjectType('InboundSourceFailure', { description: 'An account a sync could not write; the next sync tries it again.' })
class InboundSourceFailureNode {
  @Field(() => String)
  remoteId!: string;

  @Field(() => String)
  code!: string;

  @Field(() => String)
  message!: string;
}

@ObjectType('InboundSourceSyncResult', { description: 'The outcome of a sync (or its plan, in a dry run).' })
class InboundSourceSyncResultNode {
  @Field(() => ID)
  sourceId!: string;

  @Field(() => String, { description: 'planned (a dry run), applied, or needs_confirmation (the deletion threshold stopped it).' })
  status!: string;

  @Field(() => Boolean)
  dryRun!: boolean;

  @Field(() => Boolean)
  full!: boolean;

  @Field(() => Int)
  read!: number;

  @Field(() => Int)
  unchanged!: number;

  @Field(() => Int)
  created!: number;

  @Field(() => Int)
  updated!: number;

  @Field(() => Int)
  deleted!: number;

  @Field(() => [InboundSourcePlanItemNode])
  items!: InboundSourcePlanItemNode[];

  @Field(() => [InboundSourceFailureNode])
  failed!: InboundSourceFailureNode[];
}

@ObjectType('FirstSignInPreview', { description: 'What a pull at first sign-in would create for one person (nothing is written).' })
class FirstSignInPreviewNode {
  @Field(() => ID)
  sourceId!: string;

  @Field(() => String, { description: 'The attribute compared at the source.' })
  lookupAttribute!: string;

  @Field(() => String)
  lookupValue!: string;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The SCIM User the pull would create; null: the sign-in would be refused.',
  })
  wouldCreate!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  remoteId!: string | null;
}

@InputType('InboundSourceInput', { description: 'A source to create.' })
class InboundSourceInputType {
  @Field(() => String, { description: 'Unique in the tenant.' })
  name!: string;

  @Field(() => String, { description: 'ldap or scim.' })
  kind!: string;

  @Field(() => GraphQLJSONObject, { description: 'ldap: { url, bindDn, baseDn, filter?, ... }; scim: { baseUrl, ... }; firstSignIn?.' })
  config!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'ldap: { bindPassword }; scim: { token }. Stored encrypted, never shown again.' })
  secrets!: Record<string, string>;

  @Field(() => Float, { nullable: true })
  deletionThresholdPercent?: number;

  @Field(() => Int, { nullable: true })
  fullSyncIntervalSeconds?: number;

  @Field(() => Int, { nullable: true, description: 'A worker syncs the source this often (60 or more); absent: only on demand.' })
  syncIntervalSeconds?: number;
}

@InputType('InboundSourceChangesInput', { description: 'What to change on a source; an absent field stays as it is.' })
class InboundSourceChangesInputType {
  @Field(() => Float, { nullable: true })
  deletionThresholdPercent?: number;

  @Field(() => Int, { nullable: true })
  fullSyncIntervalSeconds?: number;

  @Field(() => Int, { nullable: true, description: 'Seconds between scheduled syncs.' })
  syncIntervalSeconds?: number;

  @Field(() => Boolean, { nullable: true, description: 'true ends the schedule: the source syncs only on demand.' })
  unschedule?: boolean;
}

function sources(ctx: GraphqlContext): SourceService {
  if (!ctx.services.sources) throw new MeridianError('UNAVAILABLE', 'Inbound sources are not available on this hub.');
  return ctx.services.sources;
}

const toNode = (s: InboundSource): InboundSourceNode => ({ ...s });

const toResult = (r: SourceSyncResult): InboundSourceSyncResultNode => ({ ...r });

@Resolver()
export class InboundSourceResolver {
  @Query(() => [InboundSourceNode], { description: "A tenant's inbound sources (docs/sources.md)." })
  async inboundSources(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String) tenant: string) {
    return (await sources(ctx).list(ctx.principal, tenant)).map(toNode);
  }

  @Query(() => InboundSourceNode, { description: 'One inbound source, by id or name.' })
  async inboundSource(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('source', () => String) source: string,
  ) {
    return toNode(await sources(ctx).get(ctx.principal, tenant, source));
  }

  @Mutation(() => InboundSourceNode, { description: 'Adds an inbound source; its secrets are stored encrypted and never shown.' })
  async createInboundSource(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('input', () => InboundSourceInputType) input: InboundSourceInputType,
  ) {
    return toNode(await sources(ctx).create(ctx.principal, tenant, { ...input }, contextOf(ctx)));
  }

  @Mutation(() => InboundSourceNode, { description: "Changes a source's schedule, full-sync interval or deletion threshold." })
  async updateInboundSource(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('source', () => String) source: string,
    @Arg('changes', () => InboundSourceChangesInputType) changes: InboundSourceChangesInputType,
  ) {
    if (changes.unschedule && changes.syncIntervalSeconds !== undefined && changes.syncIntervalSeconds !== null) {
      throw new MeridianError('INVALID_INPUT', "Give either 'syncIntervalSeconds' or 'unschedule', not both.", { field: 'unschedule' });
    }
    const { unschedule, ...rest } = changes;
    const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== null));
    return toNode(
      await sources(ctx).update(
        ctx.principal,
        tenant,
        source,
        unschedule ? { ...given, syncIntervalSeconds: null } : given,
        contextOf(ctx),
      ),
    );
  }

  @Mutation(() => Boolean, { description: 'Removes a source and its links; the accounts it fed stay.' })
  async deleteInboundSource(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('source', () => String) source: string,
  ) {
    await sources(ctx).delete(ctx.principal, tenant, source, contextOf(ctx));
    return true;
  }

  @Mutation(() => InboundSourceSyncResultNode, {
    description: 'Syncs a source now: everything the first time and at the full-sync interval, else what changed; dryRun writes nothing.',
  })
  async syncInboundSource(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('source', () => String) source: string,
    @Arg('dryRun', () => Boolean, { defaultValue: false }) dryRun: boolean,
    @Arg('confirmDeletes', () => Boolean, { defaultValue: false }) confirmDeletes: boolean,
    @Arg('full', () => Boolean, { defaultValue: false }) full: boolean,
  ) {
    return toResult(await sources(ctx).sync(ctx.principal, tenant, source, { dryRun, confirmDeletes, full }));
  }

  @Mutation(() => FirstSignInPreviewNode, {
    description: 'A dry run of one pull at first sign-in: what the source would create for a person. Nothing is written.',
  })
  async testInboundSource(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('source', () => String) source: string,
    @Arg('subject', () => String, { nullable: true }) subject?: string,
    @Arg('email', () => String, { nullable: true }) email?: string,
    @Arg('userName', () => String, { nullable: true }) userName?: string,
  ) {
    const pull: FirstSignInPull | undefined = ctx.services.firstSignIn;
    if (!pull) throw new MeridianError('UNAVAILABLE', 'Pulls at first sign-in are not available on this hub.');
    const found = await sources(ctx).getManaged(ctx.principal, tenant, source);
    const preview = await pull.preview(found, { subject: subject ?? '', email: email ?? undefined, userName: userName ?? undefined });
    return {
      sourceId: preview.sourceId,
      lookupAttribute: preview.lookup.attribute,
      lookupValue: preview.lookup.value,
      wouldCreate: preview.wouldCreate,
      remoteId: preview.remoteId,
    };
  }
}
