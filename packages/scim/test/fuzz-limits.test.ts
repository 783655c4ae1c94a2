import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { maxLengthOf, parseSchemaExtension, type ResourceShape, resourceShapes, SCHEMA, shapeWithExtensions } from '@meridian/core';
import { type AppHarness, startScimApp } from '@meridian/test-utils/apps';
import {
  type Badness,
  BULK_REQUEST,
  count,
  EXTENSION,
  fuzzSender,
  type Json,
  ofLength,
  pattern,
  printStats,
  type Reply,
  runs,
  type Sender,
  snapshot,
  withBadCharacter,
} from '@meridian/test-utils/fuzz';
import fc from 'fast-check';

// Issue 12: every writable string of a User (core, enterprise and a tenant extension) and a Group, on every SCIM
// write path: a value beyond its limit, a NUL or an unpaired surrogate is a client error naming the attribute,
// never a 5xx; a value at its limit is accepted. The GraphQL side is in packages/graphql/test/fuzz.test.ts.

let harness: AppHarness;
let send: Sender;
let serial = 0;

beforeAll(async () => {
  harness = await startScimApp();
  send = fuzzSender(harness.app, harness.tenants.emea.token);
});
afterAll(async () => {
  printStats();
  await harness.close();
});

const LIMITS_EXTENSION = 'urn:example:params:scim:schemas:extension:fuzzlimits:2.0:User';

/** One place a SCIM write can put a string: `attribute` (sub-attribute after a dot) of `schema` (undefined: externalId). */
interface StringLeaf {
  kind: 'Users' | 'Groups';
  schema: string | undefined;
  attribute: string;
  sub: string | undefined;
  multiValued: boolean;
  maxLength: number;
}

function stringLeaves(): StringLeaf[] {
  const leaves: StringLeaf[] = [];
  const textTypes = new Set(['string', 'reference', 'binary']);
  const shapes: ['Users' | 'Groups', ResourceShape][] = [
    ['Users', shapeWithExtensions('User', [limitsExtension])],
    ['Groups', resourceShapes.Group],
  ];
  for (const [kind, shape] of shapes) {
    leaves.push({
      kind,
      schema: undefined,
      attribute: 'externalId',
      sub: undefined,
      multiValued: false,
      maxLength: maxLengthOf(undefined, 'externalId'),
    });
    for (const schema of [shape.core, ...shape.extensions]) {
      for (const def of schema.attributes) {
        if (def.mutability === 'readOnly') continue;
        if (textTypes.has(def.type)) {
          leaves.push({
            kind,
            schema: schema.id,
            attribute: def.name,
            sub: undefined,
            multiValued: def.multiValued,
            maxLength: maxLengthOf(schema.id, def.name, def.type),
          });
        }
        for (const sub of def.subAttributes ?? []) {
          if (sub.mutability === 'readOnly' || !textTypes.has(sub.type)) continue;
          const maxLength = maxLengthOf(schema.id, `${def.name}.${sub.name}`, sub.type);
          leaves.push({ kind, schema: schema.id, attribute: def.name, sub: sub.name, multiValued: def.multiValued, maxLength });
        }
      }
    }
  }
  return leaves;
}

const limitsExtension = parseSchemaExtension({
  id: LIMITS_EXTENSION,
  name: 'FuzzLimits',
  resourceType: 'User',
  attributes: [
    { name: 'badge', type: 'string' },
    { name: 'site', type: 'reference' },
    { name: 'tags', type: 'string', multiValued: true },
    {
      name: 'desk',
      type: 'complex',
      subAttributes: [
        { name: 'room', type: 'string' },
        { name: 'plan', type: 'reference' },
      ],
    },
    { name: 'keys', type: 'complex', multiValued: true, subAttributes: [{ name: 'serial', type: 'binary' }] },
  ],
});

const badness = fc.constantFrom<Badness>('long', 'nul', 'lone', 'max');
const badCharacter = (kind: Badness) =>
  kind === 'nul' ? fc.constant('\u0000') : fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** A string of the given badness for a place of `maxLength` characters. */
