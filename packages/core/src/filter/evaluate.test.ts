import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import type { AttributeDefinition } from '../scim/schema-types.js';
import { groupSchema, userSchema } from '../scim/schemas.js';
import { matchesFilter } from './evaluate.js';
import { parseScimFilter } from './parse.js';

function subAttributesOf(name: string, attributes: AttributeDefinition[] = userSchema.attributes): AttributeDefinition[] {
  const def = attributes.find((a) => a.name === name);
  if (!def?.subAttributes) throw new TypeError(`${name} has no sub-attributes`);
  return def.subAttributes;
}

const emailSubs = subAttributesOf('emails');
const memberSubs = subAttributesOf('members', groupSchema.attributes);

function attr(name: string, type: AttributeDefinition['type'], caseExact = false): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description: name,
    required: false,
    caseExact,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
  };
}

const typedSubs = [
  attr('code', 'string', true),
  attr('label', 'string'),
  attr('level', 'integer'),
  attr('ratio', 'decimal'),
  attr('since', 'dateTime'),
  attr('enabled', 'boolean'),
  attr('blob', 'binary'),
  { ...attr('tags', 'string'), multiValued: true },
];

const work = { value: 'Ada@Example.com', type: 'work', primary: true };
const home = { value: 'ada@home.example', type: 'home' };

function matches(value: unknown, filter: string, subs: AttributeDefinition[] = emailSubs): boolean {
  return matchesFilter(value, parseScimFilter(filter), subs);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof MeridianError ? error.code : 'not a MeridianError';
  }
  return undefined;
}

