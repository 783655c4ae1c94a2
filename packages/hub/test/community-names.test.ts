import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type GqlResponse, gql, type Json, scimClient } from '@meridian/test-utils/apps';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { type HubHarness, startHub } from './harness.js';

// Issue 12 (ADR 0019): names a community chooses are its own. Tenant slugs and trusted issuers (issuer, audience)
// are unique per community: one community admin can neither see that another community uses a name (every
// answer is the one a name nobody uses gets) nor block it from using the same name. A token from an IdP that
// several communities trust acts in the one community whose configuration it matches by audience and signature,
// and is refused when it matches more than one: never mixed.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };

let hub: HubHarness;
let jwks: Server;
let base: string;
const scim = scimClient(() => hub.app);
const admins = {} as Record<'coi' | 'other', string>;
const keys = {} as Record<'idp' | 'rogue', { privateKey: CryptoKey; publicKey: CryptoKey }>;

beforeAll(async () => {
  keys.idp = await generateKeyPair('ES256', { extractable: true });
  keys.rogue = await generateKeyPair('ES256', { extractable: true });
  const sets = {
    '/idp': { keys: [{ ...(await exportJWK(keys.idp.publicKey)), kid: 'idp', alg: 'ES256', use: 'sig' }] },
    '/rogue': { keys: [{ ...(await exportJWK(keys.rogue.publicKey)), kid: 'idp', alg: 'ES256', use: 'sig' }] },
  } as Record<string, unknown>;
  jwks = createServer((request, response) => {
    const set = sets[request.url ?? ''];
    if (!set) return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(set));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;

  // The harness has two communities: coi (tenant emea) and other (tenant apac).
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  admins.coi = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
  admins.other = (await hub.runtime.admin.issueToken(platform, { community: 'other', role: 'community_admin' }, ctx)).token;
});
afterAll(async () => {
  await hub.close();
  await new Promise((resolve) => jwks.close(resolve));
});

const CREATE_TENANT = 'mutation ($slug: String!, $c: String!) { createTenant(slug: $slug, name: "Office", community: $c) { id slug } }';
const TENANT = 'query ($s: String!) { tenant(slug: $s) { id slug } }';

/** The error a caller gets, without the name it asked for (which its message repeats). */
function errorShape(body: GqlResponse['body'], name: string): Json[] | undefined {
  return body.errors?.map((e) => ({ ...e, message: String(e.message).replace(name, '<name>') }));
}

describe('tenant slugs are unique per community', () => {
  let otherEmea: string;
  let coiApac: string;

  it("lets a community use a slug another community has, without telling it (regression: createTenant said 'A tenant with this slug already exists.')", async () => {
    const res = await gql(hub.app, admins.other, CREATE_TENANT, { slug: 'emea', c: 'other' });
    expect(res.body.errors).toBeUndefined();
    otherEmea = (res.body.data as { createTenant: { id: string } }).createTenant.id;
    expect(otherEmea).not.toBe(hub.tenants.emea.id);
    const back = await gql(hub.app, admins.coi, CREATE_TENANT, { slug: 'apac', c: 'coi' });
    expect(back.body.errors).toBeUndefined();
    coiApac = (back.body.data as { createTenant: { id: string } }).createTenant.id;
  });

  it('refuses a slug taken in the caller’s own community, and says so', async () => {
    const res = await gql(hub.app, admins.other, CREATE_TENANT, { slug: 'EMEA', c: 'other' });
    expect(res.body).toEqual({
      data: null,
      errors: [
        {
          message: "The community already has a tenant with the slug 'emea'.",
          path: ['createTenant'],
          extensions: { code: 'UNIQUENESS', field: 'slug' },
        },
      ],
    });
  });

  it('reads a slug in the caller’s community: each admin gets its own emea', async () => {
    expect((await gql(hub.app, admins.coi, TENANT, { s: 'emea' })).body.data?.tenant).toEqual({ id: hub.tenants.emea.id, slug: 'emea' });
    expect((await gql(hub.app, admins.other, TENANT, { s: 'emea' })).body.data?.tenant).toEqual({ id: otherEmea, slug: 'emea' });
    expect((await gql(hub.app, admins.other, TENANT, { s: 'apac' })).body.data?.tenant).toEqual({ id: hub.tenants.apac.id, slug: 'apac' });
    expect((await gql(hub.app, admins.coi, TENANT, { s: 'apac' })).body.data?.tenant).toEqual({ id: coiApac, slug: 'apac' });
    // A tenant token reads its own tenant by slug, not the other community's namesake.
    expect((await gql(hub.app, hub.tenants.emea.token, TENANT, { s: 'emea' })).body.data?.tenant).toEqual({
      id: hub.tenants.emea.id,
      slug: 'emea',
    });
  });

  it('answers a name of another community exactly as a name nobody uses', async () => {
    const nobody = await gql(hub.app, admins.coi, TENANT, { s: 'nosuch' });
    expect(errorShape(nobody.body, 'nosuch')).toEqual([
      { message: "Tenant '<name>' not found.", path: ['tenant'], extensions: { code: 'NOT_FOUND', field: 'tenant' } },
    ]);
    for (const name of ['other/emea', 'other/apac', otherEmea, hub.tenants.apac.id]) {
      const res = await gql(hub.app, admins.coi, TENANT, { s: name });
      expect([name, errorShape(res.body, name)]).toEqual([name, errorShape(nobody.body, 'nosuch')]);
    }
    // Another community, named to create a tenant in or to list: the answer of a community that does not exist.
    const nope = await gql(hub.app, admins.coi, CREATE_TENANT, { slug: 'x1', c: 'nope' });
    const other = await gql(hub.app, admins.coi, CREATE_TENANT, { slug: 'x1', c: 'other' });
    expect(errorShape(other.body, 'other')).toEqual(errorShape(nope.body, 'nope'));
    const list = 'query ($c: String) { tenants(community: $c) { totalCount } }';
    expect((await gql(hub.app, admins.coi, list, { c: 'other' })).body).toEqual((await gql(hub.app, admins.coi, list, { c: 'nope' })).body);
    // Tokens for another community's tenant: the same.
    const token = 'mutation ($t: String) { createToken(tenant: $t, role: "provisioner") { token } }';
    expect(errorShape((await gql(hub.app, admins.coi, token, { t: 'other/emea' })).body, 'other/emea')).toEqual(
      errorShape((await gql(hub.app, admins.coi, token, { t: 'nosuch' })).body, 'nosuch'),
    );
  });

  it('makes the platform admin name a slug that several communities use by its community, or by id', async () => {
    const ambiguous = await gql(hub.app, hub.adminToken, TENANT, { s: 'emea' });
    expect(ambiguous.body.errors).toEqual([
      {
        message: "Several communities have a tenant 'emea': name it as <community>/emea or by its id.",
        path: ['tenant'],
        extensions: { code: 'INVALID_INPUT', field: 'tenant' },
      },
    ]);
    expect((await gql(hub.app, hub.adminToken, TENANT, { s: 'coi/emea' })).body.data?.tenant).toEqual({
      id: hub.tenants.emea.id,
      slug: 'emea',
    });
    expect((await gql(hub.app, hub.adminToken, TENANT, { s: 'other/EMEA' })).body.data?.tenant).toEqual({ id: otherEmea, slug: 'emea' });
    expect((await gql(hub.app, hub.adminToken, TENANT, { s: otherEmea })).body.data?.tenant).toEqual({ id: otherEmea, slug: 'emea' });
  });

  it('takes <community>/<slug> on the CLI, and names the ambiguity of a bare slug', async () => {
    const meridian = async (...args: string[]) => {
      const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: hub.db.url, LOG_LEVEL: 'silent' };
      delete env.REDIS_URL;
      try {
        return { code: 0, ...(await run(process.execPath, [main, ...args], { env })) };
      } catch (error) {
        return error as { code: number; stdout: string; stderr: string };
      }
    };
    const ambiguous = await meridian('token', 'list', '--tenant', 'emea', '--json');
    expect(ambiguous.code).toBe(1);
    expect(JSON.parse(ambiguous.stderr)).toEqual({
      error: { code: 'INVALID_INPUT', message: "Several communities have a tenant 'emea': name it as <community>/emea or by its id." },
    });
    const qualified = await meridian('token', 'create', '--tenant', 'other/emea', '--role', 'provisioner', '--json');
    expect(qualified.code).toBe(0);
    expect(JSON.parse(qualified.stdout)).toMatchObject({ tenantId: otherEmea });
  });
});

