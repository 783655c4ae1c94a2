import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isConnectorError } from '@meridian/connector-sdk';
import type { InboundSource } from '@meridian/core';
import { LdapSourceReader } from '../src/index.js';
import { addContainer, BASE_DN, policyAddress, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd } from './slapd.js';

// What a new user gets wrong first when adding an office's directory as a source, tried against a real slapd:
// a base DN that does not exist read as an empty directory (a full sync would then delete every account the
// source feeds), and a wrong password that said only "Code: 0x31" because slapd sends no diagnostic text.

let slapd: Slapd;
let people: string;

beforeAll(async () => {
  slapd = await startSlapd();
  people = await addContainer(slapd, 'people');
  const admin = await slapd.admin();
  try {
    await admin.add(`uid=ada,${people}`, { objectClass: ['inetOrgPerson'], uid: 'ada', cn: 'Ada Lovelace', sn: 'Lovelace' });
  } finally {
    await admin.unbind();
  }
}, 120_000);

afterAll(async () => {
  await slapd?.stop();
});

function source(config: Record<string, unknown>): InboundSource {
  return {
    id: '01900000-0000-7000-8000-000000000001',
    tenantId: '01900000-0000-7000-8000-000000000002',
    name: 'office',
    kind: 'ldap',
    config: { url: slapd.url, bindDn: ROOT_DN, baseDn: people, ...config },
    secretNames: ['bindPassword'],
    deletionThresholdPercent: 20,
    fullSyncIntervalSeconds: 86_400,
    syncIntervalSeconds: null,
    cursor: null,
    lastSyncAt: null,
    lastFullSyncAt: null,
    lastSyncStatus: null,
    lastSyncError: null,
    lastSyncCounts: null,
    createdAt: new Date(),
  };
}

async function failure(work: Promise<unknown>): Promise<Error> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error('expected the call to fail');
  return error;
}

describe('LDAP source errors a new user meets', () => {
  const reader = new LdapSourceReader(policyAddress('127.0.0.1'));

  it('reads the entries under an existing base DN', async () => {
    const read = await reader.read(source({}), { bindPassword: ROOT_PASSWORD }, null);
    expect(read.entries.map((entry) => entry.attributes.userName)).toEqual(['ada']);
  });

  it('refuses a missing base DN instead of reading it as an empty directory', async () => {
    const missing = `ou=nope,${BASE_DN}`;
    const error = await failure(reader.read(source({ baseDn: missing }), { bindPassword: ROOT_PASSWORD }, null));
    expect(isConnectorError(error) && error.code).toBe('NOT_FOUND');
    expect(error.message).toContain(`base DN '${missing}' does not exist`);
    const lookup = await failure(
      reader.lookup(source({ baseDn: missing }), { bindPassword: ROOT_PASSWORD }, { attribute: 'userName', value: 'ada' }),
    );
    expect(lookup.message).toContain(`base DN '${missing}' does not exist`);
  });

  it('names a wrong password as invalid credentials, without the password', async () => {
    const error = await failure(reader.read(source({}), { bindPassword: 'not-the-password' }, null));
    expect(isConnectorError(error) && error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain('invalidCredentials: wrong bind DN or password (result 49)');
    expect(error.message).not.toContain('Code: 0x');
    expect(error.message).not.toContain('not-the-password');
  });
});
