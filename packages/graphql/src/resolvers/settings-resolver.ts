import type { SchemaExtension } from '@meridian/core';
import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { TenantNode } from '../types/objects.js';
import { SchemaExtensionInput, SchemaExtensionNode, SelfServicePolicyNode } from '../types/schema-extension.js';
import { contextOf } from './request-context.js';

/** Input objects carry no prototype-less surprises into the core: copy them to plain JSON. */
function plain(input: SchemaExtensionInput): unknown {
  return JSON.parse(JSON.stringify(input));
}

function toNode(extension: SchemaExtension): SchemaExtensionNode {
  return extension as unknown as SchemaExtensionNode;
}

/** Per-tenant settings: custom schema extensions and the self-service policy (`settings.read`, `settings.write`). */
@Resolver(() => TenantNode)
export class TenantSettingsResolver {
  @FieldResolver(() => [SchemaExtensionNode], { description: "The tenant's custom SCIM schema extensions." })
  async schemaExtensions(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    return (await ctx.services.settings.extensionsFor(ctx.principal, tenant)).map(toNode);
  }

  @FieldResolver(() => SelfServicePolicyNode, { description: 'What end users may change on their own User through /Me.' })
  async selfServicePolicy(@Root() tenant: TenantNode, @Ctx() ctx: GraphqlContext) {
    return ctx.services.settings.selfServicePolicyFor(ctx.principal, tenant);
  }

  @Mutation(() => SchemaExtensionNode, { description: 'Declares a custom schema extension for a tenant (slug or id).' })
  async createSchemaExtension(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('extension', () => SchemaExtensionInput) extension: SchemaExtensionInput,
  ) {
    return toNode(await ctx.services.settings.declareExtension(ctx.principal, tenant, plain(extension), contextOf(ctx)));
  }

  @Mutation(() => Boolean, { description: 'Removes a schema extension that no resource carries any more.' })
  async deleteSchemaExtension(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('id', () => String) id: string,
  ) {
    await ctx.services.settings.removeExtension(ctx.principal, tenant, id, contextOf(ctx));
    return true;
  }

  @Mutation(() => SelfServicePolicyNode, { description: 'Sets which User attributes end users may change through /Me.' })
  async setSelfServicePolicy(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('editableAttributes', () => [String]) editableAttributes: string[],
  ) {
    return ctx.services.settings.changeSelfServicePolicy(ctx.principal, tenant, editableAttributes, contextOf(ctx));
  }
}
