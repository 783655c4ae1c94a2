import { describe, expect, it } from '@jest/globals';
import { deliveryVersion, isRelayed, type OutboxEvent, planRelay, type RelayTarget, relayTenants, requestChangesOf } from './relay-plan.js';

const T1 = '0190b3a0-0000-7000-8000-0000000000a1';
const T2 = '0190b3a0-0000-7000-8000-0000000000b2';
const U1 = '0190b3a0-0000-7000-8000-000000000001';
const U2 = '0190b3a0-0000-7000-8000-000000000002';
const G1 = '0190b3a0-0000-7000-8000-000000000003';

let nextId = 0;
function event(overrides: Partial<OutboxEvent>): OutboxEvent {
  nextId += 1;
  return {
    id: String(nextId),
    tenantId: T1,
    type: 'user.updated',
    resourceType: 'User',
    resourceId: U1,
    resourceVersion: 1,
    requestId: `req-${nextId}`,
    ...overrides,
  };
}

const targets: RelayTarget[] = [
  { id: 'target-a', tenantId: T1 },
  { id: 'target-b', tenantId: T1 },
  { id: 'target-c', tenantId: T2 },
];

describe('isRelayed: which events are resource changes', () => {
  it.each([
    { what: 'a user event', given: {}, relayed: true },
    { what: 'a group event', given: { type: 'group.created', resourceType: 'Group', resourceId: G1 }, relayed: true },
    { what: 'a deletion', given: { type: 'user.deleted' }, relayed: true },
    { what: 'a platform event (no tenant)', given: { tenantId: null }, relayed: false },
    { what: 'a target event', given: { type: 'target.created', resourceType: 'Target' }, relayed: false },
    { what: 'a delivery record about a User', given: { type: 'replication.delivered' }, relayed: false },
    { what: 'a directory event about a User', given: { type: 'directory.linked' }, relayed: false },
    { what: 'a user event about something else', given: { resourceType: 'Schema' }, relayed: false },
    { what: 'a resource id that is not a uuid', given: { resourceId: 'u-1' }, relayed: false },
    { what: 'a type that only contains user.', given: { type: 'xuser.updated' }, relayed: false },
  ])('$what: $relayed', ({ given, relayed }) => {
    expect(isRelayed(event(given))).toBe(relayed);
  });
});

describe('deliveryVersion', () => {
  it.each([
    { type: 'user.created', resourceVersion: 1, expected: 1 },
    { type: 'user.replaced', resourceVersion: 4, expected: 4 },
    { type: 'user.deleted', resourceVersion: 4, expected: 5 },
    { type: 'group.deleted', resourceVersion: 2, expected: 3 },
    { type: 'user.updated', resourceVersion: null, expected: 0 },
    { type: 'user.deleted', resourceVersion: null, expected: 1 },
  ])('$type at $resourceVersion is delivered as $expected', ({ type, resourceVersion, expected }) => {
    expect(deliveryVersion({ type, resourceVersion })).toBe(expected);
  });
});

describe('relayTenants', () => {
  it('names each tenant with a resource change once, and no tenant of other events', () => {
    expect(
      relayTenants([
        event({ tenantId: T2 }),
        event({ tenantId: T1 }),
        event({ tenantId: T2, resourceId: U2 }),
        event({ tenantId: null, type: 'community.created', resourceType: 'Community' }),
        event({ tenantId: '0190b3a0-0000-7000-8000-0000000000c3', type: 'token.created', resourceType: 'Token' }),
      ]),
    ).toEqual([T2, T1]);
  });
});

