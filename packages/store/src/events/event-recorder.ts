import type { DomainEvent, RequestContext } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type AuditAppend, appendAuditEntry, auditAppendCall } from '../audit/append-audit-entry.js';
import { SCOPE_SETTING, TENANT_SETTING } from '../orm/sql.js';

/**
 * Writes one outbox event and one audit entry for a change, in the caller's
 * transaction and in one statement. Audit entries are hash-chained per tenant;
 * a transaction-scoped advisory lock serialises appends to one chain, and
 * `meridian_append_audit` takes it, reads the head and appends (ADR 0023).
 *
 * The transaction must be scoped to the event's tenant, or to the platform
 * (`inTenant` / `asPlatform`): the row-level security policies see the
 * chain head only there, and accept the rows only there. A platform event
 * (`tenantId: null`, the chain `''`) needs platform scope.
 */
export async function recordEvent(em: EntityManager, event: DomainEvent, context: RequestContext, now: Date): Promise<void> {
  checkScope(em, event);
  const statement = changeStatement(event, context, now);
  await em.execute(statement.sql, statement.params);
}

/** A data-modifying statement and its parameters (`?` placeholders). */
export interface WriteStatement {
  sql: string;
  params: unknown[];
  /**
   * A data-modifying statement that must be done before this one, in the same statement: it is the common table
   * expression `m1`, and `sql` refers to it (`(select count(*) from m1) >= 0`) so that PostgreSQL runs it first.
   */
  first?: { sql: string; params: unknown[] };
}

/** `write` alone, as one statement to run: with its {@link WriteStatement.first} in front when it has one. */
export function standalone(write: WriteStatement): { sql: string; params: unknown[] } {
  return write.first
    ? { sql: `with m1 as (${write.first.sql}) ${write.sql}`, params: [...write.first.params, ...write.params] }
    : { sql: write.sql, params: write.params };
}

/**
 * The one statement that writes a change's outbox event and audit entry, after `writes` (data-modifying statements,
 * such as the row the change creates) in the same statement: `with w1 as (…), outbox as (…) select seq from
 * meridian_append_audit(…)`. The caller runs it in the event's tenant (or platform) scope.
 */
export function changeStatement(event: DomainEvent, context: RequestContext, now: Date, writes: WriteStatement[] = []): WriteStatement {
  return changeWith(event, context, now, writes);
}

/**
 * The one statement of a change whose write must touch exactly one row (an update at the version that was read): as
 * {@link changeStatement}, and its first column says how many rows that write touched, for
 * `meridian_update_in_tenant` to undo the whole statement when it is not one.
 */
export function checkedChangeStatement(event: DomainEvent, context: RequestContext, now: Date, write: WriteStatement): WriteStatement {
  // The audit entry is appended after the update, from the count of what it wrote (a lateral reference): the row's
  // lock before the chain's, as a transaction that updates and then records takes them. In the other order two such
  // writers deadlock.
  return changeWith(
    event,
    context,
    now,
    [write],
    (audit) =>
      `select w.written, a.seq from (select count(*) as written from w1) w cross join lateral (select seq from ${audit} where w.written = 1) a`,
  );
}

/**
 * The event's arguments of `meridian_create_user_in_tenant` (migration 20261211000000), after the row's: the outbox
 * event's columns but its tenant (the function's), then `meridian_append_audit`'s. The event must be of the tenant the
 * call is made in.
 */
export function changeArguments(event: DomainEvent, context: RequestContext, now: Date): unknown[] {
  return eventArguments(event, context, now, auditAppendCall(auditOf(event, context), now));
}

function eventArguments(event: DomainEvent, context: RequestContext, now: Date, audit: { params: unknown[] }): unknown[] {
  return [
    event.type,
    event.resourceType,
    event.resourceId,
    event.version ?? null,
    context.requestId,
    now,
    membersDeltaOf(event),
    ...audit.params,
  ];
}

function changeWith(
  event: DomainEvent,
  context: RequestContext,
  now: Date,
  writes: WriteStatement[],
  select: (audit: string) => string = (audit) => `select seq from ${audit}`,
): WriteStatement {
  const audit = auditAppendCall(auditOf(event, context), now);
  if (writes.filter((w) => w.first).length > 1) throw new TypeError('One statement holds one write with a first statement (m1) at most.');
  const firsts = writes.flatMap((w) => (w.first ? [w.first] : []));
  const ctes = [...firsts.map((f) => `m1 as (${f.sql})`), ...writes.map((w, i) => `w${i + 1} as (${w.sql})`)];
  return {
    sql: `with ${[...ctes, 'outbox as (insert into outbox_event (tenant_id, type, resource_type, resource_id, resource_version, request_id, created_at, members_delta) values (?, ?, ?, ?, ?, ?, ?, ?::jsonb))'].join(',\n  ')}
     ${select(audit.sql)}`,
    params: [
      ...firsts.flatMap((f) => f.params),
      ...writes.flatMap((w) => w.params),
      event.tenantId,
      ...eventArguments(event, context, now, audit),
    ],
  };
}

/**
 * What a Group update did to its members, for replication to push as a delta
 * (ADR 0024): the `membersAdded` / `membersRemoved` of its diff, empty when it
 * left them alone. Null for anything else (a create or a replace: pushed whole).
 */
function membersDeltaOf(event: DomainEvent): string | null {
  if (event.resourceType !== 'Group' || event.type !== 'group.updated') return null;
  const after = (event.after ?? {}) as Record<string, unknown>;
  const ids = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
  return JSON.stringify({ added: ids(after.membersAdded), removed: ids(after.membersRemoved) });
}

/**
 * Writes the audit entry of an event and no outbox row, in the caller's
 * transaction (scoped as for {@link recordEvent}): for what nothing after the
 * commit acts on, a delivery's result (`replication.delivered`,
 * `replication.dead_lettered`), which the relay would only mark dispatched.
 */
export async function auditEvent(em: EntityManager, event: DomainEvent, context: RequestContext, now: Date): Promise<void> {
  checkScope(em, event);
  await appendEventAudit(em, event, context, now);
}

function checkScope(em: EntityManager, event: DomainEvent): void {
  // A fork of forkForTenant / forkForPlatform knows its scope: a mismatch is a programming error. Without one, the policies decide.
  const scope = em.getSessionContext()?.variables;
  if (scope && scope[SCOPE_SETTING] !== 'platform' && (event.tenantId === null || scope[TENANT_SETTING] !== event.tenantId)) {
    throw new TypeError(`A ${event.type} event must be recorded in a transaction scoped to its tenant or to the platform.`);
  }
}

async function appendEventAudit(em: EntityManager, event: DomainEvent, context: RequestContext, now: Date): Promise<void> {
  await appendAuditEntry(em, auditOf(event, context), now);
}

/** The audit entry of an event. */
export function auditOf(event: DomainEvent, context: RequestContext): AuditAppend {
  return {
    chain: event.tenantId ?? '',
    tenantId: event.tenantId,
    actorType: context.actor.type,
    actorId: context.actor.id,
    action: event.type,
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    requestId: context.requestId,
    sourceAddress: context.sourceAddress ?? null,
    diff: event.before === undefined && event.after === undefined ? null : { before: event.before ?? null, after: event.after ?? null },
  };
}