describe('matchesFilter (RFC 7644 §3.4.2.2, one value of a multi-valued attribute)', () => {
  it('selects the value of emails[type eq "work"] and not the others', () => {
    expect(matches(work, 'type eq "work"')).toBe(true);
    expect(matches(home, 'type eq "work"')).toBe(false);
  });

  it('compares strings case-insensitively unless the sub-attribute is caseExact', () => {
    expect(matches(work, 'type eq "WORK"')).toBe(true);
    expect(matches(work, 'value eq "ada@example.com"')).toBe(true);
    expect(matches({ code: 'AbC' }, 'code eq "abc"', typedSubs)).toBe(false);
    expect(matches({ code: 'AbC' }, 'code eq "AbC"', typedSubs)).toBe(true);
    expect(matches({ code: 'AbC' }, 'code sw "ab"', typedSubs)).toBe(false);
  });

  it('resolves attribute names case-insensitively in the filter and in the value', () => {
    expect(matches(work, 'TYPE eq "work"')).toBe(true);
    expect(matches({ Type: 'work' }, 'type eq "work"')).toBe(true);
  });

  it('implements every string operator', () => {
    const label = { label: 'Platform Team' };
    expect(matches(label, 'label ne "other"', typedSubs)).toBe(true);
    expect(matches(label, 'label ne "platform team"', typedSubs)).toBe(false);
    expect(matches(label, 'label co "FORM t"', typedSubs)).toBe(true);
    expect(matches(label, 'label co "x"', typedSubs)).toBe(false);
    expect(matches(label, 'label sw "plat"', typedSubs)).toBe(true);
    expect(matches(label, 'label sw "team"', typedSubs)).toBe(false);
    expect(matches(label, 'label ew "TEAM"', typedSubs)).toBe(true);
    expect(matches(label, 'label ew "plat"', typedSubs)).toBe(false);
    expect(matches(label, 'label gt "platform"', typedSubs)).toBe(true);
    expect(matches(label, 'label ge "platform team"', typedSubs)).toBe(true);
    expect(matches(label, 'label lt "platform"', typedSubs)).toBe(false);
    expect(matches(label, 'label le "PLATFORM TEAM"', typedSubs)).toBe(true);
  });

  it('compares numbers numerically', () => {
    const value = { level: 10, ratio: 0.5 };
    expect(matches(value, 'level eq 10', typedSubs)).toBe(true);
    expect(matches(value, 'level gt 9', typedSubs)).toBe(true);
    expect(matches(value, 'level gt 10', typedSubs)).toBe(false);
    expect(matches(value, 'level ge 10', typedSubs)).toBe(true);
    expect(matches(value, 'level lt 2', typedSubs)).toBe(false);
    expect(matches(value, 'ratio le 0.5', typedSubs)).toBe(true);
    expect(matches(value, 'ratio ne 0.5', typedSubs)).toBe(false);
  });

  it('compares dateTimes as instants, not as text', () => {
    const value = { since: '2024-01-01T10:00:00+02:00' };
    expect(matches(value, 'since eq "2024-01-01T08:00:00Z"', typedSubs)).toBe(true);
    expect(matches(value, 'since gt "2024-01-01T07:59:59.999Z"', typedSubs)).toBe(true);
    // As text "2024-01-01T10…" > "2024-01-01T09…", as instants 08:00Z < 09:00Z.
    expect(matches(value, 'since lt "2024-01-01T09:00:00Z"', typedSubs)).toBe(true);
    expect(matches(value, 'since ge "2024-01-02T00:00:00Z"', typedSubs)).toBe(false);
  });

  it('compares booleans, accepting "True"/"False" strings on either side', () => {
    expect(matches(work, 'primary eq true')).toBe(true);
    expect(matches(work, 'primary eq false')).toBe(false);
    expect(matches(home, 'primary ne true')).toBe(true);
    expect(matches({ primary: 'True' }, 'primary eq true')).toBe(true);
    expect(matches(work, 'primary eq "TRUE"')).toBe(true);
  });

  it('tests presence with pr: empty strings and empty arrays are not present', () => {
    expect(matches(work, 'primary pr')).toBe(true);
    expect(matches(home, 'primary pr')).toBe(false);
    expect(matches({ value: '' }, 'value pr')).toBe(false);
    expect(matches({ tags: [] }, 'tags pr', typedSubs)).toBe(false);
    expect(matches({ tags: ['a'] }, 'tags pr', typedSubs)).toBe(true);
  });

  it('treats eq null as absence and ne null as presence', () => {
    expect(matches(home, 'primary eq null')).toBe(true);
    expect(matches(work, 'primary eq null')).toBe(false);
    expect(matches(work, 'primary ne null')).toBe(true);
  });

  it('lets ne match an unassigned attribute and nothing else match it', () => {
    expect(matches(home, 'display ne "x"')).toBe(true);
    expect(matches(home, 'display eq "x"')).toBe(false);
    expect(matches(home, 'display co "x"')).toBe(false);
  });

  it('matches a multi-valued sub-attribute when any of its values matches', () => {
    expect(matches({ tags: ['red', 'Blue'] }, 'tags eq "blue"', typedSubs)).toBe(true);
    expect(matches({ tags: ['red'] }, 'tags eq "blue"', typedSubs)).toBe(false);
  });

  it('combines with and, or, not and grouping', () => {
    expect(matches(work, 'type eq "work" and primary eq true')).toBe(true);
    expect(matches(home, 'type eq "work" and primary eq true')).toBe(false);
    expect(matches(home, 'type eq "work" or value ew "home.example"')).toBe(true);
    expect(matches(home, 'not (type eq "work")')).toBe(true);
    expect(matches(work, 'not (type eq "work" or type eq "home")')).toBe(false);
    expect(matches(work, '(type eq "home" or type eq "work") and not (primary eq false)')).toBe(true);
  });

  it('evaluates member filters (value, type) for remove members[...]', () => {
    const member = { value: 'g-1', type: 'Group' };
    expect(matches(member, 'type eq "Group" and value sw "g-"', memberSubs)).toBe(true);
    expect(matches(member, 'type eq "User"', memberSubs)).toBe(false);
  });

  it('compares a simple value itself through the name `value`', () => {
    expect(matchesFilter('Admin', parseScimFilter('value eq "admin"'), [])).toBe(true);
    expect(matchesFilter('Admin', parseScimFilter('value eq "user"'), [])).toBe(false);
  });

  it('compares an attribute without a definition the way its literal is typed', () => {
    expect(matches({ extra: 'Yes' }, 'extra eq "yes"', [])).toBe(true);
    expect(matches({ extra: 3 }, 'extra gt 2', [])).toBe(true);
    expect(matches({ extra: true }, 'extra eq true', [])).toBe(true);
  });

  it('evaluates a nested value path against the sub-attributes of the complex attribute', () => {
    const user = { emails: [home, work] };
    expect(matchesFilter(user, parseScimFilter('emails[type eq "work" and primary eq true]'), userSchema.attributes)).toBe(true);
    expect(matchesFilter(user, parseScimFilter('emails[type eq "other"]'), userSchema.attributes)).toBe(false);
  });

  it.each([
    ['primary gt true', emailSubs],
    ['primary co "t"', emailSubs],
    ['primary eq 1', emailSubs],
    ['level eq "10"', typedSubs],
    ['level co 1', typedSubs],
    ['since gt "yesterday"', typedSubs],
    ['since sw "2024"', typedSubs],
    ['label eq 3', typedSubs],
    ['label gt null', typedSubs],
    ['blob gt "AAAA"', typedSubs],
  ])('rejects %p with INVALID_FILTER (RFC 7644 §3.4.2.2)', (filter, subs) => {
    expect(codeOf(() => matches({ primary: true, level: 10, since: '2024-01-01T00:00:00Z', label: 'x', blob: 'AAAA' }, filter, subs))).toBe(
      'INVALID_FILTER',
    );
  });
});