describe('planRelay', () => {
  it('fans a change out to every enabled target of its tenant, and to no other tenant’s', () => {
    const change = event({ tenantId: T1, resourceVersion: 3, requestId: 'req-x' });
    const { jobs } = planRelay([change], targets);
    expect(jobs).toEqual([
      { tenantId: T1, targetId: 'target-a', kind: 'User', resourceId: U1, version: 3, eventId: change.id, requestId: 'req-x' },
      { tenantId: T1, targetId: 'target-b', kind: 'User', resourceId: U1, version: 3, eventId: change.id, requestId: 'req-x' },
    ]);
  });

  it('makes no job for a tenant without targets, but still feeds the directory', () => {
    const change = event({ tenantId: T2 });
    const plan = planRelay([change], []);
    expect(plan.jobs).toEqual([]);
    expect(plan.inbox).toEqual([{ tenantId: T2, kind: 'User', resourceId: U1 }]);
  });

  const coalescing: { rule: string; versions: { type: string; resourceVersion: number }[]; version: number; event: number }[] = [
    {
      rule: 'several changes of one resource coalesce into one job at the newest version',
      versions: [
        { type: 'user.created', resourceVersion: 1 },
        { type: 'user.updated', resourceVersion: 2 },
        { type: 'user.replaced', resourceVersion: 3 },
      ],
      version: 3,
      event: 2,
    },
    {
      rule: 'a deletion after a write counts as the version after it',
      versions: [
        { type: 'user.updated', resourceVersion: 4 },
        { type: 'user.deleted', resourceVersion: 4 },
      ],
      version: 5,
      event: 1,
    },
    {
      rule: 'an older version later in the batch does not replace a newer one',
      versions: [
        { type: 'user.updated', resourceVersion: 7 },
        { type: 'user.updated', resourceVersion: 6 },
      ],
      version: 7,
      event: 0,
    },
    {
      rule: 'the first event to reach a version stands for a later one at the same version',
      versions: [
        { type: 'user.updated', resourceVersion: 2 },
        { type: 'user.updated', resourceVersion: 2 },
      ],
      version: 2,
      event: 0,
    },
  ];
  it.each(coalescing)('$rule', ({ versions, version, event: index }) => {
    const events = versions.map((v) => event({ ...v, requestId: `req-${v.resourceVersion}-${v.type}` }));
    const { jobs } = planRelay(events, [{ id: 'target-a', tenantId: T1 }]);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ version, eventId: events[index]?.id, requestId: events[index]?.requestId });
  });

  it('orders jobs by target and resource id', () => {
    const events = [
      event({ resourceId: U2 }),
      event({ type: 'group.updated', resourceType: 'Group', resourceId: G1 }),
      event({ resourceId: U1 }),
    ];
    const { jobs } = planRelay(events, targets);
    expect(jobs.map((j) => `${j.targetId} ${j.kind} ${j.resourceId}`)).toEqual([
      `target-a User ${U1}`,
      `target-a User ${U2}`,
      `target-a Group ${G1}`,
      `target-b User ${U1}`,
      `target-b User ${U2}`,
      `target-b Group ${G1}`,
    ]);
  });

  it('keeps a User and a Group with the same id apart', () => {
    const events = [event({ type: 'group.updated', resourceType: 'Group', resourceId: U1 }), event({ resourceId: U1 })];
    const { jobs, inbox } = planRelay(events, [{ id: 'target-a', tenantId: T1 }]);
    expect(jobs.map((j) => j.kind).sort()).toEqual(['Group', 'User']);
    expect(inbox.map((i) => i.kind)).toEqual(['Group', 'User']);
  });

  it('skips events that are not resource changes, for jobs and the directory alike', () => {
    const plan = planRelay(
      [
        event({ tenantId: null, type: 'community.created', resourceType: 'Community' }),
        event({ type: 'target.created', resourceType: 'Target' }),
        event({ type: 'replication.delivered' }),
        event({ type: 'directory.linked' }),
      ],
      targets,
    );
    expect(plan).toEqual({ jobs: [], inbox: [] });
  });

  it('queues each changed User or Group once for the directory, in the order first changed, deletions included', () => {
    const plan = planRelay(
      [
        event({ tenantId: T1, resourceId: U2 }),
        event({ tenantId: T2, type: 'group.created', resourceType: 'Group', resourceId: G1 }),
        event({ tenantId: T1, resourceId: U2, resourceVersion: 2 }),
        event({ tenantId: T2, resourceId: U2, type: 'user.deleted' }),
        event({ tenantId: T1, type: 'target.updated', resourceType: 'Target' }),
      ],
      targets,
    );
    expect(plan.inbox).toEqual([
      { tenantId: T1, kind: 'User', resourceId: U2 },
      { tenantId: T2, kind: 'Group', resourceId: G1 },
      { tenantId: T2, kind: 'User', resourceId: U2 },
    ]);
  });
});

