import { describe, expect, it } from '@jest/globals';
import { accountValuesOf, correlationKeys } from '../community/global-directory.js';
import { MeridianError } from '../errors/meridian-error.js';
import { parseScimFilter } from '../filter/parse.js';
import { applyPatch } from '../patch/apply.js';
import { parsePatchRequest } from '../patch/parse.js';
import { ATTRIBUTE_LIMITS, DEFAULT_MAX_LENGTH, MAX_VALUES, maxLengthOf, maxValuesOf, textProblem } from './input-limits.js';
import { parseResourceInput } from './resource-input.js';
import { type ResourceShape, resourceShapes } from './resource-types.js';
import { parseSchemaExtension, shapeWithExtensions } from './schema-extension.js';
import type { AttributeDefinition } from './schema-types.js';
import { SCHEMA } from './schemas.js';

// Issue 12: long strings answered 500 (btree index row size) or poisoned the global directory, and a lone
// surrogate in externalId was stored as U+FFFD. One rule for every string, limits defined here once.

function errorOf(run: () => unknown): MeridianError {
  try {
    run();
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
  throw new Error('expected a MeridianError');
}

/** `n` characters of 4 UTF-8 bytes each (CJK Extension B), varied so that nothing compresses them. */
function wide(n: number): string {
  return Array.from({ length: n }, (_, i) => String.fromCodePoint(0x20000 + ((i * 7919) % 0xa6d0))).join('');
}

const EXTENSION = 'urn:example:params:scim:schemas:extension:acme:2.0:User';
const acme = shapeWithExtensions('User', [
  parseSchemaExtension({
    id: EXTENSION,
    name: 'Acme',
    resourceType: 'User',
    attributes: [
      { name: 'badge', type: 'string' },
      { name: 'homepage', type: 'reference' },
      { name: 'tags', type: 'string', multiValued: true },
      { name: 'desk', type: 'complex', subAttributes: [{ name: 'room', type: 'string' }] },
    ],
  }),
]);

/** A body that sets `path` (sub-attribute after a dot) of `schema` to `value`, as a client would send it. */
function bodyWith(shape: ResourceShape, schema: string | undefined, path: string, value: unknown): Record<string, unknown> {
  const base: Record<string, unknown> = shape.kind === 'User' ? { userName: 'u' } : { displayName: 'g' };
  if (schema === undefined) return { ...base, [path]: value };
  const [name, sub] = path.split('.') as [string, string | undefined];
  const def = [shape.core, ...shape.extensions]
    .find((s) => s.id === schema)
    ?.attributes.find((a) => a.name === name) as AttributeDefinition;
  const inner = sub === undefined ? value : { [sub]: value };
  const attribute = def.multiValued ? [inner] : inner;
  return schema === shape.core.id ? { ...base, [name]: attribute } : { ...base, [schema]: { [name]: attribute } };
}

/** How an error names an attribute: core paths as they are, extension paths after their URN and a colon, with list indexes. */
function fieldOf(shape: ResourceShape, schema: string | undefined, path: string): string {
  const [name, sub] = path.split('.') as [string, string | undefined];
  const def = [shape.core, ...shape.extensions].find((s) => s.id === schema)?.attributes.find((a) => a.name === name);
  const head = schema === undefined || schema === shape.core.id ? name : `${schema}:${name}`;
  return `${head}${def?.multiValued ? '[0]' : ''}${sub === undefined ? '' : `.${sub}`}`;
}

describe('the length limit of every attribute (regression: a userName of 2,700 characters answered 500)', () => {
  const cases = ATTRIBUTE_LIMITS.filter((l) => l.schema !== undefined).map((l) => {
    const kind = l.schema === SCHEMA.group ? ('Group' as const) : ('User' as const);
    return [kind, l.schema as string, l.attribute, l.maxLength] as const;
  });

  it.each(cases)('%s %s %s: %d characters pass, one more is INVALID_INPUT naming it', (kind, schema, path, max) => {
    const shape = resourceShapes[kind];
    expect(() => parseResourceInput(shape, bodyWith(shape, schema, path, wide(max)))).not.toThrow();
    const error = errorOf(() => parseResourceInput(shape, bodyWith(shape, schema, path, wide(max + 1))));
    const field = fieldOf(shape, schema, path);
    expect({ code: error.code, field: error.field, message: error.message }).toEqual({
      code: 'INVALID_INPUT',
      field,
      message: `Attribute '${field}' must be at most ${max} characters long (it has ${max + 1}).`,
    });
  });

  it.each(['User', 'Group'] as const)('%s externalId: 512 characters pass, 513 are INVALID_INPUT naming it', (kind) => {
    expect(
      parseResourceInput(resourceShapes[kind], { ...bodyWith(resourceShapes[kind], undefined, 'externalId', wide(512)) }).externalId,
    ).toBe(wide(512));
    const error = errorOf(() =>
      parseResourceInput(resourceShapes[kind], bodyWith(resourceShapes[kind], undefined, 'externalId', wide(513))),
    );
    expect([error.code, error.field, error.message]).toEqual([
      'INVALID_INPUT',
      'externalId',
      "Attribute 'externalId' must be at most 512 characters long (it has 513).",
    ]);
  });

  it('counts characters, not UTF-16 units: 256 astral characters are 512 units and still pass', () => {
    expect(wide(256).length).toBe(512);
    expect(parseResourceInput(resourceShapes.User, { userName: wide(256) }).attributes.userName).toBe(wide(256));
  });

  it.each([
    ['addresses', 'formatted', 'addresses[0].formatted', 1024],
    ['entitlements', 'value', 'entitlements[0].value', 1024],
    ['emails', 'display', 'emails[0].display', 1024],
    ['x509Certificates', 'value', 'x509Certificates[0].value', 16_384],
  ])('any other core sub-attribute is bounded too: %s.%s at %d', (name, sub, field, max) => {
    expect(() => parseResourceInput(resourceShapes.User, { userName: 'u', [name]: [{ [sub]: 'a'.repeat(max) }] })).not.toThrow();
    const error = errorOf(() => parseResourceInput(resourceShapes.User, { userName: 'u', [name]: [{ [sub]: 'a'.repeat(max + 1) }] }));
    expect([error.field, error.message]).toEqual([
      field,
      `Attribute '${field}' must be at most ${max} characters long (it has ${max + 1}).`,
    ]);
  });

  it.each([
    [{ badge: 'b'.repeat(1025) }, `${EXTENSION}:badge`, 1024],
    [{ homepage: `https://x/${'p'.repeat(2040)}` }, `${EXTENSION}:homepage`, 2048],
    [{ tags: ['ok', 't'.repeat(1025)] }, `${EXTENSION}:tags[1]`, 1024],
    [{ desk: { room: 'r'.repeat(1025) } }, `${EXTENSION}:desk.room`, 1024],
  ])('attributes of a tenant extension take the default of their type: %j', (values, field, max) => {
    const error = errorOf(() => parseResourceInput(acme, { userName: 'u', [EXTENSION]: values }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(new RegExp(`^Attribute '.+' must be at most ${max} characters long \\(it has \\d+\\)\\.$`));
  });

  it('publishes the defaults and the lookup the docs table is made of', () => {
    expect(DEFAULT_MAX_LENGTH).toEqual({ string: 1024, reference: 2048, binary: 16_384 });
    expect(maxLengthOf(SCHEMA.user, 'NAME.FAMILYNAME')).toBe(256);
    expect(maxLengthOf(EXTENSION, 'badge', 'string')).toBe(1024);
    expect(maxLengthOf(undefined, 'externalId')).toBe(512);
  });
});

describe('the cap on multi-valued attributes', () => {
  it(`accepts ${MAX_VALUES} emails and refuses one more, naming the attribute`, () => {
    const emails = (n: number) => Array.from({ length: n }, (_, i) => ({ value: `u${i}@example.com` }));
    expect(() => parseResourceInput(resourceShapes.User, { userName: 'u', emails: emails(MAX_VALUES) })).not.toThrow();
    const error = errorOf(() => parseResourceInput(resourceShapes.User, { userName: 'u', emails: emails(MAX_VALUES + 1) }));
    expect([error.code, error.field, error.message]).toEqual([
      'INVALID_INPUT',
      'emails',
      `Attribute 'emails' has ${MAX_VALUES + 1} values; at most ${MAX_VALUES} are accepted.`,
    ]);
  });

  it('applies to multi-valued extension attributes too', () => {
    const error = errorOf(() => parseResourceInput(acme, { userName: 'u', [EXTENSION]: { tags: Array.from({ length: 101 }, String) } }));
    expect([error.field, error.message]).toEqual([
      `${EXTENSION}:tags`,
      `Attribute '${EXTENSION}:tags' has 101 values; at most 100 are accepted.`,
    ]);
  });

  it('leaves Group members to the body size: a group of 5,000 members parses', () => {
    const members = Array.from({ length: 5000 }, (_, i) => ({ value: `m${i}` }));
    expect((parseResourceInput(resourceShapes.Group, { displayName: 'g', members }).attributes.members as unknown[]).length).toBe(5000);
    expect(maxValuesOf(SCHEMA.group, 'members')).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('one text rule for every string (regression: a lone surrogate in externalId was stored as U+FFFD)', () => {
  it.each([
    ['User', { userName: 'u', externalId: 'a\ud800b' }, 'externalId', 'D800', 2],
    ['Group', { displayName: 'g', externalId: '\udc00' }, 'externalId', 'DC00', 1],
    ['User', { userName: 'x\udbff' }, 'userName', 'DBFF', 2],
    ['User', { userName: 'u', name: { familyName: '\ud83d' } }, 'name.familyName', 'D83D', 1],
    ['User', { userName: 'u', emails: [{ value: 'ok@example.com' }, { value: 'a@\ude00' }] }, 'emails[1].value', 'DE00', 3],
    ['User', { userName: 'u', password: 'p\ud800' }, 'password', 'D800', 2],
    [
      'User',
      { userName: 'u', [SCHEMA.enterpriseUser]: { manager: { value: '\ud800x' } } },
      `${SCHEMA.enterpriseUser}:manager.value`,
      'D800',
      1,
    ],
    ['Group', { displayName: 'g', members: [{ value: '\ud800' }] }, 'members[0].value', 'D800', 1],
  ] as const)('refuses a %s with %j as INVALID_INPUT naming %s', (kind, body, field, hex, at) => {
    const error = errorOf(() => parseResourceInput(resourceShapes[kind], body));
    expect([error.code, error.field, error.message]).toEqual([
      'INVALID_INPUT',
      field,
      `Attribute '${field}' must be well-formed Unicode: it has an unpaired surrogate (U+${hex}) at character ${at}.`,
    ]);
  });

  it('keeps well-formed text outside the BMP, and a surrogate pair counts as one character', () => {
    expect(parseResourceInput(resourceShapes.User, { userName: 'u', externalId: 'emoji-😀' }).externalId).toBe('emoji-😀');
    expect(textProblem('😀', 1)).toBeUndefined();
    expect(textProblem('😀😀', 1)).toBe('must be at most 1 characters long (it has 2)');
  });

  it('finds NUL before length, so the message says what to fix first', () => {
    expect(textProblem(`\u0000${'a'.repeat(10)}`, 5)).toBe('must not contain the NUL character (U+0000)');
  });

  it('refuses a member id of a PATCH that breaks it, naming members.value', () => {
    const ops = parsePatchRequest({
      schemas: [SCHEMA.patchOp],
      Operations: [{ op: 'add', path: 'members', value: [{ value: 'm\u0000' }] }],
    });
    const error = errorOf(() => applyPatch(resourceShapes.Group, { displayName: 'g' }, ops));
    expect([error.code, error.field, error.message]).toEqual([
      'INVALID_INPUT',
      'members.value',
      "Attribute 'members.value' must not contain the NUL character (U+0000).",
    ]);
  });

  it('refuses a filter string that breaks it as INVALID_FILTER', () => {
    const error = errorOf(() => parseScimFilter('externalId eq "\ud800"'));
    expect([error.code, error.message]).toEqual([
      'INVALID_FILTER',
      'The string at position 14 must be well-formed Unicode: it has an unpaired surrogate (U+D800) at character 1.',
    ]);
  });
});

describe('the global directory never receives what it cannot index (values stored before the limits)', () => {
  it('leaves out of an account values longer than their limit, and keys of a too long userName or externalId', () => {
    const values = accountValuesOf({
      userName: 'u',
      displayName: 'd'.repeat(257),
      name: { formatted: 'Formatted Name', familyName: wide(300) },
      emails: [{ value: `${'e'.repeat(300)}@example.com`, primary: true }, { value: 'ok@example.com' }],
      title: 'Engineer',
      [SCHEMA.enterpriseUser]: { department: 'x'.repeat(5000), employeeNumber: 'E1' },
    });
    expect(values).toEqual({ displayName: 'Formatted Name', email: 'ok@example.com', title: 'Engineer', employeeNumber: 'E1' });
    expect(
      correlationKeys({ userName: 'u'.repeat(257), externalId: 'x'.repeat(513), values }, ['userName', 'externalId', 'employeeNumber']),
    ).toEqual(['employeeNumber:E1']);
  });
});
