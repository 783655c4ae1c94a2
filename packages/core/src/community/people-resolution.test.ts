import { describe, expect, it } from '@jest/globals';
import type { AccountFacts, AccountValues } from './global-directory.js';
import { type ResolutionAccount, resolvePeople } from './people-resolution.js';

const T1 = 'tenant-1';
const T2 = 'tenant-2';
const MANAGER_PERSON = '0190b3a0-0000-7000-8000-00000000000a';
const P1 = '0190b3a0-0000-7000-8000-000000000001';
const P2 = '0190b3a0-0000-7000-8000-000000000002';

function facts(tenantId: string, userId: string, values: AccountValues, minute = 0, active = true): AccountFacts {
  return {
    tenantId,
    userId,
    userName: userId,
    externalId: null,
    active,
    values,
    linkedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)),
  };
}

function account(personId: string, f: AccountFacts, extra: Partial<ResolutionAccount> = {}): ResolutionAccount {
  return { personId, account: f, personPinned: {}, correlationConflicts: 0, managerPerson: null, ...extra };
}

describe('resolvePeople', () => {
  it('resolves each person once, in the order asked for, and lists people without accounts as gone', () => {
    const result = resolvePeople(
      [P2, P1, 'p-gone', P2],
      [account(P1, facts(T1, 'u1', { title: 'Engineer' })), account(P2, facts(T2, 'u2', { title: 'Nurse' }))],
      {},
    );
    expect(result.gone).toEqual(['p-gone']);
    expect(result.people.map((p) => [p.personId, p.values.title])).toEqual([
      [P2, 'Nurse'],
      [P1, 'Engineer'],
    ]);
  });

  it('lists every person as gone when no account is left', () => {
    expect(resolvePeople([P1, P2], [], {})).toEqual({ gone: [P1, P2], people: [] });
  });

  it('is active when any account is', () => {
    const [person] = resolvePeople(
      [P1],
      [account(P1, facts(T1, 'u1', {}, 0, false)), account(P1, facts(T2, 'u2', {}, 1, true))],
      {},
    ).people;
    expect(person?.active).toBe(true);
    const [inactive] = resolvePeople([P1], [account(P1, facts(T1, 'u1', {}, 0, false))], {}).people;
    expect(inactive?.active).toBe(false);
  });

  it('counts attribute conflicts and the person’s correlation conflicts, and lists each attribute conflict with its candidates', () => {
    const pinned = {};
    const [person] = resolvePeople(
      [P1],
      [
        account(P1, facts(T1, 'u1', { title: 'Engineer', department: 'R&D' }, 0), { correlationConflicts: 2, personPinned: pinned }),
        account(P1, facts(T2, 'u2', { title: 'Nurse', department: 'Care' }, 1), { correlationConflicts: 2, personPinned: pinned }),
      ],
      {},
    ).people;
    expect(person?.conflictCount).toBe(4);
    expect(person?.conflicts).toEqual([
      {
        attribute: 'title',
        candidates: [
          { tenantId: T1, userId: 'u1', value: 'Engineer' },
          { tenantId: T2, userId: 'u2', value: 'Nurse' },
        ],
      },
      {
        attribute: 'department',
        candidates: [
          { tenantId: T1, userId: 'u1', value: 'R&D' },
          { tenantId: T2, userId: 'u2', value: 'Care' },
        ],
      },
    ]);
    expect(person?.values.title).toBeUndefined();
  });

  it('follows the person’s pins (read from its first account)', () => {
    const [person] = resolvePeople(
      [P1],
      [
        account(P1, facts(T1, 'u1', { title: 'Engineer' }, 0), { personPinned: { title: T2 } }),
        account(P1, facts(T2, 'u2', { title: 'Nurse' }, 1), { personPinned: { title: T2 } }),
      ],
      {},
    ).people;
    expect(person?.values.title).toBe('Nurse');
    expect(person?.sources.title).toEqual({ tenantId: T2, userId: 'u2' });
    expect(person?.conflictCount).toBe(0);
  });

  describe('the manager', () => {
    const cases: { rule: string; accounts: ResolutionAccount[]; personId?: string; expected: string | null }[] = [
      {
        rule: 'is the person of the manager account when it is in the directory',
        accounts: [account(P1, facts(T1, 'u1', { manager: 'm1' }), { managerPerson: MANAGER_PERSON })],
        expected: MANAGER_PERSON,
      },
      {
        rule: 'is none when the manager account is not in the directory',
        accounts: [account(P1, facts(T1, 'u1', { manager: 'm1' }))],
        expected: null,
      },
      {
        rule: 'is none when it would be the person itself',
        accounts: [account(P1, facts(T1, 'u1', { manager: 'm1' }), { managerPerson: P1 })],
        expected: null,
      },
      {
        rule: 'agrees when two offices name different accounts of the same manager',
        accounts: [
          account(P1, facts(T1, 'u1', { manager: 'm1' }, 0), { managerPerson: MANAGER_PERSON }),
          account(P1, facts(T2, 'u2', { manager: 'm2' }, 1), { managerPerson: MANAGER_PERSON }),
        ],
        expected: MANAGER_PERSON,
      },
      {
        rule: 'is none, in conflict, when two offices name different managers',
        accounts: [
          account(P1, facts(T1, 'u1', { manager: 'm1' }, 0), { managerPerson: MANAGER_PERSON }),
          account(P1, facts(T2, 'u2', { manager: 'm2' }, 1), { managerPerson: P2 }),
        ],
        expected: null,
      },
    ];
    it.each(cases)('$rule', ({ accounts, expected }) => {
      const [person] = resolvePeople([P1], accounts, {}).people;
      expect(person?.managerPersonId).toBe(expected);
    });
  });
});
