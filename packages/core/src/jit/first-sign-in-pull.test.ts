import { describe, expect, it } from '@jest/globals';
import type { InboundSource } from '../sources/inbound-source.js';
import { accountBodyOf, firstSignInLookup } from './first-sign-in-pull.js';

const source = (config: Record<string, unknown>): InboundSource => ({
  id: 's',
  tenantId: 't',
  name: 'hr',
  kind: 'scim',
  config,
  secretNames: ['token'],
  deletionThresholdPercent: 20,
  fullSyncIntervalSeconds: 86_400,
  cursor: null,
  lastSyncAt: null,
  lastFullSyncAt: null,
  syncIntervalSeconds: null,
  lastSyncStatus: null,
  lastSyncError: null,
  lastSyncCounts: null,
  createdAt: new Date(0),
});

describe('firstSignInLookup', () => {
  it('is off without firstSignIn in the config', () => {
    expect(firstSignInLookup(source({ baseUrl: 'https://hr.example/scim/v2' }))).toBeUndefined();
  });

  it('compares the subject with externalId, the e-mail address with emails.value and the userName with userName', () => {
    expect(firstSignInLookup(source({ firstSignIn: { lookupBy: 'subject' } }))).toEqual({ by: 'subject', attribute: 'externalId' });
    expect(firstSignInLookup(source({ firstSignIn: {} }))).toEqual({ by: 'email', attribute: 'emails.value' });
    expect(firstSignInLookup(source({ firstSignIn: { lookupBy: 'userName' } }))).toEqual({ by: 'userName', attribute: 'userName' });
  });

  it('takes another attribute when the office names one', () => {
    expect(firstSignInLookup(source({ firstSignIn: { lookupBy: 'email', attribute: 'userName' } }))).toEqual({
      by: 'email',
      attribute: 'userName',
    });
  });
});

describe('accountBodyOf', () => {
  it('declares the core schema and each extension the entry carries', () => {
    const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    expect(accountBodyOf({ userName: 'ada', [enterprise]: { department: 'R&D' } })).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', enterprise],
      userName: 'ada',
      [enterprise]: { department: 'R&D' },
    });
  });
});
