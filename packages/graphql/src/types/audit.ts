import type { AuditBreakKind } from '@meridian/core';
import { GraphQLJSON } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './objects.js';

/** GraphQL enum values are upper case; each maps to the core's break kind. */
const AuditBreakKindEnum: Record<string, AuditBreakKind> = {
  MODIFIED: 'modified',
  DELETED: 'deleted',
  INSERTED: 'inserted',
  REORDERED: 'reordered',
  RENUMBERED: 'renumbered',
  TRUNCATED: 'truncated',
  FORGED_CHECKPOINT: 'forged_checkpoint',
};

registerEnumType(AuditBreakKindEnum, {
  name: 'AuditBreakKind',
  description: 'What is wrong with a stretch of an audit chain (docs/audit.md).',
  valuesConfig: {
    MODIFIED: { description: "An entry's content no longer matches its hash, or its hash was recomputed." },
    DELETED: { description: 'Entries are missing; numbered as they were written.' },
    INSERTED: { description: 'An entry that does not belong to the chain.' },
    REORDERED: { description: 'Genuine entries whose seq values were swapped or moved.' },
    RENUMBERED: { description: 'Genuine entries, in order, whose seq values were shifted.' },
    TRUNCATED: { description: 'The chain ends before a signed checkpoint, or no longer has the hash it signed.' },
    FORGED_CHECKPOINT: { description: 'A checkpoint whose signature does not verify.' },
  },
});

@ObjectType('AuditEvent', { description: 'One audit log entry, hash-chained to the previous entry of its chain.' })
export class AuditEventNode {
  @Field(() => ID, { description: '`<chain>:<seq>`; the chain is the tenant id, empty for the platform chain.' })
  id!: string;

  @Field(() => String, { description: 'The tenant id, or the empty string for the platform chain.' })
  chain!: string;

  @Field(() => Int, { description: 'Position in the chain, from 1.' })
  seq!: number;

  @Field(() => ID, { nullable: true })
  tenantId!: string | null;

  @Field(() => String, { description: 'token, cli, system, or anonymous (an authentication failure).' })
  actorType!: string;

  @Field(() => String)
  actorId!: string;

  @Field(() => String, { description: 'The event type, e.g. user.created, auth.failed, audit.pruned.' })
  action!: string;

  @Field(() => String)
  resourceType!: string;

  @Field(() => String)
  resourceId!: string;

  @Field(() => String)
  requestId!: string;

  @Field(() => String, { nullable: true })
  sourceAddress!: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: '{ before, after } with secrets redacted.' })
  diff!: Record<string, unknown> | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => String)
  prevHash!: string;

  @Field(() => String, { description: 'SHA-256 (hex) over the RFC 8785 canonical JSON of the other fields.' })
  hash!: string;
}

@ObjectType('AuditEventEdge')
export class AuditEventEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => AuditEventNode)
  node!: AuditEventNode;
}

@ObjectType('AuditEventConnection')
export class AuditEventConnection {
  @Field(() => Int)
  totalCount!: number;

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => [AuditEventEdge])
  edges!: AuditEventEdge[];
}

@ObjectType('AuditBreak', { description: 'One break in an audit chain; fromSeq..toSeq is inclusive.' })
export class AuditBreakNode {
  @Field(() => AuditBreakKindEnum)
  kind!: AuditBreakKind;

  @Field(() => Int)
  fromSeq!: number;

  @Field(() => Int)
  toSeq!: number;

  @Field(() => String, { description: 'e.g. "entries 12-13 deleted".' })
  message!: string;
}

@ObjectType('AuditCheckpoint', { description: 'A signed statement that a chain reached seq with hash.' })
export class AuditCheckpointNode {
  @Field(() => Int)
  seq!: number;

  @Field(() => String)
  hash!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => String)
  keyId!: string;
}

@ObjectType('AuditVerification', { description: 'The result of verifying one audit chain.' })
export class AuditVerificationNode {
  @Field(() => String, { description: 'The tenant id, or the empty string for the platform chain.' })
  chain!: string;

  @Field(() => String, { nullable: true, description: "The tenant's slug; null for the platform chain." })
  tenant!: string | null;

  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => Int)
  entriesChecked!: number;

  @Field(() => Int, { nullable: true })
  lastSeq!: number | null;

  @Field(() => AuditCheckpointNode, { nullable: true, description: 'The latest checkpoint with a valid signature.' })
  lastCheckpoint!: AuditCheckpointNode | null;

  @Field(() => AuditCheckpointNode, { nullable: true, description: 'Where verification started after a retention prune.' })
  anchor!: AuditCheckpointNode | null;

  @Field(() => [AuditBreakNode])
  breaks!: AuditBreakNode[];
}
