import { describe, expect, it } from '@jest/globals';
import { officeOfEmail, parseEmailDomains } from './upstream.js';

describe('email domains of offices (issue 15)', () => {
  it('are lowercase, without a leading @, de-duplicated and sorted; anything else is INVALID_INPUT', () => {
    expect(parseEmailDomains(['B.example', '@a.example,b.example', ' '])).toEqual(['a.example', 'b.example']);
    expect(() => parseEmailDomains(['localhost'])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'domains' }));
    expect(() => parseEmailDomains(['a..example'])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('name the office of an email user name only when exactly one office has its domain', () => {
    const offices = [
      { slug: 'emea', domains: ['emea.example', 'shared.example'] },
      { slug: 'amer', domains: ['amer.example', 'shared.example'] },
    ];
    expect(officeOfEmail('kim@EMEA.example', offices)).toBe('emea');
    expect(officeOfEmail('kim@shared.example', offices)).toBeUndefined();
    expect(officeOfEmail('kim@other.example', offices)).toBeUndefined();
    expect(officeOfEmail('kim', offices)).toBeUndefined();
    expect(officeOfEmail('kim@', offices)).toBeUndefined();
  });
});
