import { describe, expect, it } from '@jest/globals';
import { clientMetadataOf } from '../src/adapter.js';
import { escapeHtml, loginPage } from '../src/pages.js';
import { releaseClaims } from '../src/release.js';
import { scimUserOfClaims } from '../src/scim-me.js';

// Issue 15: what one ID token or userinfo answer releases, and what the pages promise.

describe('releaseClaims', () => {
  const rp = { claims: ['name', 'email', 'phone_number'] as never };
  const values = { name: 'Ada', email: 'ada@example.org', phone_number: '+44', title: 'Engineer' };

  it('releases the scopes’ claims the registration allows and the grant did not reject', () => {
    expect(
      releaseClaims({ rp, scope: 'openid profile email phone', claimsParameter: undefined, rejected: ['phone_number'], values }),
    ).toEqual(['name', 'email']);
  });

  it('adds single claims asked with the claims parameter, never one outside the registration', () => {
    expect(releaseClaims({ rp, scope: 'openid', claimsParameter: { email: null, title: null }, rejected: [], values })).toEqual(['email']);
  });

  it('releases nothing for openid alone', () => {
    expect(releaseClaims({ rp, scope: 'openid', claimsParameter: undefined, rejected: [], values })).toEqual([]);
  });
});

describe('client metadata', () => {
  it('makes a public client authenticate with nothing and never use client credentials', () => {
    const metadata = clientMetadataOf({
      id: 'i',
      communityId: 'c',
      clientId: 'rp_public',
      secretHash: null,
      name: 'SPA',
      clientType: 'public',
      redirectUris: ['http://localhost:3000/cb'],
      postLogoutRedirectUris: [],
      claims: ['email'],
      optionalClaims: [],
      maxCacheSeconds: 60,
      consent: 'required',
      subjectType: 'pairwise',
      clientCredentials: true,
      backchannelLogoutUri: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    expect(metadata).toMatchObject({
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      subject_type: 'pairwise',
    });
    expect(metadata).not.toHaveProperty('client_secret');
  });
});

describe('the sign-in page', () => {
  it('escapes what it shows and allows only its own style', () => {
    expect(escapeHtml(`<a href="x">'`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;');
    const page = loginPage(
      { name: '<CoI>', colour: 'red;}body{display:none' },
      { action: '/oidc/coi/interaction/u1', clientName: 'Wiki"><script>', userName: 'ada' },
      ['https://wiki.example'],
    );
    expect(page.html).not.toContain('<script>');
    expect(page.html).not.toContain('display:none');
    expect(page.html).toContain('<h1>&#60;CoI&#62;</h1>');
    expect(page.html).toContain('autocomplete="username"');
    expect(page.headers['content-security-policy']).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; img-src 'self'; form-action 'self' https:\/\/wiki\.example; frame-ancestors 'none'; base-uri 'none'$/,
    );
  });
});

describe('scimUserOfClaims', () => {
  it('names each released claim as SCIM does, with the enterprise extension only when it has a value', () => {
    expect(
      scimUserOfClaims(
        { sub: 'p1', given_name: 'Ada', department: 'R&D', employee_number: '7', meridian_max_cache: 60, title: '' },
        'https://hub/oidc/coi/scim/v2/Me',
      ),
    ).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      id: 'p1',
      name: { givenName: 'Ada' },
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'R&D', employeeNumber: '7' },
      meta: { resourceType: 'User', location: 'https://hub/oidc/coi/scim/v2/Me' },
    });
  });
});
