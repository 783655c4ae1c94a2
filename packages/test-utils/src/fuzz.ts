// What the fuzz tests of SCIM, GraphQL and the hub share: run counts, the request and snapshot helpers, and the
// arbitraries both surfaces take (SCIM filters, which GraphQL passes on, raw bodies, strings of issue 12).
// Runs are bounded so the files stay fast; MERIDIAN_FUZZ_RUNS scales them and MERIDIAN_FUZZ_SEED replays a
// failure (fast-check prints the seed and the shrunk counterexample).
import { expect } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { TestDatabase } from './database.js';

const scale = Number(process.env.MERIDIAN_FUZZ_RUNS ?? '1') || 1;
const seed = process.env.MERIDIAN_FUZZ_SEED === undefined ? undefined : Number(process.env.MERIDIAN_FUZZ_SEED);

/** fast-check parameters for about `n` runs, scaled by MERIDIAN_FUZZ_RUNS and seeded by MERIDIAN_FUZZ_SEED. */
export const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * scale)), ...(seed === undefined ? {} : { seed }) });

export type Json = Record<string, unknown>;

/** Statuses seen per property; MERIDIAN_FUZZ_STATS=1 prints them, to see how much of the input got past validation. */
const stats = new Map<string, Map<number, number>>();
export function count(property: string, status: number): void {
  const seen = stats.get(property) ?? new Map<number, number>();
  seen.set(status, (seen.get(status) ?? 0) + 1);
  stats.set(property, seen);
}

/** Prints the statuses {@link count} saw when MERIDIAN_FUZZ_STATS is set. */
export function printStats(): void {
  if (!process.env.MERIDIAN_FUZZ_STATS) return;
  for (const [property, seen] of stats) console.log(property, Object.fromEntries([...seen].sort(([a], [b]) => a - b)));
}

export interface Reply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  json: unknown;
}

export interface SendOptions {
  body?: string;
  headers?: Record<string, string>;
  /** The bearer token; undefined: the default one, null: none. */
  token?: string | null;
  remoteAddress?: string;
}

export type Sender = (method: string, url: string, options?: SendOptions) => Promise<Reply>;

/** A request function on `app` with `defaultToken` as bearer; bodies go as application/scim+json unless a header says otherwise. */
export function fuzzSender(app: FastifyInstance, defaultToken: string): Sender {
  return async (method, url, options = {}) => {
    const token = options.token === undefined ? defaultToken : options.token;
    const res = await app.inject({
      method: method as 'GET',
      url,
      ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(options.body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { payload: options.body } : {}),
    });
    let json: unknown;
    try {
      json = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, json };
  };
}

/** Everything a SCIM or GraphQL write could touch: row contents, not just counts. */
export async function snapshot(db: TestDatabase): Promise<Record<string, string>> {
  const [row] = await db.query<Record<string, string>>(
    `select (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from scim_user t) as users,
            (select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from scim_group t) as groups,
            (select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from group_member t) as members,
            (select count(*) from tenant)::text as tenants,
            (select count(*) from api_token)::text as tokens,
            (select count(*) from outbox_event)::text as outbox,
            -- Failed authentications may be audited; they are not writes of the request's own.
            (select count(*) from audit_event where action <> 'auth.failed')::text as audit`,
  );
  return row ?? {};
}

/** A SCIM error body (RFC 7644 §3.12) with the response's status as a string. */
export function expectScimError(res: Reply): void {
  const body = res.json as Json;
  expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  expect(body).toEqual(expect.objectContaining({ schemas: [SCHEMA.error], status: String(res.status), detail: expect.any(String) }));
  expect((body.detail as string).length).toBeGreaterThan(0);
}

export const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const EXTENSION = SCHEMA.enterpriseUser;

