import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import { claimsOfScopes, consentedClaims, consentItems, parseSsoClaims, releasedClaims } from './claims.js';
import { parseRedirectUri, parseRelyingParty } from './relying-party.js';

describe('parseSsoClaims', () => {
  it('takes claim names and SCIM paths, case-insensitively, in catalogue order', () => {
    expect(parseSsoClaims('emails, name.GIVENNAME ,preferred_username,email')).toEqual(['preferred_username', 'given_name', 'email']);
    expect(parseSsoClaims(['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department'])).toEqual(['department']);
  });

  it('names an unknown claim', () => {
    expect(() => parseSsoClaims('email,password')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'claims' }));
    expect(() => parseSsoClaims('password')).toThrow(/Unknown claim 'password'/);
  });
});

describe('release (use case 3.5)', () => {
  const registration = { claims: parseSsoClaims('name,email,phone_number'), optionalClaims: parseSsoClaims('phone_number') };

  it('asks only about claims asked for and registered, marking optional ones', () => {
    expect(consentItems(claimsOfScopes(['openid', 'profile', 'phone', 'organization']), registration)).toEqual([
      { claim: 'name', description: 'your full name', optional: false },
      { claim: 'phone_number', description: 'your phone number', optional: true },
    ]);
  });

  it('keeps required items and the optional ones the person kept', () => {
    const items = consentItems(['name', 'email', 'phone_number'], registration);
    expect(consentedClaims(items, [])).toEqual(['name', 'email']);
    expect(consentedClaims(items, ['phone_number', 'title'])).toEqual(['name', 'email', 'phone_number']);
    expect(() => consentedClaims(items, [], true)).toThrow(MeridianError);
  });

  it.each([
    ['everything', ['name', 'email', 'title'], ['name', 'email', 'title'], ['name', 'email', 'title'], ['name', 'email', 'title']],
    ['not asked', ['name'], ['name', 'email'], ['name', 'email'], ['name']],
    ['not registered', ['name', 'title'], ['name'], ['name', 'title'], ['name']],
    ['refused', ['name', 'email'], ['name', 'email'], ['name'], ['name']],
  ])('releases asked ∩ allowed ∩ consented ∩ present: %s', (_case, asked, allowed, consented, expected) => {
    const values = { name: 'Ada', email: 'ada@example.org', title: 'Engineer', phone_number: '' };
    expect(releasedClaims({ asked, allowed, consented, values })).toEqual(expected);
  });

  it('releases nothing the person has no value for', () => {
    expect(releasedClaims({ asked: ['phone_number'], allowed: ['phone_number'], consented: ['phone_number'], values: {} })).toEqual([]);
  });
});

describe('parseRelyingParty', () => {
  const base = { community: 'coi', name: 'Wiki', redirectUris: ['https://wiki.example/cb'], claims: 'email' };

  it('fills the defaults', () => {
    expect(parseRelyingParty(base, 'c1')).toMatchObject({
      communityId: 'c1',
      clientType: 'confidential',
      consent: 'required',
      subjectType: 'public',
      maxCacheSeconds: 86_400,
      optionalClaims: [],
      clientCredentials: false,
      backchannelLogoutUri: null,
    });
  });

  it.each([
    ['http://wiki.example/cb', 'https'],
    ['https://wiki.example/cb#x', 'fragment'],
    ['https://user:pw@wiki.example/cb', 'https'],
    ['wiki.example/cb', 'https'],
  ])('refuses the redirect URI %s', (uri, words) => {
    expect(() => parseRedirectUri(uri)).toThrow(new RegExp(words));
  });

  it('accepts loopback http (RFC 8252 §7.3)', () => {
    expect(parseRedirectUri('http://127.0.0.1:8080/cb')).toBe('http://127.0.0.1:8080/cb');
  });

  it('refuses optional claims outside the claims, and client credentials for a public client', () => {
    expect(() => parseRelyingParty({ ...base, optionalClaims: 'title' }, 'c1')).toThrow(/among the claims/);
    expect(() => parseRelyingParty({ ...base, clientType: 'public', clientCredentials: true }, 'c1')).toThrow(/public client/);
    expect(() => parseRelyingParty({ ...base, maxCacheSeconds: -1 }, 'c1')).toThrow(/maxCacheSeconds/);
    expect(() =>
      parseRelyingParty({ ...base, subjectType: 'pairwise', redirectUris: ['https://a.example/cb', 'https://b.example/cb'] }, 'c1'),
    ).toThrow(/one host/);
    expect(
      parseRelyingParty({ ...base, subjectType: 'pairwise', redirectUris: ['https://a.example/cb', 'https://A.example:8443/x'] }, 'c1'),
    ).toMatchObject({ subjectType: 'pairwise' });
  });
});
