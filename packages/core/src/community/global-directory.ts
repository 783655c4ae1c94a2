import { MeridianError } from '../errors/meridian-error.js';
import { maxLengthOf, textProblem } from '../scim/input-limits.js';
import { SCHEMA } from '../scim/schemas.js';

/**
 * The global directory of a community (use case 3.4 of the SCIM use-cases
 * draft): every account of every office, grouped into people. This module is
 * the pure part: what an account contributes, how accounts correlate, and
 * which office's value wins for each attribute (docs/global-directory.md,
 * ADR 0015). The store applies it inside one transaction per change.
 */

/** The attributes a person has in the global directory, resolved from their accounts. */
export const PERSON_ATTRIBUTES = [
  'displayName',
  'givenName',
  'familyName',
  'email',
  'phoneNumber',
  'title',
  'department',
  'organization',
  'division',
  'costCenter',
  'employeeNumber',
  'manager',
] as const;

export type PersonAttribute = (typeof PERSON_ATTRIBUTES)[number];

/** What one account says about its person; absent attributes have no value. `manager` is the manager's user id in the account's tenant. */
export type AccountValues = Partial<Record<PersonAttribute, string>>;

/** The attributes correlation rules may match on. */
export const CORRELATION_ATTRIBUTES = ['employeeNumber', 'email', 'externalId', 'userName'] as const;

export type CorrelationAttribute = (typeof CORRELATION_ATTRIBUTES)[number];

/** Out of the box a community correlates accounts by the enterprise employeeNumber. */
export const DEFAULT_CORRELATION: readonly CorrelationAttribute[] = ['employeeNumber'];

/** A community's directory rules. */
export interface DirectoryRules {
  /** Attributes that link accounts to one person, in order of precedence; empty links nothing. */
  correlation: CorrelationAttribute[];
  /** Per attribute, the tenants (ids) whose value wins, first with a value first. */
  authority: Partial<Record<PersonAttribute, string[]>>;
}

/** An account as the correlation and authority rules see it. */
export interface AccountFacts {
  tenantId: string;
  userId: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  values: AccountValues;
  /** When the account joined the directory: the older account's value is listed first in a conflict. */
  linkedAt: Date;
}

/**
 * A value the directory can hold: a non-blank string within the attribute's
 * input limit. Every write path enforces the limits (input-limits.ts); values
 * stored before they existed may exceed them and would not fit the
 * directory's indexes, so they are left out rather than failing the
 * projection of the account on every attempt (issue 12).
 */
const str = (v: unknown, maxLength: number): string | undefined =>
  typeof v === 'string' && v.trim() !== '' && textProblem(v, maxLength) === undefined ? v.trim() : undefined;

/** Picks the primary element of a multi-valued attribute, else the first (RFC 7643 §2.4). */
function primaryValue(list: unknown, maxLength: number): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const items = list.filter(
    (e): e is Record<string, unknown> => typeof e === 'object' && e !== null && str(e.value, maxLength) !== undefined,
  );
  const chosen = items.find((e) => e.primary === true) ?? items.find((e) => e.type === 'work') ?? items[0];
  return chosen ? str(chosen.value, maxLength) : undefined;
}

/** The input limits of the values an account contributes (input-limits.ts), looked up once. */
let valueLimits: Record<Exclude<PersonAttribute, 'manager'> | 'formatted' | 'manager', number> | undefined;
function limits(): NonNullable<typeof valueLimits> {
  const user = (attribute: string) => maxLengthOf(SCHEMA.user, attribute);
  const ext = (attribute: string) => maxLengthOf(SCHEMA.enterpriseUser, attribute);
  valueLimits ??= {
    displayName: user('displayName'),
    formatted: user('name.formatted'),
    givenName: user('name.givenName'),
    familyName: user('name.familyName'),
    email: user('emails.value'),
    phoneNumber: user('phoneNumbers.value'),
    title: user('title'),
    department: ext('department'),
    organization: ext('organization'),
    division: ext('division'),
    costCenter: ext('costCenter'),
    employeeNumber: ext('employeeNumber'),
    manager: ext('manager.value'),
  };
  return valueLimits;
}

/** What a SCIM User (its stored attributes) contributes to its person: only the attributes it has a value for. */
export function accountValuesOf(attributes: Record<string, unknown>): AccountValues {
  const name = (attributes.name ?? {}) as Record<string, unknown>;
  const enterprise = (attributes[SCHEMA.enterpriseUser] ?? {}) as Record<string, unknown>;
  const manager = enterprise.manager;
  const limit = limits();
  const managerValue = typeof manager === 'object' && manager !== null ? (manager as Record<string, unknown>).value : manager;
  const values: AccountValues = {};
  const set = (attribute: PersonAttribute, value: string | undefined) => {
    if (value !== undefined) values[attribute] = value;
  };
  set('displayName', str(attributes.displayName, limit.displayName) ?? str(name.formatted, limit.formatted));
  set('givenName', str(name.givenName, limit.givenName));
  set('familyName', str(name.familyName, limit.familyName));
  set('email', primaryValue(attributes.emails, limit.email)?.toLowerCase());
  set('phoneNumber', primaryValue(attributes.phoneNumbers, limit.phoneNumber));
  set('title', str(attributes.title, limit.title));
  set('department', str(enterprise.department, limit.department));
  set('organization', str(enterprise.organization, limit.organization));
  set('division', str(enterprise.division, limit.division));
  set('costCenter', str(enterprise.costCenter, limit.costCenter));
  set('employeeNumber', str(enterprise.employeeNumber, limit.employeeNumber));
  set('manager', str(managerValue, limit.manager));
  return values;
}

