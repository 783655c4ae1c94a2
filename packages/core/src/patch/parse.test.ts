import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import { SCHEMA } from '../scim/schemas.js';
import { parsePatchPath, parsePatchRequest } from './parse.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function errorOf(fn: () => unknown): MeridianError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
  throw new Error('expected a MeridianError');
}

function body(...operations: unknown[]): unknown {
  return { schemas: [SCHEMA.patchOp], Operations: operations };
}

describe('parsePatchPath (RFC 7644 §3.5.2 PATH)', () => {
  it('parses attribute and sub-attribute paths', () => {
    expect(parsePatchPath('nickName')).toEqual({ attribute: 'nickName' });
    expect(parsePatchPath('name.familyName')).toEqual({ attribute: 'name', subAttribute: 'familyName' });
  });

  it('splits a URN-qualified path at the last colon before the attribute', () => {
    expect(parsePatchPath(`${ENTERPRISE}:employeeNumber`)).toEqual({ schema: ENTERPRISE, attribute: 'employeeNumber' });
    expect(parsePatchPath(`${ENTERPRISE}:manager.value`)).toEqual({ schema: ENTERPRISE, attribute: 'manager', subAttribute: 'value' });
    expect(parsePatchPath(`${SCHEMA.user}:userName`)).toEqual({ schema: SCHEMA.user, attribute: 'userName' });
  });

  it('parses value filter paths with and without a trailing sub-attribute', () => {
    expect(parsePatchPath('emails[type eq "work"]')).toEqual({
      attribute: 'emails',
      filter: { op: 'eq', path: { attribute: 'type' }, value: 'work' },
    });
    expect(parsePatchPath('emails[type eq "work"].value')).toEqual({
      attribute: 'emails',
      subAttribute: 'value',
      filter: { op: 'eq', path: { attribute: 'type' }, value: 'work' },
    });
    expect(parsePatchPath('members[value eq "2819c223-7f76-453a-919d-413861904646"]')).toEqual({
      attribute: 'members',
      filter: { op: 'eq', path: { attribute: 'value' }, value: '2819c223-7f76-453a-919d-413861904646' },
    });
  });

  it('keeps brackets and dots inside filter strings', () => {
    expect(parsePatchPath('emails[value eq "a]b[c.d"].display')).toEqual({
      attribute: 'emails',
      subAttribute: 'display',
      filter: { op: 'eq', path: { attribute: 'value' }, value: 'a]b[c.d' },
    });
  });

  it('parses boolean logic inside a value filter', () => {
    expect(parsePatchPath('addresses[type eq "work" and not (primary eq false)].locality')).toEqual({
      attribute: 'addresses',
      subAttribute: 'locality',
      filter: {
        op: 'and',
        left: { op: 'eq', path: { attribute: 'type' }, value: 'work' },
        right: { op: 'not', filter: { op: 'eq', path: { attribute: 'primary' }, value: false } },
      },
    });
  });

  it('parses a URN-qualified value filter path', () => {
    expect(parsePatchPath(`${SCHEMA.user}:emails[type eq "work"]`)).toEqual({
      schema: SCHEMA.user,
      attribute: 'emails',
      filter: { op: 'eq', path: { attribute: 'type' }, value: 'work' },
    });
  });

  it.each([
    '',
    'name.',
    'name.given.family',
    'a b',
    '1abc',
    'urn:foo:',
    'emails[type eq "work"',
    'emails[type eq "work"]value',
    'emails[type eq "work"].value.x',
    'emails[type eq "work"] or x pr',
    'name.givenName[type eq "x"]',
    '[type eq "work"]',
    'emails]',
  ])('rejects %p with INVALID_PATH on field path', (text) => {
    const error = errorOf(() => parsePatchPath(text));
    expect(error.code).toBe('INVALID_PATH');
    expect(error.field).toBe('path');
  });

  it.each(['emails[]', 'emails[type eq]', 'emails[type zz "x"]', 'emails[a[b eq 1]]', 'emails[x.y eq 1]'])(
    'rejects the malformed value filter of %p with INVALID_FILTER (RFC 7644 §3.12)',
    (text) => {
      const error = errorOf(() => parsePatchPath(text));
      expect(error.code).toBe('INVALID_FILTER');
      expect(error.field).toBe('path');
    },
  );
});