function badText(kind: Badness, maxLength: number): fc.Arbitrary<string> {
  if (kind === 'long' || kind === 'max') {
    return fc
      .tuple(pattern, fc.integer({ min: 1, max: 3000 }))
      .map(([text, extra]) => ofLength(text, kind === 'max' ? maxLength : maxLength + extra, serial++));
  }
  return fc.tuple(pattern, fc.nat(), badCharacter(kind)).map(([text, at, bad]) => withBadCharacter(text, at, bad));
}

/** The attributes of a body that put `value` at the leaf. */
function fragmentOf(leaf: StringLeaf, value: string): Json {
  if (leaf.schema === undefined) return { externalId: value };
  const inner = leaf.sub === undefined ? value : { [leaf.sub]: value };
  const attribute = { [leaf.attribute]: leaf.multiValued ? [inner] : inner };
  return leaf.schema === LIMITS_EXTENSION || leaf.schema === EXTENSION ? { [leaf.schema]: attribute } : attribute;
}

/** How an error names the leaf once list indexes are taken out: `emails.value`, `<urn>:desk.room`. */
function leafField(leaf: StringLeaf): string {
  const head = leaf.schema === LIMITS_EXTENSION || leaf.schema === EXTENSION ? `${leaf.schema}:${leaf.attribute}` : leaf.attribute;
  return leaf.sub === undefined ? head : `${head}.${leaf.sub}`;
}

type LeafWrite = 'POST' | 'PUT' | 'PATCH path' | 'PATCH value' | 'Bulk POST' | 'Bulk PATCH' | 'PUT /Me' | 'PATCH /Me';
const limitsTarget = { user: '', group: '', meToken: '' };

async function writeLeaf(how: LeafWrite, leaf: StringLeaf, value: string): Promise<{ status: number; body: Json; raw: Reply }> {
  const fragment = fragmentOf(leaf, value);
  const schemas = leaf.kind === 'Users' ? [SCHEMA.user, EXTENSION, LIMITS_EXTENSION] : [SCHEMA.group];
  const base: Json = leaf.kind === 'Users' ? { schemas, userName: `limits-${serial++}` } : { schemas, displayName: `limits-${serial++}` };
  const id = leaf.kind === 'Users' ? limitsTarget.user : limitsTarget.group;
  const head = leaf.schema === LIMITS_EXTENSION || leaf.schema === EXTENSION ? `${leaf.schema}:${leaf.attribute}` : leaf.attribute;
  const element = leaf.sub === undefined ? value : { [leaf.sub]: value };
  const pathOperation =
    leaf.sub !== undefined && !leaf.multiValued
      ? { op: 'replace', path: `${head}.${leaf.sub}`, value }
      : { op: 'replace', path: head, value: leaf.multiValued ? [element] : element };
  const patch = (operation: Json) => ({ schemas: [SCHEMA.patchOp], Operations: [operation] });
  const bulk = async (operation: Json) => {
    const raw = await send('POST', '/scim/v2/Bulk', { body: JSON.stringify({ schemas: [BULK_REQUEST], Operations: [operation] }) });
    const [op] = ((raw.json as Json | undefined)?.Operations as Json[] | undefined) ?? [];
    return raw.status === 200 && op
      ? { status: Number(op.status), body: (op.response ?? {}) as Json, raw }
      : { status: raw.status, body: raw.json as Json, raw };
  };
  const direct = async (method: string, url: string, body: Json, token?: string) => {
    const raw = await send(method, url, { body: JSON.stringify(body), ...(token ? { token } : {}) });
    return { status: raw.status, body: (raw.json ?? {}) as Json, raw };
  };
  switch (how) {
    case 'POST':
      return direct('POST', `/scim/v2/${leaf.kind}`, { ...base, ...fragment });
    case 'PUT':
      return direct('PUT', `/scim/v2/${leaf.kind}/${id}`, { ...base, ...fragment });
    case 'PATCH path':
      return direct('PATCH', `/scim/v2/${leaf.kind}/${id}`, patch(pathOperation));
    case 'PATCH value':
      return direct('PATCH', `/scim/v2/${leaf.kind}/${id}`, patch({ op: 'replace', value: fragment }));
    case 'Bulk POST':
      return bulk({ method: 'POST', path: `/${leaf.kind}`, bulkId: 'l1', data: { ...base, ...fragment } });
    case 'Bulk PATCH':
      return bulk({ method: 'PATCH', path: `/${leaf.kind}/${id}`, data: patch(pathOperation) });
    case 'PUT /Me':
      return direct('PUT', '/scim/v2/Me', { schemas, userName: 'limits-self', ...fragment }, limitsTarget.meToken);
    case 'PATCH /Me':
      return direct('PATCH', '/scim/v2/Me', patch(pathOperation), limitsTarget.meToken);
  }
}

