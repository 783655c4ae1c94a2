import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildMeridianSchema } from '@meridian/graphql';
import { type AppHarness, startGraphqlApp } from '@meridian/test-utils/apps';
import {
  anyFilter,
  type Badness,
  count,
  filter,
  fuzzSender,
  type Json,
  jsonish,
  mutated,
  ofLength,
  pattern,
  printStats,
  rawBody,
  runs,
  type Sender,
  seedTargets,
  snapshot,
  typedFilter,
  withBadCharacter,
} from '@meridian/test-utils/fuzz';
import fc from 'fast-check';
import {
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
} from 'graphql';

// Issue 4: bad input gets a clear 4xx, never a 500, and writes nothing: random, mutated and schema-steered
// operations against the GraphQL app (SCIM mounted beside it seeds the accounts the operations read). Issue 12:
// every place an operation takes a string refuses a NUL or a lone surrogate naming the argument. See
// @meridian/test-utils/fuzz for the run counts and MERIDIAN_FUZZ_SEED.

let harness: AppHarness;
let send: Sender;
// Built before any arbitrary runs (beforeAll); arbitraries read it lazily.
let graphqlSchema: GraphQLSchema;
/** A community token of the HR role, for the operations only it may run. */
let hrLimits = '';
let serial = 0;

beforeAll(async () => {
  harness = await startGraphqlApp({ withScim: true });
  send = fuzzSender(harness.app, harness.tenants.emea.token);
  graphqlSchema = await buildMeridianSchema();
  await seedTargets(send);
  const ctx = { actor: { type: 'system' as const, id: 'fuzz' }, requestId: 'fuzz-limits' };
  const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
  hrLimits = (await harness.services.admin.issueToken(platform, { community: 'coi', role: 'hr_provider' }, ctx)).token;
});
afterAll(async () => {
  printStats();
  await harness.close();
});

const gqlName = fc.constantFrom(
  'communities',
  'tenants',
  'tenant',
  'users',
  'groups',
  'edges',
  'node',
  'pageInfo',
  'totalCount',
  'hasNextPage',
  'endCursor',
  'cursor',
  'id',
  'slug',
  'name',
  'userName',
  'emails',
  'value',
  'members',
  'community',
  'tokens',
  'schemaExtensions',
  'selfServicePolicy',
  'editableAttributes',
  '__typename',
  '__schema',
  'types',
  'unknownField',
);
const gqlArgValue = fc.oneof(
  fc.integer({ min: -10, max: 100_000 }).map(String),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  filter.map((f) => JSON.stringify(f)),
  fc.constantFrom('null', 'true', '1.5', '$v', '$first', 'ENUM', '[1,2]', '{a: 1}', '"emea"', '"apac"', '2147483648'),
);
const gqlArgs = fc
  .array(fc.tuple(fc.constantFrom('first', 'after', 'filter', 'slug', 'community', 'name', 'tenant', 'scopes', 'id', 'x'), gqlArgValue), {
    maxLength: 3,
  })
  .map((args) => (args.length === 0 ? '' : `(${args.map(([k, v]) => `${k}: ${v}`).join(', ')})`));
