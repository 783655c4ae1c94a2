import type { DirectoryExport, DirectoryExportCounts, Principal, RequestContext } from '@meridian/core';
import { MeridianError } from '@meridian/core';
import { GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { contextOf } from './request-context.js';

/** What the resolvers need of the replication engine's directory exports. */
export interface DirectoryExportAdmin {
  create(
    principal: Principal,
    community: string | null | undefined,
    input: { name: string; kind: string; config?: Record<string, unknown> | undefined; secrets?: Record<string, string> | undefined },
    context: RequestContext,
  ): Promise<DirectoryExport>;
  list(principal: Principal, community?: string | null): Promise<{ exports: DirectoryExport[]; counts: DirectoryExportCounts[] }>;
  delete(principal: Principal, community: string | null | undefined, name: string, context: RequestContext): Promise<void>;
}

@ObjectType('DirectoryExportCounts', { description: 'Where the people of the community stand at one export.' })
class ExportCountsNode {
  @Field(() => Int)
  pending!: number;

  @Field(() => Int)
  synced!: number;

  @Field(() => Int, { description: 'People removed there after they left the directory.' })
  deleted!: number;

  @Field(() => Int, { description: 'Permanent failures; a change of the person tries again.' })
  failed!: number;
}

@ObjectType('DirectoryExport', {
  description: "A push of the community's global directory to an external directory, through a connector. Secrets are never returned.",
})
class DirectoryExportNode {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'The connector kind: scim, memory, ...' })
  kind!: string;

  @Field(() => GraphQLJSONObject)
  config!: Record<string, unknown>;

  @Field(() => [String], { description: 'Names of the secrets stored (encrypted).' })
  secretNames!: string[];

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => ExportCountsNode)
  counts!: ExportCountsNode;

  @Field(() => Date)
  createdAt!: Date;
}

@InputType('DirectoryExportInput')
class DirectoryExportInputType {
  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'A connector kind the hub knows (scim, memory, ...).' })
  kind!: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Connector config, e.g. { baseUrl } for scim.' })
  config?: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Secret values, e.g. { token }; stored encrypted, never returned.' })
  secrets?: Record<string, string>;
}

function toNode(e: DirectoryExport, counts?: DirectoryExportCounts): DirectoryExportNode {
  return {
    id: e.id,
    name: e.name,
    kind: e.kind,
    config: e.config,
    secretNames: e.secretNames,
    enabled: e.enabled,
    counts: { pending: counts?.pending ?? 0, synced: counts?.synced ?? 0, deleted: counts?.deleted ?? 0, failed: counts?.failed ?? 0 },
    createdAt: e.createdAt,
  };
}

function exportsOf(ctx: GraphqlContext): DirectoryExportAdmin {
  const admin = ctx.services.directoryExports;
  if (!admin) throw new MeridianError('UNAVAILABLE', 'Directory exports are not available in this process.');
  return admin;
}

@Resolver(() => DirectoryExportNode)
export class DirectoryExportResolver {
  @Query(() => [DirectoryExportNode], { description: "The community's directory exports, with where its people stand at each." })
  async directoryExports(@Ctx() ctx: GraphqlContext, @Arg('community', () => String, { nullable: true }) community?: string | null) {
    const { exports, counts } = await exportsOf(ctx).list(ctx.principal, community);
    return exports.map((e) =>
      toNode(
        e,
        counts.find((c) => c.exportId === e.id),
      ),
    );
  }

  @Mutation(() => DirectoryExportNode, {
    description:
      "Pushes the community's global directory to an external directory through a connector (community or platform admins); every person goes out once, then each change.",
  })
  async createDirectoryExport(
    @Ctx() ctx: GraphqlContext,
    @Arg('input', () => DirectoryExportInputType) input: DirectoryExportInputType,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    const created = await exportsOf(ctx).create(ctx.principal, community, input, contextOf(ctx));
    return toNode(created);
  }

  @Mutation(() => Boolean, { description: 'Stops a directory export and forgets its links; the objects it made there stay.' })
  async deleteDirectoryExport(
    @Ctx() ctx: GraphqlContext,
    @Arg('name', () => String, { description: 'Export name or id.' }) name: string,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    await exportsOf(ctx).delete(ctx.principal, community, name, contextOf(ctx));
    return true;
  }
}
