import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import { parseResourceInput } from './resource-input.js';
import { resourceShapes } from './resource-types.js';
import { SCHEMA } from './schemas.js';

function errorOf(run: () => unknown): MeridianError {
  try {
    run();
  } catch (error) {
    if (error instanceof MeridianError) return error;
    throw error;
  }
  throw new Error('expected a MeridianError');
}

// Regression (issue 4, fuzzing): PostgreSQL text and jsonb cannot hold U+0000, so
// `{"displayName": "g\u0000"}` failed in the database and answered 500.
describe('regression: a NUL character in a string attribute answered 500', () => {
  it.each([
    ['Group', { displayName: 'g\u0000' }, 'displayName'],
    ['User', { userName: 'a\u0000b' }, 'userName'],
    ['User', { userName: 'u', name: { givenName: '\u0000' } }, 'name.givenName'],
    ['User', { userName: 'u', emails: [{ value: 'x\u0000@example.com' }] }, 'emails[0].value'],
    ['User', { userName: 'u', password: 'p\u0000' }, 'password'],
    ['User', { userName: 'u', externalId: 'e\u0000' }, 'externalId'],
    ['User', { userName: 'u', [SCHEMA.enterpriseUser]: { employeeNumber: '\u0000' } }, `${SCHEMA.enterpriseUser}:employeeNumber`],
  ] as const)('refuses a %s with NUL in %j as INVALID_INPUT naming the attribute', (kind, body, field) => {
    const error = errorOf(() => parseResourceInput(resourceShapes[kind], body));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
    expect(error.message).toBe(`Attribute '${field}' must not contain the NUL character (U+0000).`);
  });

  it('still accepts other control characters and non-ASCII text', () => {
    expect(parseResourceInput(resourceShapes.Group, { displayName: 'tab\there ✓' }).attributes.displayName).toBe('tab\there ✓');
  });
});