const selection: fc.Arbitrary<string> = fc.letrec<{ set: string }>((tie) => ({
  set: fc
    .array(
      fc.oneof(
        { depthSize: 'small' },
        gqlName,
        fc.tuple(gqlName, gqlArgs, tie('set')).map(([n, a, s]) => `${n}${a} ${s}`),
        tie('set').map((s) => `... on Tenant ${s}`),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((fields) => `{ ${fields.join(' ')} }`),
})).set;
const MUTATIONS = [
  'mutation { createCommunity(slug: SLUG, name: NAME) { id } }',
  'mutation { createTenant(slug: SLUG, name: NAME, community: "coi") { id slug } }',
  'mutation { createToken(tenant: "emea", scopes: SCOPES) { token record { id } } }',
  'mutation { revokeToken(id: SLUG) { id } }',
  'mutation { setSelfServicePolicy(tenant: "emea", editableAttributes: SCOPES) { editableAttributes } }',
  'mutation { createSchemaExtension(tenant: "emea", extension: { id: SLUG, name: NAME, resourceType: NAME, attributes: [{ name: NAME, type: NAME }] }) { id } }',
  'mutation { deleteSchemaExtension(tenant: "emea", id: SLUG) }',
];
const mutation = fc
  .tuple(
    fc.constantFrom(...MUTATIONS),
    gqlArgValue,
    gqlArgValue,
    fc.oneof(fc.constant('["scim:read"]'), fc.constant('[]'), fc.constant('["admin"]'), gqlArgValue),
  )
  .map(([m, slug, name, scopes]) => m.replace('SLUG', slug).replace(/NAME/g, name).replace('SCOPES', scopes));
/**
 * A valid-looking operation built by walking the real schema, steered by a
 * list of random choices: fields that exist, arguments of the right types
 * (mostly), nested selections down to scalars.
 */
function schemaOperation(
  schema: GraphQLSchema,
  choices: number[],
  filters: string[],
  kind: 'query' | 'mutation',
  slot?: StringSlot,
): string {
  let at = 0;
  let strings = 0;
  const pick = (n: number) => (n <= 0 ? 0 : (choices[at++ % choices.length] as number) % n);
  const INTS = ['0', '1', '2', '10', '50', '-1', '501', '2147483647'];
  const STRINGS = [
    '"emea"',
    '"apac"',
    '"coi"',
    '"other"',
    '"nope"',
    '""',
    '"User"',
    '"Group"',
    '"scim:read"',
    '"admin"',
    '"urn:example:fuzz:2.0:User"',
  ];
  const value = (type: GraphQLInputType, depth: number, required = false): string => {
    if (isNonNullType(type)) return value(type.ofType, depth, true);
    if (isListType(type)) return `[${Array.from({ length: pick(3) }, () => value(type.ofType, depth + 1)).join(', ')}]`;
    if (isInputObjectType(type)) {
      if (depth > 3) return '{}';
      const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) || pick(2) === 0);
      return `{ ${fields.map((f) => `${f.name}: ${value(f.type, depth + 1)}`).join(', ')} }`;
    }
    const name = getNamedType(type).name;
    if (name === 'Int') return INTS[pick(INTS.length)] as string;
    if (name === 'Boolean') return pick(2) ? 'true' : 'false';
    if (slot) {
      // A string slot: the slot-th place a string can go (String, ID, custom scalars) takes the variable $bad.
      const named = getNamedType(type);
      if (isEnumType(named)) return (named.getValues()[pick(named.getValues().length)] as { name: string }).name;
      if (strings++ === slot.index) {
        slot.type = `${name}${required ? '!' : ''}`;
        return '$bad';
      }
    }
    return STRINGS[pick(STRINGS.length)] as string;
  };
  const selection = (type: GraphQLObjectType, depth: number): string => {
    const fields = Object.values(type.getFields());
    const chosen = new Set<number>();
    for (let n = 1 + pick(3); n > 0; n--) chosen.add(pick(fields.length));
    const parts = [...chosen].map((i) => {
      const field = fields[i] as (typeof fields)[number];
      const args = field.args
        .filter((a) => isNonNullType(a.type) || pick(3) === 0)
        .map(
          (a) =>
            `${a.name}: ${a.name === 'filter' && filters.length > 0 ? JSON.stringify(filters[pick(filters.length)]) : value(a.type, 0)}`,
        );
      const named = getNamedType(field.type);
      const head = `${field.name}${args.length > 0 ? `(${args.join(', ')})` : ''}`;
      if (!isObjectType(named)) return head;
      return depth >= 5 ? `${head} { __typename }` : `${head} ${selection(named, depth + 1)}`;
    });
    return `{ ${parts.join(' ')} }`;
  };
  const root = kind === 'query' ? schema.getQueryType() : schema.getMutationType();
  const body = selection(root as GraphQLObjectType, 0);
  if (slot) slot.count = strings;
  return slot?.type === undefined ? `${kind} ${body}` : `${kind} Bad($bad: ${slot.type}) ${body}`;
}

/** Where {@link schemaOperation} puts the variable `$bad`: the index-th string place; it fills in the type and the count. */
interface StringSlot {
  index: number;
  type?: string;
  count?: number;
}

const schemaQuery = fc
  .tuple(
    fc.array(fc.nat(1000), { minLength: 16, maxLength: 64 }),
    fc.array(fc.oneof(typedFilter, anyFilter), { maxLength: 2 }),
    fc.constantFrom('query', 'query', 'query', 'mutation'),
  )
  .map(([choices, filters, kind]) => schemaOperation(graphqlSchema, choices, filters, kind as 'query' | 'mutation'));

const gqlQuery = fc.oneof(
  { weight: 8, arbitrary: fc.constant(null).chain(() => schemaQuery) },
  { weight: 4, arbitrary: selection },
  { weight: 2, arbitrary: selection.map((s) => `query Q($v: String, $first: Int) ${s}`) },
  { weight: 2, arbitrary: mutation },
  { weight: 2, arbitrary: mutated(fc.oneof(selection, mutation)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `{ ${'tenants { edges { node { community { '.repeat(10)}id${' } } } }'.repeat(10)} }`,
      `query { ${'a: __typename '.repeat(2000)} }`,
      'fragment A on Query { ...A } { ...A }',
      '{ tenants(first: 500) { edges { node { users(first: 500) { edges { node { id } } } } } } }',
      `{ ${'['.repeat(3000)} }`,
      'subscription { x }',
      '',
    ),
  },
);
/** How many root fields the mutation of a request body selects (0 when it is no mutation or does not parse). */
function rootMutationFields(body: string): number {
  try {
    const { query, operationName } = JSON.parse(body) as { query?: unknown; operationName?: unknown };
    if (typeof query !== 'string') return 0;
    const operations = parse(query).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const operation = operations.length === 1 ? operations[0] : operations.find((o) => o.name?.value === operationName);
    return operation?.operation === 'mutation' ? operation.selectionSet.selections.length : 0;
  } catch {
    return 0;
  }
}

