import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { type GraphQLSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { getComplexity } from 'graphql-query-complexity';
import type { GraphqlServices } from './context.js';
import { connectionEstimator, DEFAULT_GRAPHQL_LIMITS, depthLimitRule, knownOperationTypeRule } from './limits.js';
import { registerGraphql } from './plugin.js';
import { buildMeridianSchema } from './schema.js';

let schema: GraphQLSchema;
let app: FastifyInstance;
let wait: number | undefined;
const logs: string[] = [];

beforeAll(async () => {
  schema = await buildMeridianSchema();
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  app = Fastify({ logger: { level: 'error', stream } });
  // Refused requests never reach a resolver, so no services are needed.
  await registerGraphql(app, {
    services: {} as GraphqlServices,
    authenticate: async (authorization) => (authorization ? { kind: 'platform', tokenId: 't', scopes: ['admin'] } : undefined),
    throttle: async () => wait,
    limits: { maxDepth: 6, maxComplexity: 1000, maxBodyBytes: 4096 },
  });
});
afterAll(() => app.close());

function errorsOf(query: string, maxDepth: number): string[] {
  return validate(schema, parse(query), [depthLimitRule(maxDepth)]).map((e) => e.message);
}

async function post(payload: string | Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: 'Bearer x', 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: JSON.parse(res.body) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] },
  };
}

const cost = (query: string, variables: Record<string, unknown> = {}) =>
  getComplexity({ schema, query: parse(query), variables, estimators: [connectionEstimator] });

describe('depthLimitRule', () => {
  const deep = '{ tenant(slug: "x") { users { edges { node { groups { id } } } } } }'; // 6 levels

  it('accepts an operation at the limit and refuses one a level deeper, naming the limit', () => {
    expect(errorsOf(deep, 6)).toEqual([]);
    expect(errorsOf(deep, 5)).toEqual([
      'The operation nests fields more than 5 levels deep; ask for less, or split it into several requests.',
    ]);
  });

  it('counts fragments where they are spread, and inline fragments', () => {
    const query = `query Deep { tenant(slug: "x") { ...T } }
      fragment T on Tenant { users { edges { ... on UserEdge { node { groups { id } } } } } }`;
    expect(errorsOf(query, 6)).toEqual([]);
    expect(errorsOf(query, 5)).toEqual([expect.stringContaining("Operation 'Deep' nests fields more than 5 levels")]);
  });

  it('survives fragment cycles (NoFragmentCyclesRule reports them)', () => {
    const query = '{ tenant(slug: "x") { ...A } } fragment A on Tenant { community { tenants { edges { node { ...A } } } } }';
    expect(errorsOf(query, 12)).toEqual([]);
  });

  it("leaves introspection to graphql-js's MaxIntrospectionDepthRule, so the standard introspection query passes", () => {
    const introspection = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true });
    expect(validate(schema, parse(introspection), [...specifiedRules, depthLimitRule(DEFAULT_GRAPHQL_LIMITS.maxDepth)])).toEqual([]);
    const fanOut = '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }';
    expect(validate(schema, parse(fanOut), [...specifiedRules, depthLimitRule(12)]).map((e) => e.message)).toEqual([
      'Maximum introspection depth exceeded',
    ]);
  });
});

// Regression (issue 4, fuzzing): `subscription { x }` answered INTERNAL_SERVER_ERROR.
describe('regression: a subscription answered an internal error', () => {
  it('refuses an operation type the schema lacks as a validation failure', async () => {
    expect(validate(schema, parse('subscription S { x }'), [knownOperationTypeRule]).map((e) => e.message)).toEqual([
      'The schema has no subscription operations.',
    ]);
    const res = await post({ query: 'subscription { __typename }' });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toMatchObject({
      message: 'The schema has no subscription operations.',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });
});

describe('connectionEstimator', () => {
  it('costs a connection first x its selection, with the default first when none is given', () => {
    expect(cost('{ tenant(slug: "x") { users(first: 10) { edges { node { id userName } } } } }')).toBe(1 + 1 + 10 * (1 + 3));
    expect(cost('{ tenant(slug: "x") { users { totalCount } } }')).toBe(1 + 1 + 50 * 1);
    expect(cost('query($n: Int!) { tenant(slug: "x") { users(first: $n) { totalCount } } }', { n: 200 })).toBe(1 + 1 + 200);
  });

  it('caps first at the largest page the core accepts, and costs introspection nothing', () => {
    expect(cost('{ communities(first: 100000) { totalCount } }')).toBe(1 + 500);
    expect(cost('{ __schema { types { name fields { name } } } }')).toBe(0);
  });
});

describe('limits on the wire', () => {
  it('refuses an operation deeper than maxDepth with 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const res = await post({ query: '{ tenant(slug: "x") { community { tenants { edges { node { users { totalCount } } } } } } }' });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      {
        message: 'The operation nests fields more than 6 levels deep; ask for less, or split it into several requests.',
        locations: [{ line: 1, column: 1 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
  });

  it('refuses an operation costlier than maxComplexity, counting variables, before any resolver runs', async () => {
    const query = 'query($n: Int!) { tenants(first: $n) { edges { node { id slug name } } } }';
    const res = await post({ query, variables: { n: 400 } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      {
        message: expect.stringMatching(/^The query's estimated cost is 2001, above the limit of 1000/),
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
  });

  it('answers the standard introspection query (the explorer needs it)', async () => {
    const res = await post({ query: getIntrospectionQuery() });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });

  it('refuses a body over maxBodyBytes with 413 and a GraphQL error body', async () => {
    const res = await post({ query: `{ tenants { totalCount } } # ${'x'.repeat(5000)}` });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ errors: [{ message: 'The request body is larger than 4096 bytes.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers invalid JSON with 400 and a GraphQL error body', async () => {
    const res = await post('{"query": ');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ message: 'The request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('refuses a throttled caller with 429 RATE_LIMITED and Retry-After', async () => {
    wait = 7;
    try {
      const res = await post({ query: '{ tenants { totalCount } }' });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('7');
      expect(res.body.errors).toEqual([
        { message: expect.stringContaining('retry after 7 seconds'), extensions: { code: 'RATE_LIMITED' } },
      ]);
    } finally {
      wait = undefined;
    }
  });
});

describe('unexpected errors', () => {
  it('answers INTERNAL_SERVER_ERROR without detail and logs the cause for the operator', async () => {
    // No services behind this app: the resolver fails with a TypeError.
    const res = await post({ query: '{ tenants { totalCount } }' });
    expect(res.body.errors).toEqual([
      { message: 'Internal server error.', path: ['tenants'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    const logged = logs.map((line) => JSON.parse(line) as { msg: string; err?: { type: string }; path?: unknown });
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'GraphQL operation failed', err: expect.objectContaining({ type: 'TypeError' }), path: ['tenants'] }),
    );
  });
});
