import { describe, expect, it } from '@jest/globals';
import { type AccountFacts, type AccountValues, type DirectoryRules, type PersonAttribute, resolvePerson } from './global-directory.js';

const A = 'tenant-a';
const B = 'tenant-b';
const C = 'tenant-c';

function facts(tenantId: string, userId: string, values: AccountValues, minute: number): AccountFacts {
  return {
    tenantId,
    userId,
    userName: userId,
    externalId: null,
    active: true,
    values,
    linkedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)),
  };
}

const a1 = facts(A, 'a1', { title: 'Engineer', displayName: 'Ada Lovelace' }, 0);
const b1 = facts(B, 'b1', { title: 'Nurse', displayName: 'ada lovelace' }, 1);
const c1 = facts(C, 'c1', { displayName: 'Ada Lovelace' }, 2);

describe('resolvePerson: which value an attribute takes', () => {
  const cases: {
    rule: string;
    accounts: AccountFacts[];
    attribute: PersonAttribute;
    authority?: DirectoryRules['authority'];
    pinned?: Partial<Record<PersonAttribute, string>>;
    value: string | undefined;
    source?: { tenantId: string; userId: string };
    conflict?: string[];
  }[] = [
    {
      rule: 'the pinned tenant wins over the authority rule',
      accounts: [a1, b1],
      attribute: 'title',
      authority: { title: [A] },
      pinned: { title: B },
      value: 'Nurse',
      source: { tenantId: B, userId: 'b1' },
    },
    {
      rule: 'a pin to a tenant without a value falls through to the authority rule',
      accounts: [a1, b1],
      attribute: 'title',
      authority: { title: [B] },
      pinned: { title: C },
      value: 'Nurse',
      source: { tenantId: B, userId: 'b1' },
    },
    {
      rule: 'authority: the first listed tenant wins',
      accounts: [a1, b1],
      attribute: 'title',
      authority: { title: [B, A] },
      value: 'Nurse',
      source: { tenantId: B, userId: 'b1' },
    },
    {
      rule: 'authority: a listed tenant without a value is skipped for the next one',
      accounts: [a1, b1],
      attribute: 'title',
      authority: { title: [C, A] },
      value: 'Engineer',
      source: { tenantId: A, userId: 'a1' },
    },
    {
      rule: 'authority is per attribute: another attribute’s rule does not decide this one',
      accounts: [a1, b1],
      attribute: 'title',
      authority: { department: [A] },
      value: undefined,
      conflict: ['Engineer', 'Nurse'],
    },
    {
      rule: 'no rule, no disagreement: the one value wins, from the oldest account',
      accounts: [facts(A, 'a1', { department: 'R&D' }, 0), facts(B, 'b1', { department: 'r&d' }, 1)],
      attribute: 'department',
      value: 'R&D',
      source: { tenantId: A, userId: 'a1' },
    },
    {
      rule: 'displayName compares exactly: a difference in case is a conflict',
      accounts: [a1, b1, c1],
      attribute: 'displayName',
      value: undefined,
      conflict: ['Ada Lovelace', 'ada lovelace', 'Ada Lovelace'],
    },
    {
      rule: 'no rule, disagreement: the attribute stays empty and every value is a candidate, oldest first',
      accounts: [b1, a1],
      attribute: 'title',
      value: undefined,
      conflict: ['Engineer', 'Nurse'],
    },
    {
      rule: 'within one tenant the most recently linked account speaks for it',
      accounts: [facts(A, 'a1', { title: 'Old' }, 0), facts(A, 'a2', { title: 'New' }, 5), b1],
      attribute: 'title',
      authority: { title: [A] },
      value: 'New',
      source: { tenantId: A, userId: 'a2' },
    },
    {
      rule: 'an attribute no account has stays empty without a conflict',
      accounts: [a1, b1],
      attribute: 'costCenter',
      value: undefined,
    },
  ];

  it.each(cases)('$rule', ({ accounts, attribute, authority, pinned, value, source, conflict }) => {
    const resolved = resolvePerson(accounts, authority ?? {}, pinned ?? {}, () => undefined);
    expect(resolved.values[attribute]).toBe(value);
    expect(resolved.sources[attribute]).toEqual(source);
    expect(resolved.conflicts[attribute]?.map((c) => c.value)).toEqual(conflict);
  });

  it('compares managers by their person, and keeps an unknown manager as <tenant>/<user>', () => {
    const accounts = [facts(A, 'a1', { manager: 'ma' }, 0), facts(B, 'b1', { manager: 'mb' }, 1)];
    const samePerson = resolvePerson(accounts, {}, {}, () => 'person-m');
    expect(samePerson.values.manager).toBe('person-m');
    const unknown = resolvePerson(accounts, {}, {}, () => undefined);
    expect(unknown.conflicts.manager?.map((c) => c.value)).toEqual([`${A}/ma`, `${B}/mb`]);
  });
});
