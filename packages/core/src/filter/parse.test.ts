import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import { parseScimFilter } from './parse.js';

describe('parseScimFilter (RFC 7644 §3.4.2.2)', () => {
  it('parses comparisons with typed values', () => {
    expect(parseScimFilter('userName eq "bjensen"')).toEqual({ op: 'eq', path: { attribute: 'userName' }, value: 'bjensen' });
    expect(parseScimFilter('active EQ True')).toEqual({ op: 'eq', path: { attribute: 'active' }, value: true });
    expect(parseScimFilter('x.y gt -1.5e2')).toEqual({ op: 'gt', path: { attribute: 'x', subAttribute: 'y' }, value: -150 });
    expect(parseScimFilter('title pr')).toEqual({ op: 'pr', path: { attribute: 'title' } });
  });

  it('gives and precedence over or, and honours not and parentheses', () => {
    expect(parseScimFilter('a eq 1 or b eq 2 and c eq 3')).toEqual({
      op: 'or',
      left: { op: 'eq', path: { attribute: 'a' }, value: 1 },
      right: { op: 'and', left: { op: 'eq', path: { attribute: 'b' }, value: 2 }, right: { op: 'eq', path: { attribute: 'c' }, value: 3 } },
    });
    expect(parseScimFilter('not (a pr)')).toEqual({ op: 'not', filter: { op: 'pr', path: { attribute: 'a' } } });
  });

  it('parses URN-qualified paths and value filters', () => {
    expect(parseScimFilter('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"')).toEqual({
      op: 'eq',
      path: { schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', attribute: 'manager', subAttribute: 'value' },
      value: '1',
    });
    expect(parseScimFilter('emails[type eq "work"].value eq "x"')).toEqual({
      op: 'valuePath',
      path: { attribute: 'emails' },
      filter: {
        op: 'and',
        left: { op: 'eq', path: { attribute: 'type' }, value: 'work' },
        right: { op: 'eq', path: { attribute: 'value' }, value: 'x' },
      },
    });
  });

  it.each([
    '',
    'userName',
    'userName eq',
    'userName zz "x"',
    '(a eq 1',
    'a eq "unterminated',
    'emails[type eq "w"',
    'a eq 1 b',
    'emails[x[y eq 1]]',
    'userName eq "\\u0000"',
    'emails[value co "a\u0000b"]',
  ])('rejects %p with INVALID_FILTER', (text) => {
    expect(() => parseScimFilter(text)).toThrow(MeridianError);
    try {
      parseScimFilter(text);
    } catch (error) {
      expect((error as MeridianError).code).toBe('INVALID_FILTER');
    }
  });

  it('enforces length and depth limits', () => {
    expect(() => parseScimFilter(`a eq "${'x'.repeat(5000)}"`)).toThrow(/longer than/);
    expect(() => parseScimFilter(`${'('.repeat(40)}a pr${')'.repeat(40)}`)).toThrow(/deeper than/);
  });
});