describe('fuzzing long strings, NUL and lone surrogates (issue 12)', () => {
  let leaves: StringLeaf[];
  beforeAll(async () => {
    const ctx = { actor: { type: 'system' as const, id: 'fuzz' }, requestId: 'fuzz-limits' };
    const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
    await harness.services.settings.createExtension(harness.tenants.emea.id, { ...limitsExtension }, ctx);
    const create = async (path: string, body: Json) => {
      const res = await send('POST', `/scim/v2${path}`, { body: JSON.stringify(body) });
      expect(res.status).toBe(201);
      return (res.json as Json).id as string;
    };
    limitsTarget.user = await create('/Users', { userName: 'limits-target' });
    limitsTarget.group = await create('/Groups', { displayName: 'limits-group' });
    await create('/Users', { userName: 'limits-self' });
    limitsTarget.meToken = (
      await harness.services.admin.issueToken(platform, { tenant: 'emea', scopes: ['scim:me'], user: 'limits-self' }, ctx)
    ).token;
    leaves = stringLeaves();
  });

  it('every writable string attribute, on every SCIM write path: beyond its limit, NUL or a lone surrogate is 400 invalidValue naming it; at its limit it is stored', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(10_000).chain((i) => {
          const leaf = leaves[i % leaves.length] as StringLeaf;
          const paths: LeafWrite[] = ['POST', 'PUT', 'PATCH path', 'PATCH value', 'Bulk POST', 'Bulk PATCH'];
          if (leaf.kind === 'Users') paths.push('PUT /Me', 'PATCH /Me');
          return fc.tuple(
            fc.constant(leaf),
            fc.constantFrom(...paths),
            badness.chain((kind) => fc.tuple(fc.constant(kind), badText(kind, leaf.maxLength))),
          );
        }),
        async ([leaf, how, [kind, value]]) => {
          const before = await snapshot(harness.db);
          const res = await writeLeaf(how, leaf, value);
          count(`limits ${how}`, res.status);
          if (res.status >= 500) throw new Error(`${res.status}: ${res.raw.text.slice(0, 300)}`);
          if (kind === 'max') {
            // Members and the manager must be accounts of the tenant and /Me is held to its policy: those may refuse,
            // anything else stores the value.
            const mustExist = leafField(leaf).startsWith('members.') || leafField(leaf) === `${EXTENSION}:manager.value`;
            if (!mustExist && !how.includes('/Me')) expect(res.status).toBeLessThan(300);
            return;
          }
          expect(res.status).toBe(400);
          expect(res.body).toEqual(expect.objectContaining({ schemas: [SCHEMA.error], status: '400', scimType: 'invalidValue' }));
          const named = /^Attribute '(.+?)' (must|has) /.exec(String(res.body.detail))?.[1];
          expect(named?.replace(/\[\d+\]/g, '')).toBe(leafField(leaf));
          expect(await snapshot(harness.db)).toEqual(before);
        },
      ),
      runs(240),
    );
  });
});
