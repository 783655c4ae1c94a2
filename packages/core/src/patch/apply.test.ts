import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import { type JsonObject, parseResourceInput } from '../scim/resource-input.js';
import { resourceShapes } from '../scim/resource-types.js';
import { SCHEMA } from '../scim/schemas.js';
import { applyPatch, type PatchResult } from './apply.js';
import { type PatchOperation, parsePatchRequest } from './parse.js';

const ENTERPRISE = SCHEMA.enterpriseUser;
const User = resourceShapes.User;
const Group = resourceShapes.Group;

function user(): JsonObject {
  return {
    userName: 'bjensen',
    externalId: 'ext-1',
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    active: true,
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ],
    addresses: [{ type: 'work', streetAddress: '100 Universal City Plaza', locality: 'Hollywood', primary: true }],
    [ENTERPRISE]: { employeeNumber: '701984', manager: { value: 'm-1', $ref: '../Users/m-1' } },
  };
}

function group(): JsonObject {
  return { displayName: 'Tour Guides', externalId: 'g-ext' };
}

/** Runs a PatchOp body end to end: parse, then apply. */
function patch(document: JsonObject, ...operations: unknown[]): PatchResult {
  const shape = 'userName' in document ? User : Group;
  return applyPatch(shape, document, parsePatchRequest({ schemas: [SCHEMA.patchOp], Operations: operations }));
}

function errorOf(fn: () => unknown): MeridianError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
  throw new Error('expected a MeridianError');
}

describe('applyPatch: add (RFC 7644 §3.5.2.1)', () => {
  it('applies the RFC example without a path: a new email is appended and nickname lands on nickName', () => {
    const { document, touched } = patch(user(), {
      op: 'add',
      value: {
        emails: [
          { value: 'babs@jensen.org', type: 'home' },
          { value: 'b@other.org', type: 'other' },
        ],
        nickname: 'Babs',
      },
    });
    expect(document.emails).toEqual([
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
      { value: 'b@other.org', type: 'other' },
    ]);
    expect(document.nickName).toBe('Babs');
    expect(document).not.toHaveProperty('nickname');
    expect(touched).toEqual(['emails', 'nickName']);
  });

  it('does not add a value equal to an existing one, comparing case-insensitively unless caseExact', () => {
    const { document } = patch(user(), {
      op: 'add',
      path: 'emails',
      value: { Value: 'BJensen@Example.com', TYPE: 'work', primary: 'True' },
    });
    expect(document.emails).toEqual(user().emails);
  });

  it('accepts a single object for a multi-valued path and canonicalises its sub-attribute names', () => {
    const { document } = patch(user(), { op: 'add', path: 'phoneNumbers', value: { Value: '+1 555', Type: 'mobile' } });
    expect(document.phoneNumbers).toEqual([{ value: '+1 555', type: 'mobile' }]);
  });

  it('merges sub-attributes into a complex single-valued attribute', () => {
    const { document } = patch(user(), { op: 'add', value: { name: { middleName: 'Jane', GivenName: 'Babs' } } });
    expect(document.name).toEqual({ givenName: 'Babs', familyName: 'Jensen', middleName: 'Jane' });
  });

  it('replaces a single-valued attribute (Entra ID: Add on nickName)', () => {
    const { document } = patch({ ...user(), nickName: 'Old' }, { op: 'Add', path: 'nickName', value: 'Babs' });
    expect(document.nickName).toBe('Babs');
  });

  it('sets a sub-attribute, creating the complex attribute when absent', () => {
    const { document } = patch({ userName: 'x' }, { op: 'add', path: 'name.givenName', value: 'Ada' });
    expect(document.name).toEqual({ givenName: 'Ada' });
  });

  it('makes a newly added primary value the only primary one (RFC 7643 §2.4)', () => {
    const { document } = patch(user(), { op: 'add', path: 'emails', value: [{ value: 'new@example.com', type: 'work', primary: true }] });
    expect(document.emails).toEqual([
      { value: 'bjensen@example.com', type: 'work', primary: false },
      { value: 'babs@jensen.org', type: 'home' },
      { value: 'new@example.com', type: 'work', primary: true },
    ]);
  });

  it('adds nothing for a null value', () => {
    const { document } = patch(user(), { op: 'add', path: 'nickName', value: null });
    expect(document).toEqual(user());
  });
});

