import {
  type Community,
  type DirectoryAccount,
  type DirectoryConflict,
  type DirectoryRulesView,
  isMeridianError,
  MeridianError,
  PERSON_ATTRIBUTES,
  type PeopleSortField,
  type Person,
  type PersonAttribute,
  type Principal,
} from '@meridian/core';
import type { Command } from 'commander';
import type { Runtime } from '../runtime/runtime.js';
import { CliUsageError, jsonOption } from './common.js';

// What the `directory` commands share: their common options, how an error
// names the option it is about, how `--authority` is read, and how people,
// accounts, conflicts and rules are printed.

export interface CommunityFlags {
  json?: boolean;
  community: string;
}

export const SORT_FIELDS: readonly PeopleSortField[] = ['displayName', 'familyName', 'employeeNumber', 'createdAt', 'updatedAt'];
/** Attributes a person shows; the manager is a person id of its own (`managerPersonId`). */
export const SHOWN_ATTRIBUTES = PERSON_ATTRIBUTES.filter((a): a is Exclude<PersonAttribute, 'manager'> => a !== 'manager');

/**
 * The option each service field stands for, so that an error about `field`
 * names what the user typed. A dotted field (`authority.0.tenants`) is looked
 * up whole, then by its first segment.
 */
type OptionNames = Record<string, string>;

const COMMON_OPTIONS: OptionNames = {
  community: '--community',
  tenant: '--tenant',
  account: '--account',
  person: '--person',
  attribute: '--attribute',
  first: '--first',
  after: '--after',
  cursor: '--after',
  filter: '--filter',
};

/** Runs `work`; a MeridianError about an input field comes back with the option's name in front of its message. */
export async function naming<T>(options: OptionNames, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isMeridianError(error) || error.field === undefined) throw error;
    const root = error.field.split('.')[0] ?? error.field;
    const option = options[error.field] ?? options[root] ?? COMMON_OPTIONS[error.field] ?? COMMON_OPTIONS[root];
    if (option === undefined || error.message.startsWith(option)) throw error;
    throw new MeridianError(error.code, `${option}: ${error.message}`, { field: error.field, cause: error });
  }
}

/** Rows of cells as columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Tenant slugs by id, for the community's tenants. */
export async function tenantSlugs(runtime: Runtime, principal: Principal, community: Community): Promise<Map<string, string>> {
  const page = await runtime.admin.listTenants(principal, { first: 500 }, community.id);
  return new Map(page.items.map((t) => [t.id, t.slug]));
}

/** An account as the CLI prints it: its tenant by slug, its User id (what `--account` takes). */
export function accountView(a: DirectoryAccount, slugs: Map<string, string>) {
  return {
    tenant: slugs.get(a.tenantId) ?? a.tenantId,
    userId: a.userId,
    userName: a.userName,
    link: a.link,
    pinned: a.pinned,
    active: a.active,
  };
}

export function conflictView(c: DirectoryConflict, slugs: Map<string, string>) {
  return {
    id: c.id,
    kind: c.kind,
    personId: c.personId,
    attribute: c.attribute,
    tenant: c.tenantId === null ? null : (slugs.get(c.tenantId) ?? c.tenantId),
    account: c.userId,
    candidates: c.candidates.map((candidate) =>
      'personId' in candidate
        ? { personId: candidate.personId, rule: candidate.rule }
        : { tenant: slugs.get(candidate.tenantId) ?? candidate.tenantId, account: candidate.userId, value: candidate.value },
    ),
    createdAt: c.createdAt,
  };
}

export function describeConflict(c: ReturnType<typeof conflictView>): string[] {
  if (c.kind === 'attribute') {
    const values = c.candidates.map((v) => ('value' in v ? `${v.tenant}=${v.value}` : '')).join(', ');
    return ['attribute', c.attribute ?? '-', `person ${c.personId}`, values];
  }
  const people = c.candidates.map((v) => ('rule' in v ? `${v.personId} (${v.rule})` : '')).join(', ');
  return ['correlation', '-', `account ${c.tenant}/${c.account}`, `matches ${people}`];
}

/** One person with their accounts and open conflicts. */
export async function personDetail(runtime: Runtime, principal: Principal, community: Community, person: Person) {
  const [accounts, conflicts, slugs] = await Promise.all([
    runtime.directory.store.accountsOfPeople(community.id, [person.id]),
    runtime.directory.store.conflicts(community.id, { first: 500, personIds: [person.id] }),
    tenantSlugs(runtime, principal, community),
  ]);
  const slug = (id: string) => slugs.get(id) ?? id;
  return {
    id: person.id,
    active: person.active,
    values: person.values,
    managerPersonId: person.managerPersonId,
    sources: Object.fromEntries(
      Object.entries(person.sources).map(([attribute, s]) => [attribute, { tenant: slug(s.tenantId), account: s.userId }]),
    ),
    pinned: Object.fromEntries(Object.entries(person.pinned).map(([attribute, tenantId]) => [attribute, slug(tenantId)])),
    conflictCount: person.conflictCount,
    version: person.version,
    createdAt: person.createdAt,
    updatedAt: person.updatedAt,
    accounts: accounts.map((a) => accountView(a, slugs)),
    conflicts: conflicts.items.map((c) => conflictView(c, slugs)),
  };
}

export function describePerson(p: Awaited<ReturnType<typeof personDetail>>): string {
  const conflicted = new Set(p.conflicts.map((c) => c.attribute));
  const values = SHOWN_ATTRIBUTES.flatMap((attribute) => {
    const value = p.values[attribute];
    if (value === undefined && !conflicted.has(attribute)) return [];
    const source = p.sources[attribute];
    const from = source ? `${source.tenant}${p.pinned[attribute] ? ' (pinned)' : ''}` : '';
    return [[`  ${attribute}`, value ?? '(conflict)', from]];
  });
  const accounts = p.accounts.map((a) => [`  ${a.tenant}`, a.userId, a.userName, `${a.link}${a.pinned ? ' (by hand)' : ''}`]);
  return [
    `Person ${p.id}${p.active ? '' : ' (inactive)'}${p.conflictCount ? `, ${p.conflictCount} conflict(s)` : ''}`,
    table(values),
    'Accounts:',
    table(accounts),
  ].join('\n');
}

export function describeRules(rules: DirectoryRulesView, community: Community): string {
  return `Rules of ${community.slug}:\n${table([
    ['  correlation', rules.correlation.join(', ') || '(none: accounts are never linked by the rules)'],
    ...rules.authority.map((a) => [`  authority ${a.attribute}`, a.tenants.join(', ')]),
  ])}`;
}

/** `--authority department=amer,emea` as the service takes it; `none` clears every authority rule. */
export function parseAuthority(rules: string[]): { attribute: string; tenants: string[] }[] {
  if (rules.length === 1 && rules[0] === 'none') return [];
  return rules.map((rule) => {
    const match = /^([^=]+)=(.+)$/.exec(rule.trim());
    if (!match)
      throw new CliUsageError(`--authority is <attribute>=<tenant>[,<tenant>…], e.g. department=amer,emea, or none; not '${rule}'.`);
    const tenants = (match[2] ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    return { attribute: (match[1] ?? '').trim(), tenants };
  });
}

/** `--community <community>` and `--json`, on every directory command. */
export const inCommunity = (command: Command): Command =>
  command.requiredOption('--community <community>', 'community slug or id').addOption(jsonOption());
