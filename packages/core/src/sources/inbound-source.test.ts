import { describe, expect, it } from '@jest/globals';
import { canonicalJson, exceedsDeletionThreshold, planSourceSync, type SourceEntry, type SourceLink } from './inbound-source.js';

const entry = (remoteId: string, userName: string, title?: string): SourceEntry => ({
  remoteId,
  location: `uid=${userName},ou=people`,
  attributes: { userName, ...(title ? { title } : {}) },
});
const link = (e: SourceEntry, resourceId: string): SourceLink => ({
  remoteId: e.remoteId,
  resourceId,
  applied: canonicalJson(e.attributes),
});

describe('planSourceSync', () => {
  const ann = entry('u1', 'ann');
  const bob = entry('u2', 'bob');

  it('creates unlinked entries, updates changed ones and leaves the rest', () => {
    const plan = planSourceSync([ann, entry('u2', 'bob', 'Engineer'), entry('u3', 'cid')], [link(ann, 'r1'), link(bob, 'r2')], false);
    expect(plan.items.map((i) => [i.action, i.userName, i.resourceId])).toEqual([
      ['update', 'bob', 'r2'],
      ['create', 'cid', null],
    ]);
    expect(plan.unchanged).toBe(1);
  });

  it('deletes links whose entries a full read did not find, and only on a full read', () => {
    expect(planSourceSync([ann], [link(ann, 'r1'), link(bob, 'r2')], true).items).toEqual([
      { action: 'delete', remoteId: 'u2', location: null, userName: null, resourceId: 'r2' },
    ]);
    expect(planSourceSync([ann], [link(ann, 'r1'), link(bob, 'r2')], false).items).toEqual([]);
  });

  it('compares attributes whatever the order of their keys', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
  });
});

describe('exceedsDeletionThreshold', () => {
  it('stops only above the share', () => {
    expect(exceedsDeletionThreshold(21, 100, 20)).toBe(true);
    expect(exceedsDeletionThreshold(20, 100, 20)).toBe(false);
    expect(exceedsDeletionThreshold(0, 0, 0)).toBe(false);
  });
});