describe('applyPatch: replace (RFC 7644 §3.5.2.3)', () => {
  it('replaces a multi-valued attribute wholesale in a path-less value (RFC example)', () => {
    const { document } = patch(user(), {
      op: 'replace',
      value: {
        emails: [
          { value: 'bjensen@example.com', type: 'work', primary: true },
          { value: 'babs@jensen.org', type: 'home' },
        ],
        nickname: 'Babs',
      },
    });
    expect(document.emails).toEqual([
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ]);
    expect(document.nickName).toBe('Babs');
  });

  it('replaces a multi-valued attribute named by the path', () => {
    const { document } = patch(user(), { op: 'replace', path: 'emails', value: [{ value: 'only@example.com' }] });
    expect(document.emails).toEqual([{ value: 'only@example.com' }]);
  });

  it('merges sub-attributes of a complex single-valued attribute and leaves the others unchanged', () => {
    const { document } = patch(user(), { op: 'replace', path: 'name', value: { givenName: 'Babs', familyName: null } });
    expect(document.name).toEqual({ givenName: 'Babs' });
  });

  it('replaces all matching values of a value filter (RFC example)', () => {
    const value = { type: 'work', streetAddress: '911 Universal City Plaza', locality: 'Hollywood', postalCode: '91608', primary: true };
    const { document } = patch(user(), { op: 'replace', path: 'addresses[type eq "work"]', value });
    expect(document.addresses).toEqual([value]);
  });

  it('replaces a sub-attribute of the matching values only (RFC example)', () => {
    const doc = {
      ...user(),
      addresses: [
        { type: 'work', streetAddress: 'a' },
        { type: 'home', streetAddress: 'b' },
      ],
    };
    const { document } = patch(doc, { op: 'replace', path: 'addresses[type eq "work"].streetAddress', value: '1010 Broadway Ave' });
    expect(document.addresses).toEqual([
      { type: 'work', streetAddress: '1010 Broadway Ave' },
      { type: 'home', streetAddress: 'b' },
    ]);
  });

  it('replaces emails[type eq "work"].value on the work email only (Entra ID)', () => {
    const { document } = patch(user(), { op: 'Replace', path: 'emails[type eq "work"].value', value: 'barbara@example.com' });
    expect(document.emails).toEqual([
      { value: 'barbara@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ]);
  });

  it('creates the work email when emails[type eq "work"].value matches nothing (Entra ID)', () => {
    const { document } = patch(
      { userName: 'x', emails: [{ value: 'h@home.org', type: 'home' }] },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@example.com' },
    );
    expect(document.emails).toEqual([
      { value: 'h@home.org', type: 'home' },
      { type: 'work', value: 'x@example.com' },
    ]);
  });

  it('builds the new value from every eq comparison joined by and, plus the value', () => {
    const { document } = patch(
      { userName: 'x' },
      { op: 'replace', path: 'addresses[type eq "work" and country eq "NL"]', value: { locality: 'Utrecht' } },
    );
    expect(document.addresses).toEqual([{ type: 'work', country: 'NL', locality: 'Utrecht' }]);
  });

  it('treats Add with a value filter as replace (Entra ID)', () => {
    const { document } = patch({ userName: 'x' }, { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+31 6' });
    expect(document.phoneNumbers).toEqual([{ type: 'mobile', value: '+31 6' }]);
  });

  it.each([
    ['emails[type ne "work"].value', { userName: 'x' }],
    ['emails[type eq "work" or type eq "home"].value', { userName: 'x' }],
    ['emails[value co "@"].value', { userName: 'x' }],
    ['emails[type eq "work" and type eq "home"].value', { userName: 'x' }],
    ['emails[type pr]', { userName: 'x' }],
    ['emails[type eq null]', { userName: 'x' }],
  ])('fails with NO_TARGET when %p matches nothing and cannot be built from eq comparisons', (path, doc) => {
    const error = errorOf(() => patch(doc, { op: 'replace', path, value: path.endsWith(']') ? { value: 'x' } : 'x' }));
    expect(error.code).toBe('NO_TARGET');
  });

  it('moves primary to the value a filtered replace made primary', () => {
    const { document } = patch(user(), { op: 'replace', path: 'emails[type eq "home"].primary', value: 'True' });
    expect(document.emails).toEqual([
      { value: 'bjensen@example.com', type: 'work', primary: false },
      { value: 'babs@jensen.org', type: 'home', primary: true },
    ]);
  });

  it('coerces "False" for a boolean so re-validation and filters see a boolean (Entra ID disable)', () => {
    const { document } = patch(user(), { op: 'Replace', path: 'active', value: 'False' });
    expect(document.active).toBe(false);
    expect(parseResourceInput(User, document).attributes.active).toBe(false);
  });

  it('accepts a path-less replace of active (Okta deactivate)', () => {
    const { document, touched } = patch(user(), { op: 'replace', value: { active: false } });
    expect(document.active).toBe(false);
    expect(touched).toEqual(['active']);
  });

  it('removes an attribute replaced with null (RFC 7643 §2.5)', () => {
    const { document } = patch({ ...user(), nickName: 'B' }, { op: 'replace', path: 'nickName', value: null });
    expect(document).not.toHaveProperty('nickName');
  });

  it('takes dotted and URN-qualified keys of a path-less value (Entra ID)', () => {
    const { document, touched } = patch(user(), {
      op: 'replace',
      value: { 'name.givenName': 'Babs', [`${ENTERPRISE}:employeeNumber`]: '42', 'emails[type eq "work"].value': 'w@example.com' },
    });
    expect(document.name).toEqual({ givenName: 'Babs', familyName: 'Jensen' });
    expect(document[ENTERPRISE]).toEqual({ employeeNumber: '42', manager: { value: 'm-1', $ref: '../Users/m-1' } });
    expect((document.emails as JsonObject[])[0]).toEqual({ value: 'w@example.com', type: 'work', primary: true });
    expect(touched).toEqual(['name', ENTERPRISE, 'emails']);
  });

  it('takes an extension URN key with an object value', () => {
    const { document } = patch(user(), { op: 'replace', value: { [ENTERPRISE]: { department: 'Tour Operations', employeeNumber: '9' } } });
    expect(document[ENTERPRISE]).toEqual({
      employeeNumber: '9',
      department: 'Tour Operations',
      manager: { value: 'm-1', $ref: '../Users/m-1' },
    });
  });

  it('ignores id, meta and schemas in a path-less value and replaces the rest (Okta groups)', () => {
    const { document, touched, memberChanges } = patch(group(), {
      op: 'replace',
      value: { id: 'abf4dd94', displayName: 'Tour Guides EU', schemas: [SCHEMA.group], meta: { resourceType: 'Group' } },
    });
    expect(document).toEqual({ displayName: 'Tour Guides EU', externalId: 'g-ext' });
    expect(touched).toEqual(['displayName']);
    expect(memberChanges).toEqual([]);
  });

  it('ignores readOnly attributes in a path-less value as a full resource would (RFC 7643 §7)', () => {
    const { document, touched } = patch(user(), { op: 'replace', value: { groups: [], title: 'Guide' } });
    expect(document).not.toHaveProperty('groups');
    expect(document.title).toBe('Guide');
    expect(touched).toEqual(['title']);
  });

  it('patches externalId, a common attribute', () => {
    expect(patch(user(), { op: 'replace', path: 'externalId', value: 'ext-2' }).document.externalId).toBe('ext-2');
    expect(patch(user(), { op: 'replace', value: { externalId: 'ext-3' } }).document.externalId).toBe('ext-3');
    expect(patch(user(), { op: 'remove', path: 'externalId' }).document).not.toHaveProperty('externalId');
  });

  it('sets a clear password for the caller to hash', () => {
    const { document, touched } = patch(user(), { op: 'replace', path: 'password', value: 'n3w-Secret' });
    expect(parseResourceInput(User, document).password).toBe('n3w-Secret');
    expect(touched).toEqual(['password']);
  });
});

describe('applyPatch: remove (RFC 7644 §3.5.2.2)', () => {
  it('removes a single-valued attribute', () => {
    const { document, touched } = patch(user(), { op: 'remove', path: 'active' });
    expect(document).not.toHaveProperty('active');
    expect(touched).toEqual(['active']);
  });

  it('removes a sub-attribute, and the complex attribute with its last sub-attribute', () => {
    const once = patch(user(), { op: 'remove', path: 'name.givenName' }).document;
    expect(once.name).toEqual({ familyName: 'Jensen' });
    const twice = patch(user(), { op: 'remove', path: 'name.givenName' }, { op: 'remove', path: 'name.familyName' }).document;
    expect(twice).not.toHaveProperty('name');
  });

  it('removes the values a filter matches, and the attribute with its last value', () => {
    const { document } = patch(user(), { op: 'remove', path: 'emails[type eq "work" and value ew "example.com"]' });
    expect(document.emails).toEqual([{ value: 'babs@jensen.org', type: 'home' }]);
    const emptied = patch(user(), { op: 'remove', path: 'emails[value pr]' }).document;
    expect(emptied).not.toHaveProperty('emails');
  });

  it('does nothing when the filter matches no value', () => {
    const { document } = patch(user(), { op: 'remove', path: 'emails[type eq "other"]' });
    expect(document).toEqual(user());
  });

  it('removes a sub-attribute of the matching values only', () => {
    const { document } = patch(user(), { op: 'remove', path: 'addresses[type eq "work"].streetAddress' });
    expect(document.addresses).toEqual([{ type: 'work', locality: 'Hollywood', primary: true }]);
  });

  it('removes only the listed values when a multi-valued path comes with a value', () => {
    const { document } = patch(user(), { op: 'Remove', path: 'emails', value: [{ value: 'BABS@jensen.org' }] });
    expect(document.emails).toEqual([{ value: 'bjensen@example.com', type: 'work', primary: true }]);
  });

  it('removes an extension attribute, and the extension with its last attribute', () => {
    const once = patch(user(), { op: 'remove', path: `${ENTERPRISE}:employeeNumber` }).document;
    expect(once[ENTERPRISE]).toEqual({ manager: { value: 'm-1', $ref: '../Users/m-1' } });
    const twice = patch(user(), { op: 'remove', path: `${ENTERPRISE}:employeeNumber` }, { op: 'remove', path: `${ENTERPRISE}:manager` });
    expect(twice.document).not.toHaveProperty(ENTERPRISE);
    expect(twice.touched).toEqual([ENTERPRISE]);
  });

  it('removes a whole extension named by its URN', () => {
    const { document, touched } = patch(user(), { op: 'remove', path: ENTERPRISE });
    expect(document).not.toHaveProperty(ENTERPRISE);
    expect(touched).toEqual([ENTERPRISE]);
  });

  it('fails with NO_TARGET without a path', () => {
    const error = errorOf(() => applyPatch(User, user(), [{ op: 'remove' }]));
    expect(error.code).toBe('NO_TARGET');
  });
});

describe('applyPatch: the enterprise extension (Entra ID)', () => {
  it('resolves the URN prefix and the attribute name case-insensitively', () => {
    const { document } = patch(user(), { op: 'replace', path: `${ENTERPRISE.toUpperCase()}:EMPLOYEENUMBER`, value: '5' });
    expect(document[ENTERPRISE]).toEqual({ employeeNumber: '5', manager: { value: 'm-1', $ref: '../Users/m-1' } });
  });

  it('creates the extension on first use', () => {
    const { document } = patch({ userName: 'x' }, { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: '7' });
    expect(document).toEqual({ userName: 'x', [ENTERPRISE]: { employeeNumber: '7' } });
  });

  it('stores a manager sent as a one-element array as an object, replacing the previous manager whole', () => {
    const { document } = patch(user(), { op: 'Add', path: 'manager', value: [{ $ref: null, value: 'm-2' }] });
    expect(document[ENTERPRISE]).toEqual({ employeeNumber: '701984', manager: { $ref: null, value: 'm-2' } });
    expect(parseResourceInput(User, document).attributes[ENTERPRISE]).toBeDefined();
  });

  it('stores a manager sent as an object on the URN-qualified path', () => {
    const { document, touched } = patch({ userName: 'x' }, { op: 'Add', path: `${ENTERPRISE}:manager`, value: { value: 'm-3' } });
    expect(document[ENTERPRISE]).toEqual({ manager: { value: 'm-3' } });
    expect(touched).toEqual([ENTERPRISE]);
  });

  it('stores a manager sent as a bare id as { value }', () => {
    const { document } = patch({ userName: 'x' }, { op: 'Add', path: `${ENTERPRISE}:manager`, value: 'm-4' });
    expect(document[ENTERPRISE]).toEqual({ manager: { value: 'm-4' } });
  });

  it('sets manager.value on its own', () => {
    const { document } = patch(user(), { op: 'replace', path: `${ENTERPRISE}:manager.value`, value: 'm-5' });
    expect((document[ENTERPRISE] as JsonObject).manager).toEqual({ value: 'm-5', $ref: '../Users/m-1' });
  });

  it('replaces a whole extension named by its URN by merging its attributes', () => {
    const { document } = patch(user(), { op: 'replace', path: ENTERPRISE, value: { costCenter: 'CC1', employeeNumber: null } });
    expect(document[ENTERPRISE]).toEqual({ costCenter: 'CC1', manager: { value: 'm-1', $ref: '../Users/m-1' } });
  });
});

describe('applyPatch: group members become member changes', () => {
  const ID1 = '2819c223-7f76-453a-919d-413861904646';
  const ID2 = '902c246b-6245-4190-8e05-00816be7344a';

  it('adds members (RFC example) and never writes members into the document', () => {
    const { document, memberChanges, touched } = patch(group(), {
      op: 'add',
      path: 'members',
      value: [{ display: 'Babs Jensen', $ref: `https://example.com/v2/Users/${ID1}`, value: ID1 }],
    });
    expect(memberChanges).toEqual([{ kind: 'add', ids: [ID1] }]);
    expect(document).toEqual(group());
    expect(touched).toEqual(['members']);
  });

  it('adds several members with $ref null in one operation (Entra ID)', () => {
    const { memberChanges } = patch(group(), {
      op: 'Add',
      path: 'members',
      value: [
        { $ref: null, value: ID1 },
        { $ref: null, value: ID2 },
        { $ref: null, value: ID1 },
      ],
    });
    expect(memberChanges).toEqual([{ kind: 'add', ids: [ID1, ID2] }]);
  });

  it('adds a member given as a single object', () => {
    expect(patch(group(), { op: 'add', path: 'members', value: { value: ID1 } }).memberChanges).toEqual([{ kind: 'add', ids: [ID1] }]);
  });

  it('removes all members (RFC example)', () => {
    expect(patch(group(), { op: 'remove', path: 'members' }).memberChanges).toEqual([{ kind: 'removeAll' }]);
  });

  it('removes the listed members (Entra ID legacy form)', () => {
    const { memberChanges } = patch(group(), { op: 'Remove', path: 'members', value: [{ value: ID1 }, { value: ID2 }] });
    expect(memberChanges).toEqual([{ kind: 'remove', ids: [ID1, ID2] }]);
  });

  it('removes members[value eq "id"] by id, and an or of them', () => {
    expect(patch(group(), { op: 'remove', path: `members[value eq "${ID1}"]` }).memberChanges).toEqual([{ kind: 'remove', ids: [ID1] }]);
    expect(patch(group(), { op: 'remove', path: `members[value eq "${ID1}" or value eq "${ID2}"]` }).memberChanges).toEqual([
      { kind: 'remove', ids: [ID1, ID2] },
    ]);
  });

  it('removes members by any other filter over value and type with removeWhere', () => {
    const { memberChanges } = patch(group(), { op: 'remove', path: 'members[type eq "Group"]' });
    expect(memberChanges).toEqual([{ kind: 'removeWhere', filter: { op: 'eq', path: { attribute: 'type' }, value: 'Group' } }]);
    const mixed = patch(group(), { op: 'remove', path: `members[value eq "${ID1}" and type eq "User"]` }).memberChanges;
    expect(mixed).toEqual([{ kind: 'removeWhere', filter: expect.objectContaining({ op: 'and' }) }]);
  });

  it('keeps remove then add in order in one PATCH (Okta)', () => {
    const { memberChanges } = patch(
      group(),
      { op: 'remove', path: `members[value eq "${ID1}"]` },
      { op: 'add', path: 'members', value: [{ value: ID2, display: 'Ada' }] },
    );
    expect(memberChanges).toEqual([
      { kind: 'remove', ids: [ID1] },
      { kind: 'add', ids: [ID2] },
    ]);
  });

  it('replaces members as removeAll then add (RFC example)', () => {
    const { memberChanges } = patch(group(), { op: 'replace', path: 'members', value: [{ value: ID1 }, { value: ID2 }] });
    expect(memberChanges).toEqual([{ kind: 'removeAll' }, { kind: 'add', ids: [ID1, ID2] }]);
    expect(patch(group(), { op: 'replace', path: 'members', value: [] }).memberChanges).toEqual([{ kind: 'removeAll' }]);
  });

  it('takes members from a path-less value like the path forms', () => {
    const added = patch(group(), { op: 'add', value: { members: [{ value: ID1 }], displayName: 'X' } });
    expect(added.memberChanges).toEqual([{ kind: 'add', ids: [ID1] }]);
    expect(added.document.displayName).toBe('X');
    expect(added.touched).toEqual(['members', 'displayName']);
    expect(patch(group(), { op: 'replace', value: { Members: [{ value: ID2 }] } }).memberChanges).toEqual([
      { kind: 'removeAll' },
      { kind: 'add', ids: [ID2] },
    ]);
  });

  it('reports only members as touched for a members-only PATCH', () => {
    expect(patch(group(), { op: 'add', path: 'members', value: [{ value: ID1 }] }).touched).toEqual(['members']);
  });

  it.each([
    ['a member without a value', { op: 'add', path: 'members', value: [{ display: 'x' }] }, 'INVALID_INPUT'],
    ['a member value that is not a string', { op: 'add', path: 'members', value: [{ value: 7 }] }, 'INVALID_INPUT'],
    ['a member sub-attribute', { op: 'replace', path: 'members.value', value: 'x' }, 'MUTABILITY'],
    ['a member display', { op: 'replace', path: `members[value eq "${ID1}"].display`, value: 'x' }, 'MUTABILITY'],
    ['replace with a member filter', { op: 'replace', path: `members[value eq "${ID1}"]`, value: { value: ID2 } }, 'INVALID_PATH'],
    ['a member filter on display', { op: 'remove', path: 'members[display eq "x"]' }, 'INVALID_PATH'],
    ['a member filter on an unknown attribute', { op: 'remove', path: 'members[foo eq "x"]' }, 'INVALID_PATH'],
  ])('rejects %s', (_label, operation, code) => {
    expect(errorOf(() => patch(group(), operation)).code).toBe(code);
  });
});

describe('applyPatch: errors and atomicity', () => {
  it.each([
    ['an unknown attribute', { op: 'replace', path: 'shoeSize', value: 1 }, 'INVALID_PATH', 'shoeSize'],
    ['an unknown sub-attribute', { op: 'replace', path: 'name.nick', value: 'x' }, 'INVALID_PATH', 'name.nick'],
    ['a sub-attribute of a simple attribute', { op: 'replace', path: 'title.x', value: 'x' }, 'INVALID_PATH', 'title.x'],
    ['an unknown schema', { op: 'replace', path: 'urn:example:unknown:2.0:User:x', value: 1 }, 'INVALID_PATH', undefined],
    ['an unknown key in a path-less value', { op: 'add', value: { shoeSize: 1 } }, 'INVALID_PATH', 'shoeSize'],
    ['an unknown attribute in a value filter', { op: 'remove', path: 'emails[foo eq "x"]' }, 'INVALID_PATH', 'emails'],
    ['a value filter on a single-valued attribute', { op: 'remove', path: 'name[givenName eq "x"]' }, 'INVALID_PATH', 'name'],
    ['the readOnly groups', { op: 'add', path: 'groups', value: [{ value: 'g' }] }, 'MUTABILITY', 'groups'],
    ['the id', { op: 'replace', path: 'id', value: 'x' }, 'MUTABILITY', 'id'],
    ['meta', { op: 'replace', path: 'meta.lastModified', value: '2024-01-01T00:00:00Z' }, 'MUTABILITY', 'meta.lastModified'],
    ['schemas', { op: 'add', path: 'schemas', value: [ENTERPRISE] }, 'MUTABILITY', 'schemas'],
    ['the readOnly manager.displayName', { op: 'replace', path: `${ENTERPRISE}:manager.displayName`, value: 'x' }, 'MUTABILITY', undefined],
    ['a path-less value that is not an object', { op: 'replace', value: 'x' }, 'INVALID_INPUT', 'value'],
    ['a filtered replace with a scalar value', { op: 'replace', path: 'emails[type eq "work"]', value: 'x' }, 'INVALID_INPUT', undefined],
    ['a filter comparing a boolean with a number', { op: 'remove', path: 'emails[primary eq 1]' }, 'INVALID_FILTER', undefined],
  ])('rejects %s', (_label, operation, code, field) => {
    const error = errorOf(() => patch(user(), operation));
    expect(error.code).toBe(code);
    if (field !== undefined) expect(error.field).toBe(field);
  });

  it('does not mutate the input document', () => {
    const input = user();
    const snapshot = JSON.parse(JSON.stringify(input)) as JsonObject;
    patch(
      input,
      { op: 'add', path: 'emails', value: { value: 'n@example.com', primary: true } },
      { op: 'replace', path: 'name.givenName', value: 'X' },
      { op: 'remove', path: `${ENTERPRISE}:manager` },
      { op: 'remove', path: 'addresses[type eq "work"].locality' },
    );
    expect(input).toEqual(snapshot);
  });

  it('throws on a failing operation after successful ones, leaving the input untouched', () => {
    const input = user();
    const operations: PatchOperation[] = [
      { op: 'replace', path: { attribute: 'nickName' }, value: 'B' },
      { op: 'replace', path: { attribute: 'bogus' }, value: 1 },
    ];
    expect(() => applyPatch(User, input, operations)).toThrow(MeridianError);
    expect(input).not.toHaveProperty('nickName');
  });

  it('applies operations in order to one working copy', () => {
    const { document } = patch(
      { userName: 'x' },
      { op: 'add', path: 'emails', value: [{ value: 'a@example.com', type: 'work' }] },
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'b@example.com' },
      { op: 'add', path: 'emails', value: [{ value: 'c@example.com', type: 'home' }] },
      { op: 'remove', path: 'emails[value eq "b@example.com"]' },
    );
    expect(document.emails).toEqual([{ value: 'c@example.com', type: 'home' }]);
  });

  it('resolves attribute names case-insensitively to canonical keys', () => {
    const { document, touched } = patch(
      user(),
      { op: 'replace', path: 'NAME.GIVENNAME', value: 'B' },
      { op: 'replace', path: 'Emails[Type eq "WORK"].Value', value: 'w@example.com' },
      { op: 'add', path: 'DisplayName', value: 'Babs' },
    );
    expect(document.name).toEqual({ givenName: 'B', familyName: 'Jensen' });
    expect((document.emails as JsonObject[])[0]?.value).toBe('w@example.com');
    expect(document.displayName).toBe('Babs');
    expect(touched).toEqual(['name', 'emails', 'displayName']);
  });

  it('produces a document that parseResourceInput accepts (Entra ID PATCH)', () => {
    const { document } = patch(
      user(),
      { op: 'Replace', path: 'active', value: 'False' },
      { op: 'Add', path: 'nickName', value: 'Babs' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'w@example.com' },
      { op: 'Add', path: `${ENTERPRISE}:manager`, value: [{ $ref: 'https://example.com/Users/m-9', value: 'm-9' }] },
    );
    const input = parseResourceInput(User, document);
    expect(input.attributes).toMatchObject({
      active: false,
      nickName: 'Babs',
      [ENTERPRISE]: { employeeNumber: '701984', manager: { value: 'm-9', $ref: 'https://example.com/Users/m-9' } },
    });
    expect(input.externalId).toBe('ext-1');
  });
});
