import { MeridianError } from '@meridian/core';

/** The constraint the membership trigger names when a new member would close a cycle (migration 20261207100000). */
const ACYCLIC_CONSTRAINT = 'group_member_acyclic';

/** The foreign keys from a membership to its member (migration 20261207100000). */
const MEMBER_KEYS = new Set(['group_member_member_user_fkey', 'group_member_member_group_fkey']);

/** Groups named in a cycle message before the rest is summarised. */
const NAMED_AT_MOST = 8;

interface PgFields {
  code: string;
  constraint?: string;
  detail?: string;
}

function pgFieldsOf(error: unknown): PgFields | undefined {
  let current: unknown = error;
  for (let i = 0; i < 5 && current; i++) {
    const candidate = current as { code?: unknown; constraint?: unknown; detail?: unknown; cause?: unknown };
    if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)) {
      return {
        code: candidate.code,
        ...(typeof candidate.constraint === 'string' ? { constraint: candidate.constraint } : {}),
        ...(typeof candidate.detail === 'string' ? { detail: candidate.detail } : {}),
      };
    }
    current = candidate.cause;
  }
  return undefined;
}

/** One group of a cycle, as the trigger reports it. */
export interface CycleStep {
  id: string;
  displayName: string | null;
}

function parseCycle(detail: string | undefined): CycleStep[] {
  try {
    const parsed = JSON.parse(detail ?? '') as unknown;
    if (Array.isArray(parsed)) {
      return parsed.flatMap((s: { id?: unknown; displayName?: unknown }) =>
        typeof s?.id === 'string' ? [{ id: s.id, displayName: typeof s.displayName === 'string' ? s.displayName : null }] : [],
      );
    }
  } catch {
    // Not from the trigger: no cycle to name.
  }
  return [];
}

/**
 * The message for a membership that would close a cycle. `cycle` runs from
 * the group that was to get the member, through the new member and the
 * groups inside it, back to that group: each one contains the next. Long
 * cycles name their first and last groups and count the rest.
 *
 * @example
 * cycleMessage([{ id: 'a1', displayName: 'A' }, { id: 'b2', displayName: 'B' }, { id: 'a1', displayName: 'A' }])
 * // "Group 'B' (b2) cannot be a member of group 'A' (a1): it would close a cycle of 2 groups, each containing the next: A > B > A."
 */
export function cycleMessage(cycle: readonly CycleStep[]): string {
  const [group, member] = cycle;
  if (!group || !member || group.id === member.id) return 'A group cannot be a member of itself.';
  const name = (s: CycleStep) => s.displayName ?? s.id;
  const named = (s: CycleStep) => `'${name(s)}' (${s.id})`;
  const half = NAMED_AT_MOST / 2;
  const names =
    cycle.length <= NAMED_AT_MOST
      ? cycle.map(name)
      : [...cycle.slice(0, half).map(name), `… ${cycle.length - NAMED_AT_MOST} more …`, ...cycle.slice(-half).map(name)];
  return (
    `Group ${named(member)} cannot be a member of group ${named(group)}: ` +
    `it would close a cycle of ${cycle.length - 1} groups, each containing the next: ${names.join(' > ')}.`
  );
}

/**
 * A membership insert that the database refused, with the member ids it
 * wrote. Under row-level security PostgreSQL does not say which key a foreign
 * key check missed, so the store looks the members up again, after the
 * rollback, to name the one a concurrent transaction deleted.
 */
export class MemberWriteError extends Error {
  constructor(
    readonly memberIds: readonly string[],
    options: { cause: unknown },
  ) {
    super('A membership insert was refused.', options);
    this.name = 'MemberWriteError';
  }
}

/** True when `error` is a member foreign key refusing a member that does not exist (any more). */
export function isMissingMember(error: unknown): boolean {
  const pg = pgFieldsOf(error);
  return pg?.code === '23503' && pg.constraint !== undefined && MEMBER_KEYS.has(pg.constraint);
}

/** The error for a member that is not a resource of the tenant; `id` is undefined when it is not known which. */
export function missingMember(id: string | undefined, cause?: unknown): MeridianError {
  const message = id === undefined ? 'A member does not exist in this tenant.' : `Member '${id}' does not exist in this tenant.`;
  return new MeridianError('INVALID_INPUT', message, { field: 'members', cause });
}

/**
 * Turns the trigger's refusal of a membership that would close a cycle
 * (`group_member_acyclic`) into INVALID_INPUT on `members`, naming the cycle.
 * Anything else is returned as it is.
 */
export function translateCycleError(error: unknown): unknown {
  if (error instanceof MeridianError) return error;
  const pg = pgFieldsOf(error);
  if (pg?.code === '23514' && pg.constraint === ACYCLIC_CONSTRAINT) {
    return new MeridianError('INVALID_INPUT', cycleMessage(parseCycle(pg.detail)), { field: 'members', cause: error });
  }
  return error;
}
