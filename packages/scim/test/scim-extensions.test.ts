import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import {
  type AppHarness,
  eventCounts,
  type Json,
  patchOp,
  query,
  resourcesOf,
  scimClient,
  scimError,
  startScimApp,
} from '@meridian/test-utils/apps';

// Per-tenant schema extensions (RFC 7643 §3.3, §7): discovery, validation, uniqueness, mutability, filter and sort.

let harness: AppHarness;
const scim = scimClient(() => harness.app);
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const emea = () => harness.tenants.emea.token;
const apac = () => harness.tenants.apac.token;

const ACME = 'urn:example:params:scim:schemas:extension:acme:2.0:User';
const ACME_DEFINITION = {
  id: ACME,
  name: 'AcmeUser',
  resourceType: 'User',
  attributes: [
    { name: 'badgeNumber', type: 'string', uniqueness: 'server' },
    { name: 'clearance', type: 'integer' },
    { name: 'hireDate', type: 'dateTime', mutability: 'immutable' },
  ],
};

beforeAll(async () => {
  harness = await startScimApp();
  await harness.services.settings.createExtension(harness.tenants.emea.id, ACME_DEFINITION, ctx);
});
afterAll(() => harness.close());

let serial = 0;
function acmeUser(acme: Json, extra: Json = {}): Json {
  serial++;
  return { schemas: [SCHEMA.user, ACME], userName: `acme-${serial}@example.com`, [ACME]: acme, ...extra };
}

async function create(acme: Json, extra: Json = {}): Promise<Json> {
  const res = await scim('POST', '/Users', { token: emea(), body: acmeUser(acme, extra) });
  expect(res.status).toBe(201);
  return res.body;
}

async function read(id: unknown): Promise<Json> {
  const res = await scim('GET', `/Users/${id}`, { token: emea() });
  expect(res.status).toBe(200);
  return res.body;
}

describe('discovery', () => {
  it('lists the extension in /Schemas and /ResourceTypes of its tenant', async () => {
    const schemas = await scim('GET', '/Schemas', { token: emea() });
    expect(resourcesOf(schemas).map((s) => s.id)).toEqual([SCHEMA.user, SCHEMA.enterpriseUser, SCHEMA.group, ACME]);
    const one = await scim('GET', `/Schemas/${ACME}`, { token: emea() });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      schemas: [SCHEMA.schema],
      id: ACME,
      name: 'AcmeUser',
      meta: { resourceType: 'Schema', location: `https://hub.test/scim/v2/Schemas/${ACME}` },
    });
    expect((one.body.attributes as Json[]).map((a) => [a.name, a.type, a.mutability, a.uniqueness])).toEqual([
      ['badgeNumber', 'string', 'readWrite', 'server'],
      ['clearance', 'integer', 'readWrite', 'none'],
      ['hireDate', 'dateTime', 'immutable', 'none'],
    ]);
    const user = await scim('GET', '/ResourceTypes/User', { token: emea() });
    expect(user.body.schemaExtensions).toEqual([
      { schema: SCHEMA.enterpriseUser, required: false },
      { schema: ACME, required: false },
    ]);
    const group = await scim('GET', '/ResourceTypes/Group', { token: emea() });
    expect(group.body.schemaExtensions).toEqual([]);
  });

  it('does not show the extension to another tenant', async () => {
    const schemas = await scim('GET', '/Schemas', { token: apac() });
    expect(resourcesOf(schemas).map((s) => s.id)).toEqual([SCHEMA.user, SCHEMA.enterpriseUser, SCHEMA.group]);
    const one = await scim('GET', `/Schemas/${ACME}`, { token: apac() });
    expect(one.status).toBe(404);
    expect(one.body).toEqual(scimError(404));
    const types = await scim('GET', '/ResourceTypes', { token: apac() });
    expect(resourcesOf(types).flatMap((t) => (t.schemaExtensions as Json[]).map((e) => e.schema))).toEqual([SCHEMA.enterpriseUser]);
  });

  it('another tenant ignores the extension in a body and cannot filter on it', async () => {
    const res = await scim('POST', '/Users', { token: apac(), body: acmeUser({ badgeNumber: 'APAC-1' }) });
    expect(res.status).toBe(201);
    expect(res.body.schemas).toEqual([SCHEMA.user]);
    expect(res.body[ACME]).toBeUndefined();
    const filtered = await scim('GET', `/Users${query({ filter: `${ACME}:badgeNumber eq "APAC-1"` })}`, { token: apac() });
    expect(filtered.status).toBe(400);
    expect(filtered.body).toEqual(scimError(400, 'invalidFilter'));
  });
});

