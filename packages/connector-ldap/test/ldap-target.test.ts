import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ConnectorError, isConnectorError, type OutboundObject } from '@meridian/connector-sdk';
import { outboundGroup, outboundUser } from '@meridian/connector-sdk/testing';
import { Client } from 'ldapts';
import { type LdapConnector, ldapConnectorFactory } from '../src/index.js';
import { addContainer, BASE_DN, policyAddress, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd, testContext } from './slapd.js';

// The LDAP target beyond the conformance kit: membership deltas whose cost follows the change (10 and 10,000
// members), renames as modifyDN, the delete modes, TLS with a test CA, passwords only over TLS, and the
// outbound policy.

let slapd: Slapd;
let people: string;
let groups: string;
const secrets = { bindPassword: ROOT_PASSWORD };

beforeAll(async () => {
  slapd = await startSlapd({ tls: true });
  people = await addContainer(slapd, 'people');
  groups = await addContainer(slapd, 'groups');
}, 120_000);

afterAll(async () => {
  await slapd?.stop();
});

function connector(overrides: Record<string, unknown> = {}, allow = '127.0.0.1'): LdapConnector {
  const factory = ldapConnectorFactory({ connectAddress: policyAddress(allow) });
  const config = factory.validateConfig(
    {
      url: slapd.url,
      bindDn: ROOT_DN,
      baseDn: BASE_DN,
      users: { base: people, disable: { attribute: 'employeeType', value: 'disabled' } },
      groups: { base: groups },
      ...overrides,
    },
    secrets,
  );
  return factory.create(config, secrets, testContext()) as LdapConnector;
}