describe('requestChangesOf', () => {
  it.each([
    {
      rule: 'a write reaches its version',
      groups: [{ type: 'user.created', resourceType: 'User', resourceId: U1, maxVersion: 1 }],
      expected: [{ kind: 'User', resourceId: U1, version: 1 }],
    },
    {
      rule: 'a deletion reaches the version after the last one, the highest of the resource’s events',
      groups: [
        { type: 'user.created', resourceType: 'User', resourceId: U1, maxVersion: 1 },
        { type: 'user.deleted', resourceType: 'User', resourceId: U1, maxVersion: 1 },
      ],
      expected: [{ kind: 'User', resourceId: U1, version: 2 }],
    },
    {
      rule: 'each resource once, in the order given',
      groups: [
        { type: 'group.updated', resourceType: 'Group', resourceId: G1, maxVersion: 3 },
        { type: 'user.updated', resourceType: 'User', resourceId: U2, maxVersion: 5 },
        { type: 'user.replaced', resourceType: 'User', resourceId: U2, maxVersion: 4 },
      ],
      expected: [
        { kind: 'Group', resourceId: G1, version: 3 },
        { kind: 'User', resourceId: U2, version: 5 },
      ],
    },
    {
      rule: 'events that are not resource changes are left out',
      groups: [
        { type: 'target.created', resourceType: 'Target', resourceId: U1, maxVersion: null },
        { type: 'replication.delivered', resourceType: 'User', resourceId: U1, maxVersion: 2 },
        { type: 'user.updated', resourceType: 'Tenant', resourceId: U1, maxVersion: 2 },
      ],
      expected: [],
    },
    {
      rule: 'a resource whose events carry no version reaches version 0',
      groups: [{ type: 'user.deleted', resourceType: 'User', resourceId: U1, maxVersion: null }],
      expected: [{ kind: 'User', resourceId: U1, version: 0 }],
    },
  ])('$rule', ({ groups, expected }) => {
    expect(requestChangesOf(groups)).toEqual(expected);
  });
});

describe('planRelay: member deltas (ADR 0024)', () => {
  const group = { type: 'group.updated', resourceType: 'Group', resourceId: G1, resourceVersion: 5 };

  it('a single Group update carries its delta to every target of its tenant', () => {
    const plan = planRelay([event({ ...group, membersDelta: { added: [U1], removed: [U2] } })], targets);
    expect(plan.jobs.map((j) => [j.targetId, j.members])).toEqual([
      ['target-a', { added: [U1], removed: [U2] }],
      ['target-b', { added: [U1], removed: [U2] }],
    ]);
  });

  it('two updates of one group in a batch coalesce without a delta (the whole list is pushed)', () => {
    const plan = planRelay(
      [
        event({ ...group, membersDelta: { added: [U1], removed: [] } }),
        event({ ...group, resourceVersion: 6, membersDelta: { added: [U2], removed: [] } }),
      ],
      targets.slice(0, 1),
    );
    expect(plan.jobs).toHaveLength(1);
    expect(plan.jobs[0]?.version).toBe(6);
    expect(plan.jobs[0]?.members).toBeUndefined();
  });

  it('a later event with an older version also drops the delta', () => {
    const plan = planRelay(
      [
        event({ ...group, resourceVersion: 6, membersDelta: { added: [U1], removed: [] } }),
        event({ ...group, resourceVersion: 5, membersDelta: { added: [U2], removed: [] } }),
      ],
      targets.slice(0, 1),
    );
    expect(plan.jobs[0]?.members).toBeUndefined();
  });

  it('a change without a delta (a create, a replace) carries none', () => {
    const plan = planRelay([event({ ...group, type: 'group.replaced', membersDelta: null })], targets.slice(0, 1));
    expect(plan.jobs[0]).not.toHaveProperty('members');
  });
});
