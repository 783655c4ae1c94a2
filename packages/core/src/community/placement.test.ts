import { describe, expect, it } from '@jest/globals';
import type { PersonAttribute } from './global-directory.js';
import {
  type CurrentPlacement,
  correlationCandidates,
  correlationLookup,
  type KeyMatch,
  managerUserIdOf,
  type Placement,
  type PlacementInput,
  placeAccount,
  placeByHand,
  removalResolves,
  withPin,
} from './placement.js';

const NEW = 'p-new';
const keys = ['employeeNumber:E1', 'email:ada@example.org'];
const match = (key: string, personId: string, pinned = false): KeyMatch => ({ key, personId, pinned });
const at = (personId: string, link: CurrentPlacement['link'] = 'none', pinned = false): CurrentPlacement => ({ personId, link, pinned });

function input(overrides: Partial<PlacementInput>): PlacementInput {
  return {
    current: undefined,
    othersInPerson: 0,
    keys,
    matches: [],
    hadConflict: false,
    dependents: [],
    newPersonId: () => NEW,
    ...overrides,
  };
}

describe('placeAccount', () => {
  const cases: { rule: string; given: Partial<PlacementInput>; expected: Partial<Placement> }[] = [
    {
      rule: 'pinned: an account placed by hand stays, with its link, whatever matches',
      given: { current: at('p-own', 'manual', true), matches: [match(keys[0] as string, 'p-a')] },
      expected: { personId: 'p-own', newPerson: false, link: 'manual', conflict: undefined, linksLoners: false, resolveAgain: ['p-own'] },
    },
    {
      rule: 'pinned: a correlation conflict on record for a pinned account is settled',
      given: { current: at('p-own', 'manual', true), hadConflict: true },
      expected: { personId: 'p-own', conflict: undefined, settlesConflict: true },
    },
    {
      rule: 'one candidate: a new account joins it, linked by the rule that matched',
      given: { matches: [match('email:ada@example.org', 'p-a')] },
      expected: { personId: 'p-a', newPerson: false, link: 'rule:email', conflict: undefined, linksLoners: true, resolveAgain: ['p-a'] },
    },
    {
      rule: 'one candidate: two keys matching the same person name the first rule in the community order',
      given: { matches: [match('email:ada@example.org', 'p-a'), match('employeeNumber:E1', 'p-a')] },
      expected: { personId: 'p-a', link: 'rule:employeeNumber' },
    },
    {
      rule: 'one candidate: an account moves there from the person it stood in, and both are resolved again',
      given: { current: at('p-old'), othersInPerson: 0, matches: [match('employeeNumber:E1', 'p-a')], dependents: ['p-report'] },
      expected: { personId: 'p-a', newPerson: false, link: 'rule:employeeNumber', resolveAgain: ['p-a', 'p-report', 'p-old'] },
    },
    {
      rule: 'one candidate: an account already linked there stays, and its conflict on record is settled',
      given: { current: at('p-a', 'rule:email'), othersInPerson: 1, matches: [match('email:ada@example.org', 'p-a')], hadConflict: true },
      expected: { personId: 'p-a', link: 'rule:email', settlesConflict: true, resolveAgain: ['p-a'] },
    },
    {
      rule: 'one candidate: accounts placed by hand do not attract others',
      given: { matches: [match('employeeNumber:E1', 'p-pinned', true), match('email:ada@example.org', 'p-a')] },
      expected: { personId: 'p-a', link: 'rule:email' },
    },
    {
      rule: 'none: a new account stands alone in a new person',
      given: {},
      expected: { personId: NEW, newPerson: true, link: 'none', conflict: undefined, linksLoners: false, resolveAgain: [NEW] },
    },
    {
      rule: 'none: only pinned accounts match, so it stands alone',
      given: { matches: [match('employeeNumber:E1', 'p-pinned', true)] },
      expected: { personId: NEW, newPerson: true, link: 'none' },
    },
    {
      rule: 'none: an account without keys stands alone',
      given: { keys: [], matches: [] },
      expected: { personId: NEW, newPerson: true, link: 'none' },
    },
    {
      rule: 'none: an account alone in its person keeps that person',
      given: { current: at('p-own', 'rule:email'), othersInPerson: 0 },
      expected: { personId: 'p-own', newPerson: false, link: 'none', resolveAgain: ['p-own'] },
    },
    {
      rule: 'none: an account sharing its person with others leaves for a new person',
      given: { current: at('p-shared', 'rule:email'), othersInPerson: 2, dependents: ['p-report'] },
      expected: { personId: NEW, newPerson: true, link: 'none', resolveAgain: [NEW, 'p-report', 'p-shared'] },
    },
    {
      rule: 'none: a correlation conflict on record is settled',
      given: { current: at('p-own'), hadConflict: true },
      expected: { conflict: undefined, settlesConflict: true },
    },
    {
      rule: 'several: a new account joins none, stands alone, and the conflict lists each person with its first rule',
      given: {
        matches: [match('email:ada@example.org', 'p-b'), match('employeeNumber:E1', 'p-a'), match('email:ada@example.org', 'p-a')],
      },
      expected: {
        personId: NEW,
        newPerson: true,
        link: 'none',
        conflict: [
          { personId: 'p-a', rule: 'employeeNumber' },
          { personId: 'p-b', rule: 'email' },
        ],
        settlesConflict: false,
        linksLoners: false,
        resolveAgain: [NEW],
      },
    },
    {
      rule: 'several: an account in one of the candidates stays there, with its link',
      given: {
        current: at('p-b', 'rule:email'),
        othersInPerson: 3,
        matches: [match('employeeNumber:E1', 'p-a'), match('email:ada@example.org', 'p-b')],
        hadConflict: true,
      },
      expected: {
        personId: 'p-b',
        newPerson: false,
        link: 'rule:email',
        conflict: [
          { personId: 'p-a', rule: 'employeeNumber' },
          { personId: 'p-b', rule: 'email' },
        ],
        settlesConflict: false,
        linksLoners: true,
        resolveAgain: ['p-b'],
      },
    },
    {
      rule: 'several: an account alone in a person outside the candidates keeps its person and its link',
      given: { current: at('p-own', 'rule:userName'), matches: [match('employeeNumber:E1', 'p-a'), match('email:ada@example.org', 'p-b')] },
      expected: { personId: 'p-own', newPerson: false, link: 'rule:userName', linksLoners: true, resolveAgain: ['p-own'] },
    },
    {
      rule: 'several: an account sharing a person outside the candidates leaves for a new person, unlinked',
      given: {
        current: at('p-shared', 'rule:userName'),
        othersInPerson: 1,
        matches: [match('employeeNumber:E1', 'p-a'), match('email:ada@example.org', 'p-b')],
      },
      expected: { personId: NEW, newPerson: true, link: 'none', linksLoners: false, resolveAgain: [NEW, 'p-shared'] },
    },
  ];

  it.each(cases)('$rule', ({ given, expected }) => {
    expect(placeAccount(input(given))).toMatchObject(expected);
  });

  it('makes a new person id only when the account needs a new person', () => {
    let made = 0;
    const newPersonId = () => {
      made += 1;
      return NEW;
    };
    placeAccount(input({ matches: [match('employeeNumber:E1', 'p-a')], newPersonId }));
    placeAccount(input({ current: at('p-own'), newPersonId }));
    expect(made).toBe(0);
    placeAccount(input({ newPersonId }));
    expect(made).toBe(1);
  });
});

