import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gql } from '@meridian/test-utils/apps';
import { addContainer, ROOT_DN, ROOT_PASSWORD, type Slapd, startSlapd } from '../../connector-ldap/test/slapd.js';
import { type HubHarness, startHub } from './harness.js';

// A source that cannot be read, through GraphQL, as a new user meets it: an LDAP source with a wrong bind
// password answered "Internal server error.", and one whose host refused the connection answered "The
// database is unavailable" (the connector error's ECONNREFUSED cause read as the hub's own database).

const WRONG_PASSWORD = 'not-the-ldap-password';

let hub: HubHarness;
let slapd: Slapd;
let people: string;

beforeAll(async () => {
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  slapd = await startSlapd();
  people = await addContainer(slapd, 'people');
}, 120_000);

afterAll(async () => {
  await slapd?.stop();
  await hub?.close();
});

async function createSource(name: string, url: string, bindPassword: string): Promise<void> {
  const res = await gql(
    hub.app,
    hub.tenants.emea.token,
    'mutation($i: InboundSourceInput!) { createInboundSource(tenant: "emea", input: $i) { id } }',
    { i: { name, kind: 'ldap', config: { url, bindDn: ROOT_DN, baseDn: people }, secrets: { bindPassword } } },
  );
  expect(res.body.errors).toBeUndefined();
}

describe('a source that cannot be read, in GraphQL', () => {
  it('names a refused bind as the source configuration, not an internal error, and never shows the password', async () => {
    await createSource('wrong-password', slapd.url, WRONG_PASSWORD);
    for (const query of [
      'mutation { syncInboundSource(tenant: "emea", source: "wrong-password", dryRun: true) { status } }',
      'mutation { syncInboundSource(tenant: "emea", source: "wrong-password") { status } }',
      'mutation { testInboundSource(tenant: "emea", source: "wrong-password", email: "ada@office.example") { remoteId } }',
    ]) {
      const res = await gql(hub.app, hub.tenants.emea.token, query);
      expect(res.body.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_CONFIG', field: 'config' } });
      expect(res.body.errors?.[0]?.message).toContain("The source 'wrong-password' could not be read");
      expect(res.body.errors?.[0]?.message).toContain('invalidCredentials');
      expect(JSON.stringify(res.body)).not.toContain(WRONG_PASSWORD);
    }
    const status = await gql(
      hub.app,
      hub.tenants.emea.token,
      'query { inboundSource(tenant: "emea", source: "wrong-password") { lastSyncStatus lastSyncError } }',
    );
    expect(status.body.data?.inboundSource).toMatchObject({ lastSyncStatus: 'failed' });
  });

  it('names an unreachable directory as unavailable, not as the hub database', async () => {
    const closed = new URL(slapd.url);
    closed.port = '1';
    await createSource('unreachable', closed.href.replace(/\/$/, ''), ROOT_PASSWORD);
    const res = await gql(
      hub.app,
      hub.tenants.emea.token,
      'mutation { syncInboundSource(tenant: "emea", source: "unreachable", dryRun: true) { status } }',
    );
    expect(res.body.errors?.[0]).toMatchObject({ extensions: { code: 'UNAVAILABLE' } });
    expect(res.body.errors?.[0]?.message).toContain("The source 'unreachable' could not be read");
    expect(res.body.errors?.[0]?.message).not.toContain('database');
  });
});