describe('create, replace and patch with the extension', () => {
  it('creates a User with extension values and returns them under the URN', async () => {
    const res = await scim('POST', '/Users', {
      token: emea(),
      body: acmeUser({ badgeNumber: 'B-100', clearance: 3, hireDate: '2020-01-15T09:00:00Z' }),
    });
    expect(res.status).toBe(201);
    expect(res.body.schemas).toEqual([SCHEMA.user, ACME]);
    expect(res.body[ACME]).toEqual({ badgeNumber: 'B-100', clearance: 3, hireDate: '2020-01-15T09:00:00Z' });
    expect(await read(res.body.id)).toEqual(res.body);
  });

  it.each([
    ['an integer given as a string', { clearance: '3' }],
    ['a decimal for an integer', { clearance: 2.5 }],
    ['a number for a string', { badgeNumber: 42 }],
    ['a malformed dateTime', { hireDate: 'yesterday' }],
    ['an attribute the extension does not define', { shoeSize: 42 }],
  ])('answers 400 invalidValue to %s on create, and writes nothing', async (_name, acme) => {
    const before = await eventCounts(harness);
    const res = await scim('POST', '/Users', { token: emea(), body: acmeUser(acme) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(scimError(400, 'invalidValue'));
    expect(await eventCounts(harness)).toEqual(before);
  });

  it('validates types on PUT and PATCH too', async () => {
    const user = await create({ clearance: 1 });
    const put = await scim('PUT', `/Users/${user.id}`, { token: emea(), body: { ...user, [ACME]: { clearance: 'top' } } });
    expect(put.status).toBe(400);
    expect(put.body).toEqual(scimError(400, 'invalidValue'));
    const patch = await scim('PATCH', `/Users/${user.id}`, {
      token: emea(),
      body: patchOp({ op: 'replace', path: `${ACME}:clearance`, value: 'top' }),
    });
    expect(patch.status).toBe(400);
    expect(patch.body).toEqual(scimError(400, 'invalidValue'));
    expect(await read(user.id)).toEqual(user);
  });

  it('replaces and patches extension values', async () => {
    const user = await create({ clearance: 1 });
    const put = await scim('PUT', `/Users/${user.id}`, {
      token: emea(),
      body: { ...user, [ACME]: { clearance: 2, badgeNumber: 'B-PUT' } },
    });
    expect(put.status).toBe(200);
    expect(put.body[ACME]).toEqual({ clearance: 2, badgeNumber: 'B-PUT' });
    const patch = await scim('PATCH', `/Users/${user.id}`, {
      token: emea(),
      body: patchOp(
        { op: 'replace', path: `${ACME}:clearance`, value: 4 },
        { op: 'replace', value: { [`${ACME}:badgeNumber`]: 'B-PATCH' } },
      ),
    });
    expect(patch.status).toBe(200);
    expect(patch.body[ACME]).toEqual({ clearance: 4, badgeNumber: 'B-PATCH' });
    const removed = await scim('PATCH', `/Users/${user.id}`, { token: emea(), body: patchOp({ op: 'remove', path: ACME }) });
    expect(removed.status).toBe(200);
    expect(removed.body.schemas).toEqual([SCHEMA.user]);
    expect(removed.body[ACME]).toBeUndefined();
  });
});

describe('uniqueness: server', () => {
  it('answers 409 uniqueness to a taken badgeNumber on create, PUT and PATCH, case-insensitively', async () => {
    const holder = await create({ badgeNumber: 'U-1' });
    const before = await eventCounts(harness);
    for (const badge of ['U-1', 'u-1']) {
      const res = await scim('POST', '/Users', { token: emea(), body: acmeUser({ badgeNumber: badge }) });
      expect(res.status).toBe(409);
      expect(res.body).toEqual(scimError(409, 'uniqueness'));
    }
    const other = await create({ badgeNumber: 'U-2' });
    const afterCreate = await eventCounts(harness);
    expect(afterCreate).toEqual({ outbox: before.outbox + 1, audit: before.audit + 1 });
    const put = await scim('PUT', `/Users/${other.id}`, { token: emea(), body: { ...other, [ACME]: { badgeNumber: 'U-1' } } });
    expect(put.status).toBe(409);
    expect(put.body).toEqual(scimError(409, 'uniqueness'));
    const patch = await scim('PATCH', `/Users/${other.id}`, {
      token: emea(),
      body: patchOp({ op: 'replace', path: `${ACME}:badgeNumber`, value: 'U-1' }),
    });
    expect(patch.status).toBe(409);
    expect(patch.body).toEqual(scimError(409, 'uniqueness'));
    expect(await eventCounts(harness)).toEqual(afterCreate);
    expect((await read(other.id))[ACME]).toEqual({ badgeNumber: 'U-2' });
    // Keeping one's own value is no conflict.
    const same = await scim('PUT', `/Users/${holder.id}`, { token: emea(), body: { ...holder, displayName: 'Holder' } });
    expect(same.status).toBe(200);
  });

  it('lets a value be taken again once its holder is deleted, and is per tenant', async () => {
    const holder = await create({ badgeNumber: 'U-FREE' });
    expect((await scim('DELETE', `/Users/${holder.id}`, { token: emea() })).status).toBe(204);
    await create({ badgeNumber: 'U-FREE' });
    await harness.services.settings.createExtension(harness.tenants.apac.id, ACME_DEFINITION, ctx);
    const apacUser = await scim('POST', '/Users', { token: apac(), body: acmeUser({ badgeNumber: 'U-FREE' }) });
    expect(apacUser.status).toBe(201);
    expect(apacUser.body[ACME]).toEqual({ badgeNumber: 'U-FREE' });
  });
});

describe('mutability: immutable', () => {
  it('keeps hireDate once set: a change or removal is 400 mutability, a repeat is fine', async () => {
    const user = await create({ hireDate: '2021-03-01T00:00:00Z' });
    const before = await eventCounts(harness);
    const attempts = [
      () =>
        scim('PATCH', `/Users/${user.id}`, {
          token: emea(),
          body: patchOp({ op: 'replace', path: `${ACME}:hireDate`, value: '2022-01-01T00:00:00Z' }),
        }),
      () => scim('PATCH', `/Users/${user.id}`, { token: emea(), body: patchOp({ op: 'remove', path: `${ACME}:hireDate` }) }),
      () => scim('PATCH', `/Users/${user.id}`, { token: emea(), body: patchOp({ op: 'remove', path: ACME }) }),
      () => scim('PUT', `/Users/${user.id}`, { token: emea(), body: { ...user, [ACME]: { hireDate: '2022-01-01T00:00:00Z' } } }),
      () => scim('PUT', `/Users/${user.id}`, { token: emea(), body: { userName: user.userName } }),
    ];
    for (const attempt of attempts) {
      const res = await attempt();
      expect(res.status).toBe(400);
      expect(res.body).toEqual(scimError(400, 'mutability'));
    }
    expect(await eventCounts(harness)).toEqual(before);
    expect(await read(user.id)).toEqual(user);
    const repeat = await scim('PUT', `/Users/${user.id}`, { token: emea(), body: { ...user, displayName: 'Repeat' } });
    expect(repeat.status).toBe(200);
    expect(repeat.body[ACME]).toEqual({ hireDate: '2021-03-01T00:00:00Z' });
  });

  it('lets an immutable attribute without a value be set once', async () => {
    const user = await create({ clearance: 1 });
    const res = await scim('PATCH', `/Users/${user.id}`, {
      token: emea(),
      body: patchOp({ op: 'add', path: `${ACME}:hireDate`, value: '2023-05-05T00:00:00Z' }),
    });
    expect(res.status).toBe(200);
    expect(res.body[ACME]).toEqual({ clearance: 1, hireDate: '2023-05-05T00:00:00Z' });
  });
});

describe('filter, sort and select on extension attributes', () => {
  beforeAll(async () => {
    for (const [badge, clearance] of [
      ['F-9', 9],
      ['F-10', 10],
      ['F-2', 2],
    ] as const) {
      await create({ badgeNumber: badge, clearance });
    }
  });
  const badges = (res: Awaited<ReturnType<typeof scim>>) => resourcesOf(res).map((r) => (r[ACME] as Json).badgeNumber);

  it('filters with URN-qualified paths, by type', async () => {
    const gt = await scim(
      'GET',
      `/Users${query({ filter: `${ACME}:clearance gt 5 and ${ACME}:badgeNumber sw "F-"`, sortBy: `${ACME}:clearance` })}`,
      {
        token: emea(),
      },
    );
    expect(gt.status).toBe(200);
    expect(badges(gt)).toEqual(['F-9', 'F-10']);
    const eq = await scim('GET', `/Users${query({ filter: `${ACME}:badgeNumber eq "f-10"` })}`, { token: emea() });
    expect(badges(eq)).toEqual(['F-10']);
    const bad = await scim('GET', `/Users${query({ filter: `${ACME}:clearance gt "high"` })}`, { token: emea() });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual(scimError(400, 'invalidFilter'));
    const unknown = await scim('GET', `/Users${query({ filter: `${ACME}:rank eq 1` })}`, { token: emea() });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual(scimError(400, 'invalidFilter'));
  });

  it('sorts numbers as numbers, both ways', async () => {
    const filter = `${ACME}:badgeNumber sw "F-"`;
    const asc = await scim('GET', `/Users${query({ filter, sortBy: `${ACME}:clearance` })}`, { token: emea() });
    expect(badges(asc)).toEqual(['F-2', 'F-9', 'F-10']);
    const desc = await scim('GET', `/Users${query({ filter, sortBy: `${ACME}:clearance`, sortOrder: 'descending' })}`, { token: emea() });
    expect(badges(desc)).toEqual(['F-10', 'F-9', 'F-2']);
  });

  it('selects an extension attribute with attributes', async () => {
    const res = await scim('GET', `/Users${query({ filter: `${ACME}:badgeNumber eq "F-2"`, attributes: `${ACME}:clearance` })}`, {
      token: emea(),
    });
    expect(resourcesOf(res)).toEqual([
      { schemas: [SCHEMA.user, ACME], id: expect.any(String), [ACME]: { clearance: 2 }, meta: expect.any(Object) },
    ]);
  });
});

describe('invalid extension definitions', () => {
  const define = (definition: Json) => harness.services.settings.createExtension(harness.tenants.emea.id, definition, ctx);
  const base = { id: 'urn:example:params:scim:schemas:extension:bad:2.0:User', name: 'Bad', resourceType: 'User' };

  it.each([
    ['a reserved IETF URN', { ...base, id: 'urn:ietf:params:scim:schemas:extension:acme:2.0:User', attributes: [{ name: 'a' }] }, 'id'],
    ['the enterprise extension itself', { ...base, id: SCHEMA.enterpriseUser, attributes: [{ name: 'a' }] }, 'id'],
    ['an id that is not a URN', { ...base, id: 'acme-user', attributes: [{ name: 'a' }] }, 'id'],
    [
      'a complex sub-attribute of a complex attribute',
      {
        ...base,
        attributes: [
          { name: 'outer', type: 'complex', subAttributes: [{ name: 'inner', type: 'complex', subAttributes: [{ name: 'x' }] }] },
        ],
      },
      'attributes[0].subAttributes[0].type',
    ],
    ['duplicate attribute names', { ...base, attributes: [{ name: 'badge' }, { name: 'Badge' }] }, 'attributes'],
    [
      'duplicate sub-attribute names',
      { ...base, attributes: [{ name: 'c', type: 'complex', subAttributes: [{ name: 'x' }, { name: 'X' }] }] },
      'attributes[0].subAttributes',
    ],
    ['an unknown type', { ...base, attributes: [{ name: 'a', type: 'text' }] }, 'attributes[0].type'],
    [
      'a unique multi-valued attribute',
      { ...base, attributes: [{ name: 'a', multiValued: true, uniqueness: 'server' }] },
      'attributes[0].uniqueness',
    ],
    ['no attributes', { ...base, attributes: [] }, 'attributes'],
    ['an unknown resource type', { ...base, resourceType: 'Device', attributes: [{ name: 'a' }] }, 'resourceType'],
  ])('rejects %s with INVALID_INPUT', async (_name, definition, field) => {
    await expect(define(definition)).rejects.toMatchObject({ code: 'INVALID_INPUT', field });
    const schemas = await scim('GET', '/Schemas', { token: emea() });
    expect(resourcesOf(schemas).map((s) => s.id)).toEqual([SCHEMA.user, SCHEMA.enterpriseUser, SCHEMA.group, ACME]);
  });

  it('rejects a second extension with the same URN', async () => {
    await expect(define({ ...ACME_DEFINITION, id: ACME.toUpperCase().replace('URN:', 'urn:') })).rejects.toMatchObject({
      code: 'UNIQUENESS',
    });
  });
});

describe('returned, writeOnly and required on extension attributes (RFC 7643 §7)', () => {
  const VAULT = 'urn:example:params:scim:schemas:extension:vault:2.0:User';
  let holder: Json;
  beforeAll(async () => {
    await harness.services.settings.createExtension(
      harness.tenants.emea.id,
      {
        id: VAULT,
        name: 'Vault',
        resourceType: 'User',
        attributes: [
          { name: 'pin', mutability: 'writeOnly' },
          { name: 'secret', returned: 'never' },
          { name: 'note', returned: 'request' },
          { name: 'owner', required: true },
          { name: 'locker', type: 'complex', subAttributes: [{ name: 'number' }, { name: 'code', returned: 'never' }] },
        ],
      },
      ctx,
    );
    const res = await scim('POST', '/Users', {
      token: emea(),
      body: {
        schemas: [SCHEMA.user, VAULT],
        userName: 'vault-holder@example.com',
        [VAULT]: { pin: '1234', secret: 's3cr3t', note: 'hello', owner: 'me', locker: { number: '42', code: '0000' } },
      },
    });
    expect(res.status).toBe(201);
    holder = res.body;
  });

  it('never returns writeOnly or returned:never values, not even when asked for by name', async () => {
    expect(holder[VAULT]).toEqual({ owner: 'me', locker: { number: '42' } });
    expect(JSON.stringify(holder)).not.toMatch(/1234|s3cr3t|0000/);
    for (const attributes of [`${VAULT}:pin,${VAULT}:secret`, `${VAULT}:locker`, `${VAULT}:locker.code`, VAULT]) {
      const res = await scim('GET', `/Users/${holder.id}${query({ attributes })}`, { token: emea() });
      expect(res.status).toBe(200);
      expect(res.text).not.toMatch(/1234|s3cr3t|0000/);
    }
    const whole = await scim('GET', `/Users/${holder.id}${query({ attributes: VAULT })}`, { token: emea() });
    expect(whole.body[VAULT]).toEqual({ note: 'hello', owner: 'me', locker: { number: '42' } });
  });

  it('returns returned:request values only when asked for', async () => {
    const asked = await scim('GET', `/Users/${holder.id}${query({ attributes: `${VAULT}:note` })}`, { token: emea() });
    expect(asked.body[VAULT]).toEqual({ note: 'hello' });
  });

  it('refuses to filter or sort on values it never returns, so they cannot be probed', async () => {
    for (const filter of [`${VAULT}:pin eq "1234"`, `${VAULT}:secret sw "s"`, `${VAULT}:locker.code eq "0000"`]) {
      const res = await scim('GET', `/Users${query({ filter })}`, { token: emea() });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(scimError(400, 'invalidFilter'));
    }
    const sorted = await scim('GET', `/Users${query({ sortBy: `${VAULT}:secret` })}`, { token: emea() });
    expect(sorted.status).toBe(400);
    expect(sorted.body).toEqual(scimError(400, 'invalidValue'));
  });

  it('requires the required attributes of an extension a resource carries, on create and on PATCH', async () => {
    const before = await eventCounts(harness);
    const created = await scim('POST', '/Users', {
      token: emea(),
      body: { userName: 'vault-2@example.com', [VAULT]: { note: 'no owner' } },
    });
    expect(created.status).toBe(400);
    expect(created.body).toEqual(scimError(400, 'invalidValue'));
    const patched = await scim('PATCH', `/Users/${holder.id}`, { token: emea(), body: patchOp({ op: 'remove', path: `${VAULT}:owner` }) });
    expect(patched.status).toBe(400);
    expect(patched.body).toEqual(scimError(400, 'invalidValue'));
    expect(await eventCounts(harness)).toEqual(before);
    // Without the extension at all, nothing of it is required.
    const plain = await scim('POST', '/Users', { token: emea(), body: { userName: 'vault-3@example.com' } });
    expect(plain.status).toBe(201);
  });
});