describe('correlationLookup', () => {
  it.each([
    { current: undefined, expected: keys },
    { current: at('p', 'rule:email', false), expected: keys },
    { current: at('p', 'manual', true), expected: [] },
  ])('pinned $current.pinned looks up $expected.length keys', ({ current, expected }) => {
    expect(correlationLookup(current, keys)).toEqual(expected);
  });
});

describe('correlationCandidates', () => {
  it('lists each person once, in the order of the first rule that matched it, ignoring keys not asked for', () => {
    expect(
      correlationCandidates(keys, [
        match('userName:ada', 'p-c'),
        match('email:ada@example.org', 'p-b'),
        match('email:ada@example.org', 'p-a'),
        match('employeeNumber:E1', 'p-a'),
      ]),
    ).toEqual([
      { personId: 'p-a', rule: 'employeeNumber' },
      { personId: 'p-b', rule: 'email' },
    ]);
  });
});

describe('removalResolves', () => {
  it('resolves the person the account left and the people it managed', () => {
    expect(removalResolves(at('p-own'), ['p-1', 'p-2'])).toEqual(['p-own', 'p-1', 'p-2']);
  });
});

describe('managerUserIdOf', () => {
  it.each([
    { manager: '0190b3a0-4f4e-7a3c-9d2e-1234567890ab', expected: '0190b3a0-4f4e-7a3c-9d2e-1234567890ab' },
    { manager: '0190B3A0-4F4E-7A3C-9D2E-1234567890AB', expected: '0190B3A0-4F4E-7A3C-9D2E-1234567890AB' },
    { manager: 'jdoe', expected: null },
    { manager: '0190b3a0-4f4e-7a3c-9d2e-1234567890ab-x', expected: null },
    { manager: undefined, expected: null },
  ])('manager $manager names user $expected', ({ manager, expected }) => {
    expect(managerUserIdOf(manager === undefined ? {} : { manager })).toBe(expected);
  });
});

describe('placeByHand', () => {
  it.each([
    {
      rule: 'link: into the given person, pinned, settling the conflict; both people resolved',
      target: 'p-b',
      expected: {
        personId: 'p-b',
        newPerson: false,
        link: 'manual',
        pinned: true,
        settlesConflict: true,
        event: 'directory.linked',
        resolveAgain: ['p-a', 'p-b'],
      },
    },
    {
      rule: 'unlink: into a new person of its own, pinned',
      target: 'new',
      expected: {
        personId: NEW,
        newPerson: true,
        link: 'manual',
        pinned: true,
        settlesConflict: true,
        event: 'directory.unlinked',
        resolveAgain: ['p-a', NEW],
      },
    },
  ])('$rule', ({ target, expected }) => {
    expect(placeByHand('p-a', target, () => NEW)).toEqual(expected);
  });
});

describe('withPin', () => {
  type Pins = Partial<Record<PersonAttribute, string>>;
  const cases: { rule: string; before: Pins; attribute: PersonAttribute; tenantId: string | null; after: Pins }[] = [
    { rule: 'pins an attribute to a tenant', before: {}, attribute: 'title', tenantId: 't-1', after: { title: 't-1' } },
    { rule: 'moves a pin to another tenant', before: { title: 't-1' }, attribute: 'title', tenantId: 't-2', after: { title: 't-2' } },
    {
      rule: 'unpins with null, leaving the other pins',
      before: { title: 't-1', email: 't-2' },
      attribute: 'title',
      tenantId: null,
      after: { email: 't-2' },
    },
    { rule: 'unpinning an attribute not pinned changes nothing', before: {}, attribute: 'title', tenantId: null, after: {} },
  ];
  it.each(cases)('$rule', ({ before, attribute, tenantId, after }) => {
    const pinned = { ...before };
    expect(withPin(pinned, attribute, tenantId)).toEqual(after);
    expect(pinned).toEqual(before);
  });
});
