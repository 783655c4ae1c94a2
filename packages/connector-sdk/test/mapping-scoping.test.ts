import { describe, expect, it } from '@jest/globals';
import { compileMapping, compileScoping, isInScope, mapResource, splitAttributePath } from '@meridian/connector-sdk';
import { type MeridianError, matchesResource, parseScimFilter, resourceShapes, SCHEMA, type ScimResource } from '@meridian/core';

function user(attributes: Record<string, unknown>, extra: Partial<ScimResource> = {}): ScimResource {
  return {
    id: 'u-1',
    tenantId: 't-1',
    kind: 'User',
    externalId: 'office-42',
    attributes,
    extensionSchemas: attributes[SCHEMA.enterpriseUser] ? [SCHEMA.enterpriseUser] : [],
    members: [],
    groups: [],
    version: 3,
    created: new Date('2026-01-01T00:00:00Z'),
    lastModified: new Date('2026-01-02T00:00:00Z'),
    ...extra,
  };
}

const ann = user({
  userName: 'ann@example.org',
  name: { givenName: 'Ann', familyName: 'Lee' },
  active: true,
  emails: [{ value: 'Ann@Example.org', type: 'work', primary: true }],
  [SCHEMA.enterpriseUser]: { department: 'Ops', employeeNumber: '7', manager: { value: 'u-9' } },
});

describe('attribute mapping', () => {
  it('splits paths, keeping a URN whole', () => {
    expect(splitAttributePath('name.givenName')).toEqual(['name', 'givenName']);
    expect(splitAttributePath(`${SCHEMA.enterpriseUser}:manager.value`)).toEqual([SCHEMA.enterpriseUser, 'manager', 'value']);
  });

  it('the empty mapping is the identity, with externalId set to the hub id and no id/meta', async () => {
    const out = await mapResource(compileMapping(), ann);
    expect(out).toEqual({
      schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
      externalId: 'u-1',
      userName: 'ann@example.org',
      name: { givenName: 'Ann', familyName: 'Lee' },
      active: true,
      emails: [{ value: 'Ann@Example.org', type: 'work', primary: true }],
      [SCHEMA.enterpriseUser]: { department: 'Ops', employeeNumber: '7', manager: { value: 'u-9' } },
    });
  });

  it('applies JSONata transforms and exclusions, and drops an emptied extension from schemas', async () => {
    const mapping = compileMapping({
      User: {
        exclude: [`${SCHEMA.enterpriseUser}:department`, `${SCHEMA.enterpriseUser}:employeeNumber`, `${SCHEMA.enterpriseUser}:manager`],
        attributes: {
          userName: '$lowercase(emails[primary].value)',
          'name.formatted': 'name.givenName & " " & name.familyName',
          externalId: 'externalId',
          title: 'nothing.here',
        },
      },
    });
    const out = await mapResource(mapping, ann);
    expect(out.userName).toBe('ann@example.org');
    expect(out.name).toEqual({ givenName: 'Ann', familyName: 'Lee', formatted: 'Ann Lee' });
    expect(out.externalId).toBe('office-42');
    expect(out).not.toHaveProperty('title');
    expect(out.schemas).toEqual([SCHEMA.user]);
    expect(out).not.toHaveProperty(SCHEMA.enterpriseUser);
  });

  it('a mapping without identity carries only its rules', async () => {
    const out = await mapResource(
      compileMapping({ User: { identity: false, attributes: { userName: 'userName', active: 'active' } } }),
      ann,
    );
    expect(out).toEqual({ schemas: [SCHEMA.user], userName: 'ann@example.org', active: true });
  });

  it('rejects bad expressions and engine-owned attributes with INVALID_CONFIG', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return [(error as MeridianError).code, (error as MeridianError).field];
      }
      return undefined;
    };
    expect(codeOf(() => compileMapping({ User: { attributes: { userName: '$lowercase(' } } }))).toEqual([
      'INVALID_CONFIG',
      'mapping.User.attributes.userName',
    ]);
    expect(codeOf(() => compileMapping({ User: { attributes: { password: '"x"' } } }))).toEqual([
      'INVALID_CONFIG',
      'mapping.User.attributes.password',
    ]);
    expect(codeOf(() => compileMapping({ Device: {} } as never))).toEqual(['INVALID_CONFIG', 'mapping.Device']);
  });
});

describe('scoping filter', () => {
  it('matches whole resources: qualified and unqualified extension paths, value filters, meta, groups', () => {
    const doc = {
      id: 'u-1',
      userName: 'ann',
      active: true,
      emails: [{ value: 'a@x.org', type: 'work' }],
      groups: [{ value: 'g-1', display: 'ops', type: 'direct' }],
      meta: { lastModified: '2026-01-02T00:00:00Z' },
      [SCHEMA.enterpriseUser]: { department: 'Ops' },
    };
    const test = (filter: string) => matchesResource(doc, parseScimFilter(filter), resourceShapes.User);
    expect(test('active eq true and userName sw "AN"')).toBe(true);
    expect(test(`${SCHEMA.enterpriseUser}:department eq "ops"`)).toBe(true);
    expect(test('department eq "Ops"')).toBe(true);
    expect(test('emails[type eq "work" and value ew "x.org"]')).toBe(true);
    expect(test('groups eq "g-1"')).toBe(true);
    expect(test('meta.lastModified gt "2026-01-01T00:00:00Z"')).toBe(true);
    expect(test('not (active eq true)')).toBe(false);
    expect(test('title pr')).toBe(false);
    expect(test('id eq "U-1"')).toBe(false);
  });

  it('scopes per kind; an absent kind goes whole and false sends none', () => {
    const scoping = compileScoping({ User: 'department eq "Ops"', Group: false });
    expect(isInScope(scoping, ann, resourceShapes.User)).toBe(true);
    expect(isInScope(scoping, user({ userName: 'bob' }), resourceShapes.User)).toBe(false);
    expect(isInScope(compileScoping({}), user({ userName: 'bob' }), resourceShapes.User)).toBe(true);
    const group: ScimResource = { ...ann, kind: 'Group', attributes: { displayName: 'ops' }, extensionSchemas: [] };
    expect(isInScope(scoping, group, resourceShapes.Group)).toBe(false);
  });

  it('an invalid scope is INVALID_CONFIG naming the kind', () => {
    expect(() => compileScoping({ User: 'userName eq' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', field: 'scoping.User' }),
    );
  });

  it('a literal that does not fit the type puts the resource out of scope instead of failing', () => {
    expect(isInScope(compileScoping({ User: 'active gt true' }), ann, resourceShapes.User)).toBe(false);
  });
});
