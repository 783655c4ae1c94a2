import type { AuditEntry, ChainVerification, CheckpointSummary } from '@meridian/core';
import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { AuditCheckpointNode, AuditEventConnection, AuditEventNode, AuditVerificationNode } from '../types/audit.js';
import { toConnection } from './mapping.js';

function toEventNode(entry: AuditEntry): AuditEventNode {
  return Object.assign(new AuditEventNode(), { ...entry, id: `${entry.chain}:${entry.seq}` });
}

function toCheckpointNode(checkpoint: CheckpointSummary | null): AuditCheckpointNode | null {
  return checkpoint === null ? null : Object.assign(new AuditCheckpointNode(), checkpoint);
}

function toVerificationNode(result: ChainVerification): AuditVerificationNode {
  return Object.assign(new AuditVerificationNode(), {
    chain: result.chain,
    tenant: result.tenantSlug,
    ok: result.ok,
    entriesChecked: result.entriesChecked,
    lastSeq: result.lastSeq,
    lastCheckpoint: toCheckpointNode(result.lastCheckpoint),
    anchor: toCheckpointNode(result.anchor),
    breaks: result.breaks,
  });
}

/** The audit log for auditors: a tenant token reads its own tenant, the platform admin any tenant or the platform chain. */
@Resolver()
export class AuditResolver {
  @Query(() => AuditEventConnection, {
    description:
      "Audit entries of one chain, oldest first: a tenant (slug or id; a tenant token's own when omitted) or, for the platform admin, the platform chain when omitted. Filters narrow; `until` is exclusive.",
  })
  async auditEvents(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String, { nullable: true }) tenant?: string | null,
    @Arg('actor', () => String, { nullable: true, description: 'An actor id, or <type>:<id> (token:…, cli:…).' }) actor?: string | null,
    @Arg('resourceType', () => String, { nullable: true }) resourceType?: string | null,
    @Arg('resourceId', () => String, { nullable: true }) resourceId?: string | null,
    @Arg('action', () => String, { nullable: true }) action?: string | null,
    @Arg('since', () => Date, { nullable: true }) since?: Date | null,
    @Arg('until', () => Date, { nullable: true }) until?: Date | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ) {
    const page = await ctx.services.audit.events(
      ctx.principal,
      tenant,
      {
        actor: actor ?? undefined,
        resourceType: resourceType ?? undefined,
        resourceId: resourceId ?? undefined,
        action: action ?? undefined,
        since: since ?? undefined,
        until: until ?? undefined,
      },
      { first: first ?? 50, after: after ?? undefined },
    );
    return toConnection(page, toEventNode);
  }

  @Query(() => AuditVerificationNode, {
    description:
      'Recomputes the hash chain of one tenant (or, for the platform admin, the platform chain) and checks its signed checkpoints; names each modified, deleted, inserted or reordered entry.',
  })
  async auditVerification(@Ctx() ctx: GraphqlContext, @Arg('tenant', () => String, { nullable: true }) tenant?: string | null) {
    return toVerificationNode(await ctx.services.audit.verification(ctx.principal, tenant));
  }
}
