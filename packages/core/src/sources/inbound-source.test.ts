import { describe, expect, it } from '@jest/globals';
import {
  canonicalJson,
  checkSourceChanges,
  checkSourceInput,
  exceedsDeletionThreshold,
  planSourceSync,
  type SourceEntry,
  type SourceLink,
  sourceSyncDue,
} from './inbound-source.js';

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

describe('sourceSyncDue', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

  it('is never due without a schedule', () => {
    expect(sourceSyncDue({ syncIntervalSeconds: null, lastSyncAt: null }, now)).toBe(false);
  });

  it('is due before the first sync and once the interval has passed since the last', () => {
    expect(sourceSyncDue({ syncIntervalSeconds: 300, lastSyncAt: null }, now)).toBe(true);
    expect(sourceSyncDue({ syncIntervalSeconds: 300, lastSyncAt: ago(299) }, now)).toBe(false);
    expect(sourceSyncDue({ syncIntervalSeconds: 300, lastSyncAt: ago(300) }, now)).toBe(true);
  });
});

describe('checkSourceChanges', () => {
  it('accepts intervals from a minute to a year and a day, and null to turn the schedule off', () => {
    expect(checkSourceChanges({ syncIntervalSeconds: 60, fullSyncIntervalSeconds: 366 * 86_400 })).toEqual({
      syncIntervalSeconds: 60,
      fullSyncIntervalSeconds: 366 * 86_400,
    });
    expect(checkSourceChanges({ syncIntervalSeconds: null })).toEqual({ syncIntervalSeconds: null });
  });

  it.each([
    [{ syncIntervalSeconds: 59 }, 'syncIntervalSeconds'],
    [{ syncIntervalSeconds: 90.5 }, 'syncIntervalSeconds'],
    [{ fullSyncIntervalSeconds: 10 }, 'fullSyncIntervalSeconds'],
    [{ deletionThresholdPercent: 101 }, 'deletionThresholdPercent'],
    [{ deletionThresholdPercent: Number.NaN }, 'deletionThresholdPercent'],
  ])('refuses %j naming the field', (changes, field) => {
    expect(() => checkSourceChanges(changes)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field }));
  });

  it('gives a new source no schedule unless asked', () => {
    const checked = checkSourceInput({ name: 'hr', kind: 'scim', config: {}, secrets: {} });
    expect(checked).toMatchObject({ syncIntervalSeconds: null, fullSyncIntervalSeconds: 86_400, deletionThresholdPercent: 20 });
  });
});