/** Creates the resources the properties aim at through SCIM: a member, a user managed by it and a group holding it. */
export async function seedTargets(send: Sender): Promise<{ userId: string; groupId: string; memberId: string }> {
  const create = async (path: string, body: Json) => {
    const res = await send('POST', `/scim/v2${path}`, { body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (res.json as Json).id as string;
  };
  const memberId = await create('/Users', { userName: 'fuzz-member', emails: [{ value: 'member@example.com', type: 'work' }] });
  const userId = await create('/Users', {
    userName: 'fuzz-target',
    name: { givenName: 'Fuzz', familyName: 'Target' },
    emails: [{ value: 'target@example.com', type: 'work', primary: true }],
    [EXTENSION]: { employeeNumber: '1', manager: { value: memberId } },
    schemas: [SCHEMA.user, EXTENSION],
  });
  const groupId = await create('/Groups', { displayName: 'fuzz-group', members: [{ value: memberId }] });
  return { userId, groupId, memberId };
}

// ---------------------------------------------------------------- SCIM filters, hostile

const ATTRIBUTES = [
  'userName',
  'USERNAME',
  'id',
  'externalId',
  'displayName',
  'nickName',
  'title',
  'active',
  'password',
  'name',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'emails',
  'emails.value',
  'emails.type',
  'emails.primary',
  'phoneNumbers.value',
  'addresses.postalCode',
  'x509Certificates.value',
  'groups',
  'groups.value',
  'members',
  'members.value',
  'members.type',
  'meta.created',
  'meta.lastModified',
  'meta.version',
  'meta.resourceType',
  'manager',
  'employeeNumber',
  `${EXTENSION}:employeeNumber`,
  `${EXTENSION}:manager`,
  `${EXTENSION}:manager.value`,
  `${SCHEMA.user}:userName`,
  `${SCHEMA.user}:name.givenName`,
  'urn:example:unknown:2.0:User:foo',
  'unknownAttr',
  'name.givenName.extra',
  '$ref',
  'a-b',
  '_x',
];
export const attribute = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ATTRIBUTES) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
);
const COMPARE = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'EQ', 'Gt', 'xx'];
const literal = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"%"', '"_"', '"\\\\"', '"2026-01-01T00:00:00Z"', '"not-a-date"', '""'),
  fc.integer().map(String),
  fc.double({ noNaN: true }).map((d) => (Number.isFinite(d) ? String(d) : '1e400')),
  fc.constantFrom('true', 'false', 'null', 'True', '1e309', '-0', '99999999999999999999999', '0.5', 'bareword'),
  fc.uuid().map((u) => JSON.stringify(u)),
);

export const filter: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(attribute, fc.constantFrom(...COMPARE), literal).map(([a, op, v]) => `${a} ${op} ${v}`),
    attribute.map((a) => `${a} pr`),
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or', 'AND', 'Or'), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
    tie('expr').map((e) => `(${e})`),
    tie('expr').map((e) => `not (${e})`),
    fc
      .tuple(fc.constantFrom('emails', 'members', 'groups', 'phoneNumbers', 'name', 'addresses', `${EXTENSION}:manager`), tie('expr'))
      .map(([a, e]) => `${a}[${e}]`),
    fc
      .tuple(fc.constantFrom('emails', 'members'), tie('expr'), fc.constantFrom('value', 'type', 'display'), literal)
      .map(([a, e, sub, v]) => `${a}[${e}].${sub} eq ${v}`),
  ),
})).expr;

/** Random edits of a string: the "almost valid" inputs parsers trip on. */
export const mutated = (base: fc.Arbitrary<string>) =>
  fc
    .tuple(base, fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ unit: 'binary-ascii', maxLength: 3 })), { minLength: 1, maxLength: 4 }))
    .map(([text, edits]) => {
      let out = text;
      for (const [at, kind, insert] of edits) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (kind === 0) out = out.slice(0, i) + out.slice(i + 1);
        else if (kind === 1) out = out.slice(0, i) + insert + out.slice(i);
        else if (kind === 2) out = out.slice(0, i);
        else out = out.slice(0, i) + out.slice(i).split('').reverse().join('');
      }
      return out;
    });

export const anyFilter = fc.oneof(
  { weight: 4, arbitrary: filter },
  { weight: 3, arbitrary: mutated(filter) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `${'('.repeat(200)}userName pr${')'.repeat(200)}`,
      `emails[${'('.repeat(40)}type eq "work"${')'.repeat(40)}]`,
      Array.from({ length: 300 }, (_, i) => `userName eq "u${i}"`).join(' or '),
      'x'.repeat(5000),
      `userName eq "${'a'.repeat(4100)}"`,
      'not not (userName pr)',
      'emails[value co "@"] and emails[type eq "work"]',
    ),
  },
);