const gqlBody = fc.oneof(
  { weight: 6, arbitrary: gqlQuery.map((query) => JSON.stringify({ query })) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          query: gqlQuery,
          variables: fc.dictionary(fc.constantFrom('v', 'first', 'x'), jsonish),
          operationName: fc.constantFrom('Q', 'X'),
        },
        { requiredKeys: ['query', 'variables'] },
      )
      .map((b) => JSON.stringify(b)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ query: gqlQuery, variables: jsonish, operationName: jsonish }, { requiredKeys: [] })
      .map((b) => JSON.stringify(b)),
  },
  { weight: 1, arbitrary: rawBody },
);

describe('fuzzing GraphQL', () => {
  it('random and mutated operations and variables never answer 5xx or INTERNAL_SERVER_ERROR, and failures write nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('tenant', 'admin'), gqlBody, async (who, body) => {
        const before = await snapshot(harness.db);
        const token = who === 'admin' ? harness.adminToken : harness.tenants.emea.token;
        const res = await send('POST', '/graphql', { body, token, headers: { 'content-type': 'application/json' } });
        count('graphql', res.status);
        if (process.env.MERIDIAN_FUZZ_STATS && res.status >= 400) count(`graphql ${res.text.slice(0, 90)}`, res.status);
        if (res.status >= 500) throw new Error(`${res.status}: ${res.text}`);
        const json = res.json as {
          data?: Record<string, unknown> | null;
          errors?: { message: unknown; extensions?: { code?: unknown } }[];
        };
        expect(json).toBeDefined();
        for (const error of json.errors ?? []) {
          expect(typeof error.message).toBe('string');
          expect(typeof error.extensions?.code).toBe('string');
          if (error.extensions?.code === 'INTERNAL_SERVER_ERROR') throw new Error(`internal error for ${body}`);
        }
        const wrote = json.data && Object.values(json.data).some((v) => v !== null);
        // Root mutation fields run one after another, each in its own transaction (GraphQL §6.2.2); when a later
        // one fails, null propagation can hide an earlier one's success, so only single-field operations are held
        // to "a failure writes nothing".
        if (wrote) {
          if (res.status >= 400) throw new Error(`${res.status} with data: ${res.text}`);
        } else if (rootMutationFields(body) <= 1) expect(await snapshot(harness.db)).toEqual(before);
      }),
      runs(200),
    );
  });
});

describe('fuzzing GraphQL strings: NUL, lone surrogates and long ones (issue 12)', () => {
  it('every place a GraphQL operation takes a string: NUL or a lone surrogate is 400 INVALID_INPUT naming the argument; a long string is never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(1000), { minLength: 16, maxLength: 64 }),
        fc.constantFrom('query' as const, 'mutation' as const),
        fc.nat(60),
        fc.constantFrom<Badness>('nul', 'lone', 'long'),
        pattern,
        fc.nat(),
        fc.integer({ min: 0xd800, max: 0xdfff }),
        fc.constantFrom('tenant', 'admin', 'hr'),
        async (choices, kind, index, how, text, at, surrogate, who) => {
          let slot: StringSlot = { index };
          let query = schemaOperation(graphqlSchema, choices, [], kind, slot);
          if (!slot.count) return;
          if (slot.type === undefined) {
            slot = { index: index % slot.count };
            query = schemaOperation(graphqlSchema, choices, [], kind, slot);
          }
          const bad =
            how === 'long'
              ? ofLength(text, 3000, serial++)
              : withBadCharacter(text, at, how === 'nul' ? '\u0000' : String.fromCharCode(surrogate));
          const variables = { bad: slot.type?.startsWith('JSONObject') ? { key: bad } : bad };
          const token = who === 'admin' ? harness.adminToken : who === 'hr' ? hrLimits : harness.tenants.emea.token;
          const before = await snapshot(harness.db);
          const body = JSON.stringify({ query, variables });
          const res = await send('POST', '/graphql', { body, token, headers: { 'content-type': 'application/json' } });
          count(`limits graphql ${how}`, res.status);
          if (res.status >= 500) throw new Error(`${res.status}: ${res.text.slice(0, 300)} for ${query}`);
          const json = res.json as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Json }[] };
          for (const error of json.errors ?? []) {
            if (error.extensions?.code === 'INTERNAL_SERVER_ERROR') throw new Error(`internal error for ${query}`);
          }
          if (how === 'long') {
            const wrote = json.data && Object.values(json.data).some((v) => v !== null);
            if (!wrote && rootMutationFields(body) <= 1) expect(await snapshot(harness.db)).toEqual(before);
            return;
          }
          const [first] = json.errors ?? [];
          // An operation the generator got wrong fails validation before any argument is looked at.
          if (first?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED') return;
          expect(res.status).toBe(400);
          expect(json.errors).toHaveLength(1);
          expect(first?.extensions?.code).toBe('INVALID_INPUT');
          const field = String(first?.extensions?.field);
          expect(first?.message).toMatch(
            new RegExp(
              `^Argument '${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' must (not contain the NUL character|be well-formed Unicode)`,
            ),
          );
          expect(await snapshot(harness.db)).toEqual(before);
        },
      ),
      runs(200),
    );
  });
});