async function caught(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    if (isConnectorError(error)) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

/** Adds `count` users straight into slapd (fixtures) and answers their entryUUIDs. */
async function seedUsers(prefix: string, count: number): Promise<string[]> {
  const admin = await slapd.admin();
  try {
    for (let i = 0; i < count; i++) {
      await admin.add(`uid=${prefix}-${i},${people}`, {
        objectClass: ['inetOrgPerson'],
        uid: `${prefix}-${i}`,
        cn: `${prefix} ${i}`,
        sn: prefix,
      });
    }
    const ids: string[] = [];
    for await (const page of admin.searchPaginated(people, {
      scope: 'one',
      filter: `(uid=${prefix}-*)`,
      attributes: ['entryUUID'],
      paged: { pageSize: 1000 },
    })) {
      for (const entry of page.searchEntries) ids.push(String(entry.entryUUID));
    }
    return ids;
  } finally {
    await admin.unbind();
  }
}

async function memberCount(groupDn: string): Promise<number> {
  const admin = await slapd.admin();
  try {
    const { searchEntries } = await admin.search(groupDn, { scope: 'base', attributes: ['member'] });
    const value = searchEntries[0]?.member;
    return Array.isArray(value) ? value.length : value ? 1 : 0;
  } finally {
    await admin.unbind();
  }
}

describe('LDAP target: group membership as deltas', () => {
  it('adds and removes one member of a 10-member and of a 10,000-member group with the same operations', async () => {
    const costs: Record<string, number>[] = [];
    for (const size of [10, 10_000]) {
      const prefix = `m${size}`;
      const ids = await seedUsers(prefix, size + 1);
      const ldap = connector();
      const members = ids.slice(0, size).map((remoteId) => ({ kind: 'User' as const, localId: randomUUID(), remoteId }));
      const group = outboundGroup(randomUUID(), `group-${size}`, members);
      const ref = await ldap.create(group);
      expect(await memberCount(`cn=group-${size},${groups}`)).toBe(size);

      const before = { ...ldap.connection.counts };
      const newcomer = { kind: 'User' as const, localId: randomUUID(), remoteId: ids[size] as string };
      await ldap.updateMembers(ref, { add: [newcomer], remove: [ids[0] as string] });
      const after = ldap.connection.counts;
      const cost = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
      costs.push(cost);
      expect(await memberCount(`cn=group-${size},${groups}`)).toBe(size);
      // The same delta again changes nothing and fails nothing.
      await ldap.updateMembers(ref, { add: [newcomer], remove: [ids[0] as string] });
      expect(await memberCount(`cn=group-${size},${groups}`)).toBe(size);
      await ldap.close();
    }
    // One modify for the change, whatever the size of the group; the member values are never read.
    expect(costs[0]?.modify).toBe(1);
    expect(costs[1]).toEqual(costs[0]);
  }, 300_000);

  it('keeps a placeholder value while a group has no members', async () => {
    const [id] = await seedUsers('solo', 1);
    const ldap = connector();
    const ref = await ldap.create(outboundGroup(randomUUID(), 'empty-group'));
    expect((await ldap.get(ref))?.members).toEqual([]);
    await ldap.updateMembers(ref, { add: [{ kind: 'User', localId: randomUUID(), remoteId: id as string }], remove: [] });
    expect((await ldap.get(ref))?.members).toEqual([id]);
    expect(await memberCount(`cn=empty-group,${groups}`)).toBe(1);
    await ldap.updateMembers(ref, { add: [], remove: [id as string] });
    expect((await ldap.get(ref))?.members).toEqual([]);
    await ldap.close();
  });
});

describe('LDAP target: renames and delete modes', () => {
  it('renames a user with modifyDN, keeps its remote id and renames it in its groups', async () => {
    const ldap = connector();
    const user = outboundUser(randomUUID(), 'carol');
    const ref = await ldap.create(user);
    const groupRef = await ldap.create(
      outboundGroup(randomUUID(), 'carol-team', [{ kind: 'User', localId: user.localId, remoteId: ref.remoteId }]),
    );
    const renamed: OutboundObject = { ...user, version: 2, attributes: { ...user.attributes, userName: 'carol.smith' } };
    const before = ldap.connection.counts.modifyDN;
    const after = await ldap.update(ref, renamed);
    expect(ldap.connection.counts.modifyDN - before).toBe(1);
    expect(after.remoteId).toBe(ref.remoteId);
    expect((await ldap.get(ref))?.attributes.userName).toBe('carol.smith');
    const admin = await slapd.admin();
    const { searchEntries } = await admin.search(`cn=carol-team,${groups}`, { scope: 'base', attributes: ['member'] });
    await admin.unbind();
    expect(searchEntries[0]?.member).toBe(`uid=carol.smith,${people}`);
    expect((await ldap.get(groupRef))?.members).toEqual([ref.remoteId]);
    await ldap.close();
  });

  it('deactivates with the configured attribute, re-activates on update, and deletes out of its groups', async () => {
    const ldap = connector();
    const user = outboundUser(randomUUID(), 'dave');
    const ref = await ldap.create(user);
    const groupRef = await ldap.create(
      outboundGroup(randomUUID(), 'dave-team', [{ kind: 'User', localId: user.localId, remoteId: ref.remoteId }]),
    );
    await ldap.deactivate(ref);
    expect((await ldap.get(ref))?.attributes.active).toBe(false);
    await ldap.update(ref, { ...user, version: 2 });
    expect((await ldap.get(ref))?.attributes.active).toBe(true);
    await ldap.delete(ref);
    expect(await ldap.get(ref)).toBeUndefined();
    expect((await ldap.get(groupRef))?.members).toEqual([]);
    await ldap.close();
  });

  it('has no deactivate without a disable attribute (the engine then deletes)', () => {
    const ldap = connector({ users: { base: people } });
    expect(ldap.capabilities.deactivate).toBe(false);
  });
});

describe('LDAP target: TLS, passwords and the outbound policy', () => {
  it('pushes a password over ldaps:// with the test CA; the user can then bind with it', async () => {
    const ldap = connector({ url: slapd.ldapsUrl, caCertificate: slapd.caCertificate, supportsPassword: true });
    expect(ldap.capabilities.password).toBe(true);
    const ref = await ldap.create(outboundUser(randomUUID(), 'erin'));
    await ldap.setPassword(ref, 'Correct-Horse-Battery-9');
    const asErin = new Client({ url: slapd.url });
    await asErin.bind(`uid=erin,${people}`, 'Correct-Horse-Battery-9');
    await asErin.unbind();
    await ldap.close();
  });

  it('upgrades ldap:// with StartTLS and checks the certificate against the host name', async () => {
    const port = new URL(slapd.url).port;
    const ldap = connector({ url: `ldap://localhost:${port}`, startTls: true, caCertificate: slapd.caCertificate }, 'localhost');
    expect(await ldap.testConnection()).toMatchObject({ ok: true });
    await ldap.close();
  });

  it('refuses a server whose certificate it cannot verify, as a permanent failure', async () => {
    const ldap = connector({ url: slapd.ldapsUrl });
    const error = await caught(ldap.create(outboundUser(randomUUID(), 'frank')));
    expect(error.kind).toBe('permanent');
    expect(error.message).toMatch(/TLS .* failed/);
    await ldap.close();
  });

  it('takes passwords only over TLS', () => {
    const factory = ldapConnectorFactory({ connectAddress: policyAddress('127.0.0.1') });
    expect(() => factory.validateConfig({ url: slapd.url, bindDn: ROOT_DN, baseDn: BASE_DN, supportsPassword: true }, secrets)).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', field: 'config.supportsPassword' }),
    );
  });

  it('connects nowhere the outbound policy refuses', async () => {
    const ldap = connector({}, '');
    const error = await caught(ldap.create(outboundUser(randomUUID(), 'gina')));
    expect(error).toMatchObject({ kind: 'permanent', code: 'OUTBOUND_REFUSED' });
    expect(error.message).toContain("Refused by the hub's outbound request policy");
    await ldap.close();
  });

  it('reports a wrong bind password as UNAUTHORIZED without the password in the error', async () => {
    const factory = ldapConnectorFactory({ connectAddress: policyAddress('127.0.0.1') });
    const wrong = { bindPassword: 'not-the-password' };
    const config = factory.validateConfig({ url: slapd.url, bindDn: ROOT_DN, baseDn: BASE_DN }, wrong);
    const ldap = factory.create(config, wrong, testContext());
    const error = await caught(ldap.create(outboundUser(randomUUID(), 'hank')));
    expect(error).toMatchObject({ kind: 'permanent', code: 'UNAUTHORIZED' });
    expect(JSON.stringify({ message: error.message, request: error.request, response: error.response })).not.toContain('not-the-password');
  });
});
