import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import type { GroupMembership, ScimResource } from '../scim/resource.js';
import type { JsonObject } from '../scim/resource-input.js';
import { SCHEMA } from '../scim/schemas.js';
import { DEFAULT_OFFBOARDING_POLICY, mergedValues, type OffboardingFacts, planOffboarding, type TransferCandidate } from './plan.js';

const LEAVER = '0190b3a0-0000-7000-8000-000000000001';
const SUCCESSOR = '0190b3a0-0000-7000-8000-000000000002';
const REPORT = '0190b3a0-0000-7000-8000-000000000003';
const OTHER = '0190b3a0-0000-7000-8000-000000000004';
const G_SALES = '0190b3a0-0000-7000-8000-0000000000a1';
const G_OPS = '0190b3a0-0000-7000-8000-0000000000a2';
const G_ALL = '0190b3a0-0000-7000-8000-0000000000a3';
const NOW = new Date('2026-12-01T10:00:00Z');

function user(id: string, userName: string, attributes: JsonObject = {}, groups: GroupMembership[] = []): ScimResource {
  return {
    id,
    tenantId: 't',
    kind: 'User',
    externalId: undefined,
    attributes: { userName, ...attributes },
    extensionSchemas: [],
    members: [],
    groups,
    version: 1,
    created: NOW,
    lastModified: NOW,
  };
}

const reportsTo = (manager: string): JsonObject => ({ [SCHEMA.enterpriseUser]: { manager: { value: manager } } });

function facts(overrides: Partial<OffboardingFacts> = {}): OffboardingFacts {
  return {
    leaver: user(
      LEAVER,
      'ada',
      {
        entitlements: [{ value: 'crm', type: 'app' }, { value: 'vpn' }],
        roles: [{ value: 'approver' }],
      },
      [
        { value: G_SALES, display: 'Sales', type: 'direct' },
        { value: G_OPS, display: 'Ops', type: 'direct' },
        { value: G_ALL, display: 'Everyone', type: 'indirect' },
      ],
    ),
    successor: user(SUCCESSOR, 'grace', { entitlements: [{ value: 'vpn' }] }, [{ value: G_OPS, display: 'Ops', type: 'direct' }]),
    reports: [user(REPORT, 'bob', reportsTo(LEAVER)), user(OTHER, 'carol', reportsTo(SUCCESSOR))],
    candidates: [],
    policy: DEFAULT_OFFBOARDING_POLICY,
    now: NOW,
    ...overrides,
  };
}

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return error instanceof MeridianError ? `${error.code}:${error.field}` : 'other';
  }
  return undefined;
}

describe('planOffboarding', () => {
  it('moves every direct group by default and never an indirect one, noting those the successor has', () => {
    const plan = planOffboarding(facts());
    expect(plan.groups).toEqual([
      { groupId: G_OPS, displayName: 'Ops', action: 'move', successorAlreadyMember: true },
      { groupId: G_SALES, displayName: 'Sales', action: 'move', successorAlreadyMember: false },
    ]);
  });

  it('keeps the groups the policy names, by id or displayName in any case, and none moves when moveGroups is false', () => {
    const kept = planOffboarding(facts({ policy: { moveGroups: true, keepGroups: ['sales'] } }));
    expect(kept.groups.map((g) => [g.displayName, g.action])).toEqual([
      ['Ops', 'move'],
      ['Sales', 'keep'],
    ]);
    const byId = planOffboarding(facts({ policy: { moveGroups: true, keepGroups: [G_OPS] } }));
    expect(byId.groups.find((g) => g.groupId === G_OPS)?.action).toBe('keep');
    const none = planOffboarding(facts({ policy: { moveGroups: false, keepGroups: [] } }));
    expect(none.groups.every((g) => g.action === 'keep')).toBe(true);
  });

  it('hands over entitlements and roles, marking those the successor already holds (value and type)', () => {
    const plan = planOffboarding(facts());
    expect(plan.entitlements).toEqual([
      { value: 'crm', type: 'app', successorHas: false },
      { value: 'vpn', successorHas: true },
    ]);
    expect(plan.roles).toEqual([{ value: 'approver', successorHas: false }]);
    expect(mergedValues([{ value: 'vpn' }], plan.entitlements)).toEqual([{ value: 'vpn' }, { value: 'crm', type: 'app' }]);
  });

  it('gives the leaver’s direct reports to the successor, but not the successor itself', () => {
    const plan = planOffboarding(
      facts({
        reports: [
          user(REPORT, 'bob', reportsTo(LEAVER)),
          user(SUCCESSOR, 'grace', reportsTo(LEAVER)),
          user(OTHER, 'carol', reportsTo(SUCCESSOR)),
        ],
      }),
    );
    expect(plan.directReports).toEqual([{ id: REPORT, userName: 'bob' }]);
  });

  it('transfers at capable targets where the leaver is, and says why the others get none', () => {
    const candidates: TransferCandidate[] = [
      { targetId: 'b', target: 'files', capable: true, leaverRemoteId: 'r-ada', successorRemoteId: null },
      { targetId: 'a', target: 'crm', capable: false, leaverRemoteId: 'x', successorRemoteId: 'y' },
      { targetId: 'c', target: 'wiki', capable: true, leaverRemoteId: null, successorRemoteId: 'r-grace' },
    ];
    const plan = planOffboarding(facts({ candidates }));
    expect(plan.transfers).toEqual([{ targetId: 'b', target: 'files', leaverRemoteId: 'r-ada', successorRemoteId: null }]);
    expect(plan.skippedTargets).toEqual([
      { targetId: 'a', target: 'crm', reason: 'not_capable' },
      { targetId: 'c', target: 'wiki', reason: 'leaver_not_at_target' },
    ]);
  });

  it('runs now or at a future leave, and deletes after the grace period (30 days by default)', () => {
    expect(planOffboarding(facts()).deleteAt).toEqual(new Date('2026-12-31T10:00:00Z'));
    const at = new Date('2027-01-10T00:00:00Z');
    const later = planOffboarding(facts({ at, graceDays: 0 }));
    expect(later.runAt).toEqual(at);
    expect(later.deleteAt).toEqual(at);
    expect(planOffboarding(facts({ at: new Date('2020-01-01T00:00:00Z') })).runAt).toEqual(NOW);
  });

  it('refuses the leaver as successor, an inactive successor and a grace period out of range', () => {
    expect(codeOf(() => planOffboarding(facts({ successor: facts().leaver })))).toBe('INVALID_INPUT:successor');
    expect(codeOf(() => planOffboarding(facts({ successor: user(SUCCESSOR, 'grace', { active: false }) })))).toBe(
      'INVALID_INPUT:successor',
    );
    for (const graceDays of [-1, 1.5, 3651]) expect(codeOf(() => planOffboarding(facts({ graceDays })))).toBe('INVALID_INPUT:graceDays');
    expect(codeOf(() => planOffboarding(facts({ graceDays: 3650 })))).toBeUndefined();
  });
});