describe('trusted issuers are unique per community', () => {
  const ADD = `mutation ($i: TrustedIssuerInput!) { addTrustedIssuer(input: $i) { id issuer audience tenantId communityId } }`;
  const issuer = (community: string, iss: string, aud: string, jwksPath = '/idp', extra: Json = {}) => ({
    i: {
      community,
      issuer: `${base}${iss}`,
      audience: aud,
      jwksUri: `${base}${jwksPath}`,
      algorithms: ['ES256'],
      roleMap: [{ claimValue: 'reader', role: 'hr_reader' }],
      ...extra,
    },
  });

  async function jwt(iss: string, aud: string, key: CryptoKey, claims: JWTPayload = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'reader-1', roles: ['reader'], ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp' })
      .setIssuer(`${base}${iss}`)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(key);
  }

  /** The community a token acts in, or its HTTP status when refused. */
  async function actsIn(token: string): Promise<string | number> {
    const res = await gql(hub.app, token, '{ communities { edges { node { slug } } } }');
    if (res.status !== 200) return res.status;
    return ((res.body.data as { communities: { edges: { node: { slug: string } }[] } }).communities.edges[0] as { node: { slug: string } })
      .node.slug;
  }

  it('lets two communities trust the same issuer and audience (regression: the second was refused as already trusted)', async () => {
    const first = await gql(hub.app, admins.coi, ADD, issuer('coi', '/shared', 'https://hub.test'));
    expect(first.body.errors).toBeUndefined();
    const second = await gql(hub.app, admins.other, ADD, issuer('other', '/shared', 'https://hub.test'));
    expect(second.body.errors).toBeUndefined();
    expect(second.body.data?.addTrustedIssuer).toMatchObject({ issuer: `${base}/shared`, audience: 'https://hub.test', tenantId: null });
    // Each sees its own, never the other's.
    const list = 'query ($c: String) { trustedIssuers(community: $c) { id communityId } }';
    const mine = (await gql(hub.app, admins.other, list, { c: 'other' })).body.data?.trustedIssuers as Json[];
    expect(mine).toEqual([{ id: (second.body.data as { addTrustedIssuer: Json }).addTrustedIssuer.id, communityId: expect.any(String) }]);
    expect(errorShape((await gql(hub.app, admins.other, list, { c: 'coi' })).body, 'coi')).toEqual(
      errorShape((await gql(hub.app, admins.other, list, { c: 'nope' })).body, 'nope'),
    );
  });

  it('refuses the same issuer and audience twice in one community, for the community or one of its tenants', async () => {
    const expected = {
      data: null,
      errors: [
        {
          message: 'This community already trusts this issuer for this audience: one configuration per issuer and audience in a community.',
          path: ['addTrustedIssuer'],
          extensions: { code: 'UNIQUENESS', field: 'audience' },
        },
      ],
    };
    expect((await gql(hub.app, admins.coi, ADD, issuer('coi', '/shared', 'https://hub.test'))).body).toEqual(expected);
    const forTenant = issuer('coi', '/shared', 'https://hub.test');
    const { community: _community, ...rest } = forTenant.i;
    expect(
      (await gql(hub.app, admins.coi, ADD, { i: { ...rest, tenant: 'emea', roleMap: [{ claimValue: 'p', role: 'provisioner' }] } })).body,
    ).toEqual(expected);
  });

  it('sends a token to the community whose audience it carries', async () => {
    expect((await gql(hub.app, admins.coi, ADD, issuer('coi', '/by-audience', 'meridian-coi'))).body.errors).toBeUndefined();
    expect((await gql(hub.app, admins.other, ADD, issuer('other', '/by-audience', 'meridian-other'))).body.errors).toBeUndefined();
    expect(await actsIn(await jwt('/by-audience', 'meridian-coi', keys.idp.privateKey))).toBe('coi');
    expect(await actsIn(await jwt('/by-audience', 'meridian-other', keys.idp.privateKey))).toBe('other');
  });

  it('sends a token to the one community whose keys verify it, so a namesake with other keys takes nothing over', async () => {
    expect((await gql(hub.app, admins.coi, ADD, issuer('coi', '/by-key', 'https://hub.test'))).body.errors).toBeUndefined();
    // The other community copies coi's issuer and audience, with keys of its own.
    expect((await gql(hub.app, admins.other, ADD, issuer('other', '/by-key', 'https://hub.test', '/rogue'))).body.errors).toBeUndefined();
    expect(await actsIn(await jwt('/by-key', 'https://hub.test', keys.idp.privateKey))).toBe('coi');
    expect(await actsIn(await jwt('/by-key', 'https://hub.test', keys.rogue.privateKey))).toBe('other');
  });

  it('refuses a token that two communities’ configurations both verify, and audits why', async () => {
    expect((await gql(hub.app, admins.coi, ADD, issuer('coi', '/twice', 'https://hub.test'))).body.errors).toBeUndefined();
    expect((await gql(hub.app, admins.other, ADD, issuer('other', '/twice', 'https://hub.test'))).body.errors).toBeUndefined();
    const token = await jwt('/twice', 'https://hub.test', keys.idp.privateKey);
    expect(await actsIn(token)).toBe(401);
    expect((await scim('GET', '/Users', { token })).status).toBe(401);
    const res = await gql(
      hub.app,
      hub.adminToken,
      '{ auditEvents(action: "auth.failed", first: 500) { edges { node { chain resourceType diff } } } }',
    );
    const entries = (
      res.body.data as { auditEvents: { edges: { node: { chain: string; diff: { after: Json } } }[] } }
    ).auditEvents.edges.map((e) => e.node);
    const ambiguous = entries.filter((e) => e.diff.after.detail === 'AMBIGUOUS_ISSUER');
    expect(ambiguous.reduce((sum, e) => sum + (e.diff.after.count as number), 0)).toBe(2);
    expect(ambiguous.every((e) => e.chain === '' && e.diff.after.reason === 'invalid_token')).toBe(true);
  });

  it("reads a community issuer's tenant claim in that community only", async () => {
    const tenantIssuer = issuer('other', '/claims', 'https://hub.test', '/idp', {
      tenantClaim: 'office',
      roleMap: [{ claimValue: 'prov', role: 'provisioner' }],
    });
    expect((await gql(hub.app, admins.other, ADD, tenantIssuer)).body.errors).toBeUndefined();
    const now = Math.floor(Date.now() / 1000);
    const sign = (office: string) =>
      new SignJWT({ sub: 'hr-system', roles: ['prov'], office })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp' })
        .setIssuer(`${base}/claims`)
        .setAudience('https://hub.test')
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(keys.idp.privateKey);
    // `emea` is the other community's own emea, never coi's.
    const created = await scim('POST', '/Users', { token: await sign('emea'), body: { userName: 'claimed@other' } });
    expect(created.status).toBe(201);
    const [row] = await hub.db.query<{ tenant_id: string }>('select tenant_id from scim_user where id = $1', [created.body.id]);
    expect(row?.tenant_id).not.toBe(hub.tenants.emea.id);
    expect((await gql(hub.app, admins.other, TENANT, { s: 'emea' })).body.data?.tenant).toEqual({ id: row?.tenant_id, slug: 'emea' });
    // A tenant of another community, by its qualified name or id: refused.
    for (const office of ['coi/emea', hub.tenants.emea.id])
      expect((await scim('GET', '/Users', { token: await sign(office) })).status).toBe(401);
  });
});
