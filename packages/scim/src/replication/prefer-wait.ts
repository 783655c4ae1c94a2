import { type DeliveryWaiting, MAX_REPLICATION_WAIT_SECONDS, type ReplicationOutcome } from '@meridian/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * How the SCIM plugin waits for downstream results (use case 2.3.1), through
 * core's {@link DeliveryWaiting} port; the hub passes the replication engine.
 * The tenant is the one the write was made in, by the authenticated principal.
 */
export interface ReplicationWaitOptions {
  /** Waits up to `timeoutMs` for the deliveries of what request `requestId` changed. */
  waitFor: DeliveryWaiting['waitFor'];
  /** The tenant's policy: seconds to wait when the client sends no `Prefer: wait` (0: answer at once). */
  defaultWaitSeconds?: DeliveryWaiting['waitPolicy'];
  /** The longest wait honoured, in seconds (default and upper bound: core's `MAX_REPLICATION_WAIT_SECONDS`, the wait policy's limit too). */
  maxWaitSeconds?: number;
}

/** The extension a waited-for response body carries (its URN is added to `schemas`). */
const REPLICATION_OUTCOME_URN = 'urn:meridian:params:scim:schemas:extension:replication:2.0:Outcome';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const RESOURCE_PATH = /\/(Users|Groups|Bulk|Me)(\/[^/?]*)?(\?|$)/;

/**
 * The `wait` preference of RFC 7240 §4.3 (`Prefer: wait=10`, possibly among
 * other preferences, in one or more headers); undefined when absent or invalid.
 *
 * @example
 * parsePreferWait('return=minimal, wait=5') // 5
 */
function parsePreferWait(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  for (const value of Array.isArray(header) ? header : [header]) {
    for (const preference of value.split(',')) {
      const match = /^\s*wait\s*=\s*"?(\d{1,6})"?\s*(;.*)?$/i.exec(preference);
      if (match) return Number(match[1]);
    }
  }
  return undefined;
}

/** An RFC 8941 string: quotes and backslashes escaped, nothing outside printable ASCII. */
function sfString(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** `Meridian-Replication`: one member per (target, resource) with its status, as an RFC 8941 list. */
function formatReplicationHeader(outcome: ReplicationOutcome): string {
  return outcome.outcomes
    .map(
      (o) =>
        `${sfString(o.target)};target=${sfString(o.targetId)};resource=${sfString(o.resourceId)};status=${o.status.replace(/[^a-z_]/g, '')}`,
    )
    .join(', ');
}

function tenantOf(request: FastifyRequest): string | undefined {
  return (request as FastifyRequest & { scimPrincipal?: { tenantId: string } }).scimPrincipal?.tenantId;
}

/**
 * After a SCIM write commits, waits (bounded) for its deliveries when the
 * client sent `Prefer: wait=N` (RFC 7240) or the tenant's policy says so, and
 * reports per target: `Preference-Applied: wait=N`, `Meridian-Replication-Complete`,
 * `Meridian-Replication` (per target and resource), and in a resource body the
 * extension {@link REPLICATION_OUTCOME_URN}. The write itself is done either
 * way: a timeout only means some deliveries are still pending.
 */
export function registerPreferWait(app: FastifyInstance, options: ReplicationWaitOptions): void {
  const max = Math.min(options.maxWaitSeconds ?? MAX_REPLICATION_WAIT_SECONDS, MAX_REPLICATION_WAIT_SECONDS);
  app.addHook('onSend', async (request, reply, payload) => {
    if (!WRITES.has(request.method) || reply.statusCode < 200 || reply.statusCode >= 300) return payload;
    // Answered 202 for `Prefer: respond-async`: the outcome goes to the caller's stream instead (prefer-async.ts).
    if (request.scimAsync !== undefined) return payload;
    if (!RESOURCE_PATH.test(request.url)) return payload;
    const tenantId = tenantOf(request);
    if (tenantId === undefined) return payload;
    const asked = parsePreferWait(request.headers.prefer);
    const seconds = Math.min(max, asked ?? (await options.defaultWaitSeconds?.(tenantId)) ?? 0);
    if (seconds <= 0) return payload;
    const outcome = await options.waitFor(tenantId, request.id, seconds * 1000);
    if (asked !== undefined) reply.header('preference-applied', `wait=${seconds}`);
    reply.header('meridian-replication-complete', String(outcome.complete));
    if (outcome.outcomes.length > 0) reply.header('meridian-replication', formatReplicationHeader(outcome));
    if (typeof payload !== 'string' || payload === '' || /\/Bulk/.test(request.url)) return payload;
    try {
      const body = JSON.parse(payload) as Record<string, unknown>;
      if (typeof body !== 'object' || body === null || !Array.isArray(body.schemas)) return payload;
      body.schemas = [...(body.schemas as string[]), REPLICATION_OUTCOME_URN];
      body[REPLICATION_OUTCOME_URN] = {
        complete: outcome.complete,
        waitedMs: outcome.waitedMs,
        targets: outcome.outcomes.map((o) => ({
          target: o.target,
          targetId: o.targetId,
          status: o.status,
          ...(o.remoteId !== null ? { remoteId: o.remoteId } : {}),
          ...(o.error !== null && o.status !== 'synced' ? { error: o.error } : {}),
        })),
      };
      return JSON.stringify(body);
    } catch {
      return payload;
    }
  });
}