/**
 * The correlation keys of an account under `rules`: `<attribute>:<normalised
 * value>`, in rule order. Accounts of one community that share a key are the
 * same person. Values compare case-insensitively, except employeeNumber and
 * externalId, which are identifiers and compare exactly.
 */
export function correlationKeys(
  account: Pick<AccountFacts, 'userName' | 'externalId' | 'values'>,
  rules: readonly CorrelationAttribute[],
): string[] {
  const keys: string[] = [];
  for (const rule of rules) {
    const raw =
      rule === 'employeeNumber'
        ? account.values.employeeNumber
        : rule === 'email'
          ? account.values.email
          : rule === 'externalId'
            ? (account.externalId ?? undefined)
            : account.userName;
    const value = raw?.trim();
    // A value stored before the input limits existed may be too long for the key index: it links nothing (issue 12).
    const limit =
      rule === 'externalId' ? maxLengthOf(undefined, 'externalId') : rule === 'userName' ? maxLengthOf(SCHEMA.user, 'userName') : Infinity;
    if (!value || textProblem(value, limit) !== undefined) continue;
    keys.push(`${rule}:${rule === 'employeeNumber' || rule === 'externalId' ? value : value.toLowerCase()}`);
  }
  return keys;
}

/** The attribute a correlation key was made from. */
export function ruleOfKey(key: string): CorrelationAttribute {
  return key.slice(0, key.indexOf(':')) as CorrelationAttribute;
}

/** A value an account proposes for an attribute that the rules could not settle. */
export interface ConflictCandidate {
  tenantId: string;
  userId: string;
  value: string;
}

/** The resolved attributes of a person. */
export interface ResolvedPerson {
  values: AccountValues;
  /** For each resolved attribute, the account whose value won. */
  sources: Partial<Record<PersonAttribute, { tenantId: string; userId: string }>>;
  /** Attributes whose accounts disagree and no rule decides: left empty on the person, listed for an admin. */
  conflicts: Partial<Record<PersonAttribute, ConflictCandidate[]>>;
  active: boolean;
}

/**
 * Resolves a person's attributes from their accounts. For each attribute, in
 * this order: the tenant an admin pinned for this person; the community's
 * authority rule (the first listed tenant with a value); the one value all
 * accounts that have one agree on. Otherwise the accounts disagree and no rule
 * decides: the attribute stays empty and a conflict lists every candidate
 * value — the directory never picks silently. A person is active when any of
 * their accounts is. Within one tenant, the most recently linked account
 * speaks for it.
 *
 * `managerPerson` maps a manager reference (tenant and user id) to the
 * manager's person, so that two offices naming different accounts of the same
 * manager agree.
 */
export function resolvePerson(
  accounts: readonly AccountFacts[],
  authority: DirectoryRules['authority'],
  pinned: Partial<Record<PersonAttribute, string>>,
  managerPerson: (tenantId: string, userId: string) => string | undefined,
): ResolvedPerson {
  const ordered = [...accounts].sort((a, b) => a.linkedAt.getTime() - b.linkedAt.getTime() || (a.userId < b.userId ? -1 : 1));
  const resolved: ResolvedPerson = { values: {}, sources: {}, conflicts: {}, active: ordered.some((a) => a.active) };
  for (const attribute of PERSON_ATTRIBUTES) {
    const candidates: ConflictCandidate[] = [];
    for (const account of ordered) {
      const raw = account.values[attribute];
      if (raw === undefined) continue;
      const value = attribute === 'manager' ? (managerPerson(account.tenantId, raw) ?? `${account.tenantId}/${raw}`) : raw;
      candidates.push({ tenantId: account.tenantId, userId: account.userId, value });
    }
    if (candidates.length === 0) continue;
    const fromTenant = (tenantId: string) => candidates.filter((c) => c.tenantId === tenantId).at(-1);
    let winner: ConflictCandidate | undefined;
    const pin = pinned[attribute];
    if (pin !== undefined) winner = fromTenant(pin);
    for (const tenantId of authority[attribute] ?? []) {
      if (winner) break;
      winner = fromTenant(tenantId);
    }
    if (!winner) {
      const distinct = new Set(candidates.map((c) => (attribute === 'displayName' ? c.value : c.value.toLowerCase())));
      if (distinct.size === 1) winner = candidates[0];
    }
    if (winner) {
      resolved.values[attribute] = winner.value;
      resolved.sources[attribute] = { tenantId: winner.tenantId, userId: winner.userId };
    } else {
      resolved.conflicts[attribute] = candidates;
    }
  }
  return resolved;
}

/** Validates correlation rules given by an admin; INVALID_INPUT names the field. */
export function parseCorrelationRules(input: readonly string[], field = 'correlation'): CorrelationAttribute[] {
  const seen = new Set<CorrelationAttribute>();
  for (const raw of input) {
    const rule = CORRELATION_ATTRIBUTES.find((a) => a.toLowerCase() === raw.trim().toLowerCase());
    if (!rule) {
      throw new MeridianError('INVALID_INPUT', `Unknown correlation attribute '${raw}'. Known: ${CORRELATION_ATTRIBUTES.join(', ')}.`, {
        field,
      });
    }
    if (seen.has(rule)) throw new MeridianError('INVALID_INPUT', `Correlation attribute '${rule}' is listed twice.`, { field });
    seen.add(rule);
  }
  return [...seen];
}

/** Validates a person attribute name given by an admin. */
export function parsePersonAttribute(raw: string, field = 'attribute'): PersonAttribute {
  const attribute = PERSON_ATTRIBUTES.find((a) => a.toLowerCase() === raw.trim().toLowerCase());
  if (!attribute) {
    throw new MeridianError('INVALID_INPUT', `Unknown person attribute '${raw}'. Known: ${PERSON_ATTRIBUTES.join(', ')}.`, { field });
  }
  return attribute;
}
