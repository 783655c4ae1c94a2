import { describe, expect, it } from '@jest/globals';
import { diffAttributes, parseRetryAfter, redactSecrets } from '@meridian/connector-scim';
import { SCHEMA } from '@meridian/core';

describe('diffAttributes', () => {
  it('sends nothing for equal documents, whatever the key order or attribute-name case', () => {
    expect(
      diffAttributes(
        { userName: 'ada', name: { givenName: 'A', familyName: 'L' } },
        { username: 'ada', name: { familyName: 'L', givenName: 'A' } },
      ),
    ).toEqual([]);
  });

  it('replaces multi-valued attributes whole and treats null and [] as absent', () => {
    expect(
      diffAttributes(
        { emails: [{ value: 'a@x', type: 'work' }], phoneNumbers: [{ value: '1' }], nickName: null },
        { emails: [{ value: 'b@x', type: 'work' }], phoneNumbers: [], roles: [] },
      ),
    ).toEqual([
      { op: 'replace', path: 'emails', value: [{ value: 'b@x', type: 'work' }] },
      { op: 'remove', path: 'phoneNumbers' },
    ]);
  });

  it('addresses extension attributes and their sub-attributes by URN, and never diffs read-only or member attributes', () => {
    const ext = SCHEMA.enterpriseUser;
    expect(
      diffAttributes(
        { id: '1', meta: {}, schemas: [SCHEMA.user], groups: [{ value: 'g' }], [ext]: { manager: { value: 'm1' }, costCenter: 'C' } },
        { schemas: [SCHEMA.user, ext], members: [{ value: 'x' }], [ext]: { manager: { value: 'm2' }, division: 'D' } },
      ),
    ).toEqual([
      { op: 'replace', path: `${ext}:manager.value`, value: 'm2' },
      { op: 'remove', path: `${ext}:costCenter` },
      { op: 'replace', path: `${ext}:division`, value: 'D' },
    ]);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2026-11-26T08:00:00Z');
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Thu, 26 Nov 2026 08:00:30 GMT', 30_000],
    ['Thu, 26 Nov 2026 07:00:00 GMT', 0],
    ['soon', undefined],
  ])('%j is %p ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('redacts password values, including in PATCH operations and URN-qualified keys', () => {
    expect(
      redactSecrets({
        userName: 'ada',
        password: 'p1',
        'urn:example:User:password': 'p2',
        Operations: [
          { op: 'replace', path: 'password', value: 'p3' },
          { op: 'replace', value: { password: 'p4', title: 'x' } },
        ],
      }),
    ).toEqual({
      userName: 'ada',
      password: '[REDACTED]',
      'urn:example:User:password': '[REDACTED]',
      Operations: [
        { op: 'replace', path: 'password', value: '[REDACTED]' },
        { op: 'replace', value: { password: '[REDACTED]', title: 'x' } },
      ],
    });
  });
});