describe('parsePatchRequest (RFC 7644 §3.5.2)', () => {
  it('returns the operations in order with parsed paths', () => {
    expect(
      parsePatchRequest(
        body(
          { op: 'add', path: 'emails', value: [{ value: 'a@example.com' }] },
          { op: 'remove', path: 'emails[type eq "home"]' },
          { op: 'replace', value: { displayName: 'Ada' } },
        ),
      ),
    ).toEqual([
      { op: 'add', path: { attribute: 'emails' }, value: [{ value: 'a@example.com' }] },
      { op: 'remove', path: { attribute: 'emails', filter: { op: 'eq', path: { attribute: 'type' }, value: 'home' } } },
      { op: 'replace', value: { displayName: 'Ada' } },
    ]);
  });

  it('accepts capitalised op names (Entra ID)', () => {
    const ops = parsePatchRequest(
      body({ op: 'Replace', path: 'active', value: 'False' }, { op: 'Add', path: 'nickName', value: 'B' }, { op: 'Remove', path: 'title' }),
    );
    expect(ops.map((o) => o.op)).toEqual(['replace', 'add', 'remove']);
    expect(ops[0]?.value).toBe('False');
  });

  it('treats a null path as no path', () => {
    expect(parsePatchRequest(body({ op: 'replace', path: null, value: { active: false } }))).toEqual([
      { op: 'replace', value: { active: false } },
    ]);
  });

  it('keeps a null value, which means unassigned (RFC 7643 §2.5)', () => {
    expect(parsePatchRequest(body({ op: 'replace', path: 'nickName', value: null }))).toEqual([
      { op: 'replace', path: { attribute: 'nickName' }, value: null },
    ]);
  });

  it('keeps the value list of a legacy remove (Entra ID members)', () => {
    expect(parsePatchRequest(body({ op: 'Remove', path: 'members', value: [{ value: 'u1' }] }))).toEqual([
      { op: 'remove', path: { attribute: 'members' }, value: [{ value: 'u1' }] },
    ]);
  });

  it('reads message attribute names case-insensitively (RFC 7643 §2.1)', () => {
    const ops = parsePatchRequest({ Schemas: [SCHEMA.patchOp.toUpperCase()], operations: [{ OP: 'add', Path: 'title', Value: 'x' }] });
    expect(ops).toEqual([{ op: 'add', path: { attribute: 'title' }, value: 'x' }]);
  });

  it.each([
    ['a non-object body', [], 'INVALID_SYNTAX', undefined],
    ['missing schemas', { Operations: [{ op: 'add', value: {} }] }, 'INVALID_SYNTAX', 'schemas'],
    ['the wrong schema', { schemas: [SCHEMA.user], Operations: [{ op: 'add', value: {} }] }, 'INVALID_SYNTAX', 'schemas'],
    ['schemas as a string', { schemas: SCHEMA.patchOp, Operations: [{ op: 'add', value: {} }] }, 'INVALID_SYNTAX', 'schemas'],
    ['missing Operations', { schemas: [SCHEMA.patchOp] }, 'INVALID_SYNTAX', 'Operations'],
    ['empty Operations', body(), 'INVALID_SYNTAX', 'Operations'],
    ['Operations as an object', { schemas: [SCHEMA.patchOp], Operations: { op: 'add' } }, 'INVALID_SYNTAX', 'Operations'],
    ['an operation that is not an object', body('add'), 'INVALID_SYNTAX', 'Operations[0]'],
    ['an unknown op', body({ op: 'merge', path: 'title', value: 'x' }), 'INVALID_SYNTAX', 'Operations[0].op'],
    ['a missing op', body({ path: 'title', value: 'x' }), 'INVALID_SYNTAX', 'Operations[0].op'],
    ['add without a value', body({ op: 'add', path: 'title' }), 'INVALID_SYNTAX', 'Operations[0].value'],
    ['replace without a value', body({ op: 'add', path: 'title', value: 'x' }, { op: 'replace' }), 'INVALID_SYNTAX', 'Operations[1].value'],
    ['remove without a path', body({ op: 'remove' }), 'NO_TARGET', 'Operations[0].path'],
    ['a path that is not a string', body({ op: 'remove', path: 3 }), 'INVALID_PATH', 'path'],
    ['a malformed path', body({ op: 'remove', path: 'name..x' }), 'INVALID_PATH', 'path'],
  ])('rejects %s', (_label, input, code, field) => {
    const error = errorOf(() => parsePatchRequest(input));
    expect(error.code).toBe(code);
    expect(error.field).toBe(field);
  });
});