export const jsonish = fc.jsonValue({ maxDepth: 3 });
export const weirdJson = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

/** Bodies that are not JSON objects at all, or JSON that strains parsers. */
export const rawBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  weirdJson.map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '',
    '{',
    'null',
    '[]',
    '"x"',
    '1e400',
    '{"userName": "a\\u0000b"}',
    '{"userName": "\\ud800"}',
    '{"displayName": "g\\u0000"}',
    '{"__proto__": {"admin": true}, "userName": "proto"}',
    '{"constructor": {"prototype": {"x": 1}}, "userName": "ctor"}',
    `{"userName": "deep", "name": ${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
    `${'['.repeat(10000)}${']'.repeat(10000)}`,
    `{"userName": "${'x'.repeat(70_000)}"}`,
    '{"userName": "dup", "userName": "dup2"}',
  ),
);

// ---------------------------------------------------------------- SCIM filters, well-typed

// Well-typed input gets past validation and exercises what lies behind it
// (SQL, PATCH application, writes); the hostile generators above test the edges.

export const text = fc.string({ minLength: 1, maxLength: 10 });
const quoted = fc.oneof(text, fc.constantFrom('fuzz', 'target@example.com', '%_\\', 'Target', '')).map((t) => JSON.stringify(t));
const isoDate = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => JSON.stringify(d.toISOString()));
const TYPED_ATTRIBUTES: [string, fc.Arbitrary<string>][] = [
  ['userName', quoted],
  ['displayName', quoted],
  ['externalId', quoted],
  ['name.givenName', quoted],
  ['name.familyName', quoted],
  ['title', quoted],
  ['emails.value', quoted],
  ['emails.type', fc.constantFrom('"work"', '"home"')],
  ['emails', quoted],
  ['active', fc.constantFrom('true', 'false')],
  ['meta.created', isoDate],
  ['meta.lastModified', isoDate],
  ['id', fc.uuid().map((u) => JSON.stringify(u))],
  [`${EXTENSION}:employeeNumber`, quoted],
  [`${EXTENSION}:manager.value`, fc.uuid().map((u) => JSON.stringify(u))],
  ['members.value', fc.constantFrom('"MEMBER"', '"USER"')],
];
const typedComparison = fc
  .nat(TYPED_ATTRIBUTES.length - 1)
  .chain((i) => {
    const [name, value] = TYPED_ATTRIBUTES[i] as [string, fc.Arbitrary<string>];
    return fc.tuple(fc.constant(name), fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'pr'), value);
  })
  .map(([name, op, value]) => (op === 'pr' ? `${name} pr` : `${name} ${op} ${value}`));
export const typedFilter: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    typedComparison,
    typedComparison,
    fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
    tie('expr').map((e) => `not (${e})`),
    fc.tuple(fc.constantFrom('"work"', '"home"'), quoted).map(([t, v]) => `emails[type eq ${t} and value co ${v}]`),
  ),
})).expr;

// ---------------------------------------------------------------- issue 12: long strings, NUL, lone surrogates

/** Characters of 1 to 4 UTF-8 bytes, pairs included. */
const anyCharacter = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xa0, max: 0x7ff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x4e00, max: 0x9fff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x1f300, max: 0x1faff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom('İ', 'ẞ', 'Ⱥ', 'ǅ', '\t', '%', '"', '\\'),
);
export const pattern = fc.string({ unit: anyCharacter, minLength: 1, maxLength: 12 });

/** Exactly `n` characters: the pattern's characters between 4-byte ones that vary, so that nothing compresses them. */
export function ofLength(text: string, n: number, seed: number): string {
  const characters = [...text];
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? characters[(i / 2) % characters.length] : String.fromCodePoint(0x20000 + ((i * 7919 + seed * 104_729) % 0xa6d0)),
  ).join('');
}

/** A NUL or an unpaired surrogate put between two characters of `text`. */
export function withBadCharacter(text: string, at: number, bad: string): string {
  const characters = [...text];
  const i = at % (characters.length + 1);
  return [...characters.slice(0, i), bad, ...characters.slice(i)].join('');
}

export type Badness = 'long' | 'nul' | 'lone' | 'max';
