import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import { resourceShapes } from '../scim/resource-types.js';
import { SCHEMA } from '../scim/schemas.js';
import {
  checkRecordOrder,
  countMismatches,
  importActionOf,
  importedResourceOf,
  parseTransferRecord,
  type ResourceRecord,
  type TenantFileRecord,
} from './transfer-format.js';

const USER = '0190b3a0-0000-7000-8000-000000000001';
const GROUP = '0190b3a0-0000-7000-8000-0000000000a1';
const META = { created: '2026-11-01T10:00:00.000Z', lastModified: '2026-11-02T10:00:00.000Z', version: 'W/"3"' };

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return error instanceof MeridianError ? error.code : 'other';
  }
  return undefined;
}

describe('parseTransferRecord', () => {
  it('reads each record type and refuses what is not one', () => {
    const header = parseTransferRecord(
      JSON.stringify({
        type: 'header',
        format: 'meridian-tenant-export',
        version: 1,
        sourceHub: 'https://a.test',
        tenant: { id: 't', slug: 'emea', name: 'EMEA' },
        exportedAt: META.created,
      }),
      1,
    );
    expect(header).toMatchObject({ type: 'header', tenant: { slug: 'emea' } });
    expect(parseTransferRecord('{"type":"policy","editableAttributes":["phoneNumbers"]}', 2)).toEqual({
      type: 'policy',
      editableAttributes: ['phoneNumbers'],
    });
    expect(() => parseTransferRecord('{"type":"header","format":"other","version":1}', 1)).toThrow('Line 1: not a meridian-tenant-export');
    expect(codeOf(() => parseTransferRecord('not json', 3))).toBe('INVALID_INPUT');
    expect(codeOf(() => parseTransferRecord('{"type":"Group","resource":{},"sealedPasswordHash":"x"}', 4))).toBe('INVALID_INPUT');
    expect(codeOf(() => parseTransferRecord('{"type":"trailer","counts":{},"sha256":"00"}', 5))).toBe('INVALID_INPUT');
  });
});

describe('checkRecordOrder', () => {
  const of = (type: TenantFileRecord['type']) => ({ type }) as TenantFileRecord;
  it('takes the order the export writes and refuses any other', () => {
    const order: TenantFileRecord['type'][] = ['header', 'extension', 'extension', 'policy', 'User', 'User', 'Group', 'trailer'];
    let previous: TenantFileRecord['type'] | undefined;
    order.forEach((type, i) => {
      checkRecordOrder(previous, of(type), i + 1);
      previous = type;
    });
    expect(codeOf(() => checkRecordOrder(undefined, of('User'), 1))).toBe('INVALID_INPUT');
    expect(codeOf(() => checkRecordOrder('Group', of('User'), 9))).toBe('INVALID_INPUT');
    expect(codeOf(() => checkRecordOrder('policy', of('policy'), 9))).toBe('INVALID_INPUT');
    expect(codeOf(() => checkRecordOrder('trailer', of('User'), 9))).toBe('INVALID_INPUT');
  });
});

describe('importedResourceOf', () => {
  it('keeps id, version, times and extensions, and takes computed attributes off', () => {
    const record: ResourceRecord = {
      type: 'User',
      resource: {
        schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
        id: USER,
        externalId: 'hr-1',
        userName: 'ada',
        active: true,
        [SCHEMA.enterpriseUser]: { department: 'R&D' },
        groups: [{ value: GROUP, display: 'Ops', type: 'direct' }],
        meta: { resourceType: 'User', location: `https://a.test/scim/v2/Users/${USER}`, ...META },
      },
      sealedPasswordHash: 'sealed',
    };
    const imported = importedResourceOf(resourceShapes.User, record, 7);
    expect(imported).toMatchObject({
      kind: 'User',
      id: USER,
      version: 3,
      created: new Date(META.created),
      lastModified: new Date(META.lastModified),
      members: [],
      sealedPasswordHash: 'sealed',
      write: { externalId: 'hr-1', extensionSchemas: [SCHEMA.enterpriseUser] },
    });
    expect(imported.write.attributes).toEqual({ userName: 'ada', active: true, [SCHEMA.enterpriseUser]: { department: 'R&D' } });
  });

  it("reads a Group's members apart and refuses a bad version or id", () => {
    const group = {
      schemas: [SCHEMA.group],
      id: GROUP,
      displayName: 'Ops',
      members: [{ value: USER, type: 'User', display: 'ada' }],
      meta: { resourceType: 'Group', ...META },
    };
    const imported = importedResourceOf(resourceShapes.Group, { type: 'Group', resource: group }, 8);
    expect(imported.members).toEqual([{ value: USER, type: 'User' }]);
    expect(imported.write.attributes).toEqual({ displayName: 'Ops' });
    const badVersion = { ...group, meta: { ...group.meta, version: '"3"' } };
    expect(() => importedResourceOf(resourceShapes.Group, { type: 'Group', resource: badVersion }, 9)).toThrow('Line 9');
    expect(codeOf(() => importedResourceOf(resourceShapes.Group, { type: 'Group', resource: { ...group, id: 'x' } }, 9))).toBe(
      'INVALID_INPUT',
    );
  });
});

describe('importActionOf and countMismatches', () => {
  it('creates what is missing, skips the same version and refuses another', () => {
    const r = { kind: 'User' as const, id: USER, version: 3 };
    expect(importActionOf(r, undefined)).toBe('create');
    expect(importActionOf(r, 3)).toBe('skip');
    expect(codeOf(() => importActionOf(r, 4))).toBe('CONFLICT');
  });

  it('names each count that differs', () => {
    const file = { extensions: 1, users: 3, groups: 2, memberships: 4, passwords: 1 };
    expect(countMismatches(file, { users: 3, groups: 2, memberships: 4, passwords: 1 })).toEqual([]);
    expect(countMismatches(file, { users: 2, groups: 2, memberships: 4, passwords: 0 })).toEqual([
      'users: file 3, tenant 2',
      'passwords: file 1, tenant 0',
    ]);
  });
});
