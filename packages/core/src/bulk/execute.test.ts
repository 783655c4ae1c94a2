import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import type { ScimResource } from '../scim/resource.js';
import type { ResourceKind } from '../scim/resource-types.js';
import { BULK_SCHEMA, type BulkOutcome, type BulkRequest, type BulkResources, executeBulk, parseBulkRequest } from './execute.js';

const options = { maxOperations: 10, parseVersion: (etag: string) => (etag === '*' ? undefined : Number(etag.replace(/\D/g, ''))) };
const context = { actor: { type: 'system' as const, id: 'test' }, requestId: 'r' };

function request(operations: unknown[], extra: Record<string, unknown> = {}): BulkRequest {
  return parseBulkRequest({ schemas: [BULK_SCHEMA.request], Operations: operations, ...extra }, { ...options, maxOperations: 100_000 });
}

function post(bulkId: string, data: Record<string, unknown> = {}, path = '/Groups') {
  return { method: 'POST', path, bulkId, data: { displayName: bulkId, ...data } };
}

interface Call {
  method: string;
  kind: ResourceKind;
  id: string;
  body?: unknown;
  ifMatchVersion?: number | undefined;
}

/** A ResourceService stand-in that records calls; ids are `id-<displayName>`, and `fail` makes a call throw. */
function fakeResources(fail: (call: Call) => MeridianError | undefined = () => undefined) {
  const calls: Call[] = [];
  const resource = (kind: ResourceKind, id: string): ScimResource => ({
    id,
    tenantId: 't',
    kind,
    externalId: undefined,
    attributes: {},
    extensionSchemas: [],
    members: [],
    groups: [],
    version: 2,
    created: new Date(0),
    lastModified: new Date(0),
  });
  const record = (call: Call) => {
    calls.push(call);
    const error = fail(call);
    if (error) throw error;
  };
  const resources: BulkResources = {
    async create(_tenantId, kind, body) {
      const id = `id-${(body as { displayName?: string }).displayName}`;
      record({ method: 'POST', kind, id, body });
      return resource(kind, id);
    },
    async replace(_tenantId, kind, id, body, _context, preconditions) {
      record({ method: 'PUT', kind, id, body, ifMatchVersion: preconditions?.ifMatchVersion });
      return resource(kind, id);
    },
    async patch(_tenantId, kind, id, body, _context, preconditions) {
      record({ method: 'PATCH', kind, id, body, ifMatchVersion: preconditions?.ifMatchVersion });
      return resource(kind, id);
    },
    async delete(_tenantId, kind, id, _context, preconditions) {
      record({ method: 'DELETE', kind, id, ifMatchVersion: preconditions?.ifMatchVersion });
    },
  };
  return { resources, calls };
}

function summary(outcomes: BulkOutcome[]) {
  return outcomes.map((o) =>
    o.ok
      ? { bulkId: o.operation.bulkId, status: o.status }
      : { bulkId: o.operation.bulkId, failed: o.reason.type === 'unresolved' ? o.reason.bulkId : (o.reason.error as MeridianError).code },
  );
}

describe('parseBulkRequest (RFC 7644 §3.7)', () => {
  it('reads operations, case-insensitive methods and the version ETag', () => {
    const parsed = parseBulkRequest(
      {
        schemas: [BULK_SCHEMA.request],
        failOnErrors: 2,
        Operations: [
          { method: 'post', path: '/Users', bulkId: 'u', data: { userName: 'a' } },
          { method: 'Delete', path: '/Users/1', version: 'W/"3"' },
          { method: 'PUT', path: '/Users/1', version: '*', data: {} },
        ],
      },
      options,
    );
    expect(parsed).toEqual({
      failOnErrors: 2,
      operations: [
        { method: 'POST', path: '/Users', bulkId: 'u', ifMatchVersion: undefined, data: { userName: 'a' } },
        { method: 'DELETE', path: '/Users/1', bulkId: undefined, ifMatchVersion: 3, data: undefined },
        { method: 'PUT', path: '/Users/1', bulkId: undefined, ifMatchVersion: undefined, data: {} },
      ],
    });
  });

  it.each([
    ['a body that is not an object', []],
    ['no BulkRequest schema', { schemas: ['urn:x'], Operations: [] }],
    ['Operations that are not an array', { schemas: [BULK_SCHEMA.request], Operations: {} }],
    ['failOnErrors of 0', { schemas: [BULK_SCHEMA.request], failOnErrors: 0, Operations: [] }],
    ['an operation that is not an object', { schemas: [BULK_SCHEMA.request], Operations: ['x'] }],
    ['an unknown method', { schemas: [BULK_SCHEMA.request], Operations: [{ method: 'GET', path: '/Users' }] }],
    ['a missing path', { schemas: [BULK_SCHEMA.request], Operations: [{ method: 'DELETE' }] }],
    ['a POST without bulkId', { schemas: [BULK_SCHEMA.request], Operations: [{ method: 'POST', path: '/Users', data: {} }] }],
    ['a PUT without data', { schemas: [BULK_SCHEMA.request], Operations: [{ method: 'PUT', path: '/Users/1' }] }],
    [
      'a version that is not a string',
      { schemas: [BULK_SCHEMA.request], Operations: [{ method: 'DELETE', path: '/Users/1', version: 3 }] },
    ],
    ['a duplicate bulkId', { schemas: [BULK_SCHEMA.request], Operations: [post('a'), post('a')] }],
    [
      'data nested too deeply',
      { schemas: [BULK_SCHEMA.request], Operations: [post('a', { deep: JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`) })] },
    ],
  ])('rejects %s with INVALID_SYNTAX', (_name, body) => {
    expect(() => parseBulkRequest(body, options)).toThrow(expect.objectContaining({ code: 'INVALID_SYNTAX' }) as unknown as Error);
  });

  it('answers PAYLOAD_TOO_LARGE beyond maxOperations (RFC 7644 §3.7.4)', () => {
    const body = { schemas: [BULK_SCHEMA.request], Operations: Array.from({ length: 11 }, () => 'not even an operation') };
    expect(() => parseBulkRequest(body, options)).toThrow(
      new MeridianError('PAYLOAD_TOO_LARGE', 'The request has 11 operations; the maximum is 10.'),
    );
  });
});

describe('executeBulk (RFC 7644 §3.7)', () => {
  it('replaces bulkId references in data and path with the created ids', async () => {
    const { resources, calls } = fakeResources();
    const outcomes = await executeBulk(
      resources,
      't',
      request([
        post('u', {}, '/Users'),
        post('g', { members: [{ value: 'bulkId:u' }], note: 'bulkId:u' }),
        { method: 'PATCH', path: '/Groups/bulkId:g', version: 'W/"1"', data: { Operations: [{ value: [{ value: 'bulkId:u' }] }] } },
      ]),
      context,
    );
    expect(summary(outcomes)).toEqual([
      { bulkId: 'u', status: 201 },
      { bulkId: 'g', status: 201 },
      { bulkId: undefined, status: 200 },
    ]);
    expect(calls).toEqual([
      { method: 'POST', kind: 'User', id: 'id-u', body: { displayName: 'u' } },
      { method: 'POST', kind: 'Group', id: 'id-g', body: { displayName: 'g', members: [{ value: 'id-u' }], note: 'id-u' } },
      { method: 'PATCH', kind: 'Group', id: 'id-g', body: { Operations: [{ value: [{ value: 'id-u' }] }] }, ifMatchVersion: 1 },
    ]);
  });

  it('runs a POST before the operations that reference it, and otherwise keeps the client order', async () => {
    const { resources, calls } = fakeResources();
    const outcomes = await executeBulk(
      resources,
      't',
      request([
        post('a', { members: [{ value: 'bulkId:c' }] }),
        { method: 'DELETE', path: '/Users/x' },
        post('b'),
        post('c', { members: [{ value: 'bulkId:d' }] }),
        post('d'),
      ]),
      context,
    );
    expect(calls.map((c) => c.id)).toEqual(['x', 'id-b', 'id-d', 'id-c', 'id-a']);
    expect(outcomes.map((o) => o.operation.bulkId)).toEqual(['a', undefined, 'b', 'c', 'd']);
  });

  it('answers a cycle with an unresolved reference for each of its operations, and runs none of them', async () => {
    const { resources, calls } = fakeResources();
    const outcomes = await executeBulk(
      resources,
      't',
      request([
        post('a', { members: [{ value: 'bulkId:b' }] }),
        post('b', { members: [{ value: 'bulkId:a' }] }),
        post('self', { members: [{ value: 'bulkId:self' }] }),
        post('after', { members: [{ value: 'bulkId:a' }] }),
        post('free'),
      ]),
      context,
    );
    expect(calls.map((c) => c.id)).toEqual(['id-free']);
    expect(outcomes.map((o) => (o.ok ? o.status : o.reason))).toEqual([
      {
        type: 'unresolved',
        bulkId: 'b',
        detail:
          "bulkId 'b' is part of a circular reference between the operations with bulkIds 'a', 'b'; create them first and add the references in a later request.",
      },
      expect.objectContaining({ type: 'unresolved', bulkId: 'a' }),
      expect.objectContaining({ type: 'unresolved', bulkId: 'self' }),
      { type: 'unresolved', bulkId: 'a', detail: "bulkId 'a' refers to a POST that failed." },
      201,
    ]);
  });

  it('fails an operation that references an unknown bulkId or a failed POST', async () => {
    const { resources } = fakeResources((call) =>
      call.id === 'id-bad' ? new MeridianError('INVALID_INPUT', 'Attribute x is bad.') : undefined,
    );
    const outcomes = await executeBulk(
      resources,
      't',
      request([post('x', { members: [{ value: 'bulkId:nope' }] }), { method: 'DELETE', path: '/Groups/bulkId:bad' }, post('bad')]),
      context,
    );
    expect(outcomes.map((o) => (o.ok ? o.status : o.reason))).toEqual([
      { type: 'unresolved', bulkId: 'nope', detail: "bulkId 'nope' is not the bulkId of any POST in this request." },
      { type: 'unresolved', bulkId: 'bad', detail: "bulkId 'bad' refers to a POST that failed." },
      { type: 'error', error: new MeridianError('INVALID_INPUT', 'Attribute x is bad.') },
    ]);
  });

  it('fails operations on unknown paths or with a path that does not fit the method', async () => {
    const { resources, calls } = fakeResources();
    const outcomes = await executeBulk(
      resources,
      't',
      request([
        { method: 'DELETE', path: '/Widgets/1' },
        { method: 'DELETE', path: '/Users/1/2' },
        post('a', {}, '/Groups/1'),
        { method: 'PUT', path: '/Users', data: {} },
      ]),
      context,
    );
    expect(calls).toEqual([]);
    expect(summary(outcomes)).toEqual([
      { bulkId: undefined, failed: 'NOT_FOUND' },
      { bulkId: undefined, failed: 'NOT_FOUND' },
      { bulkId: 'a', failed: 'INVALID_INPUT' },
      { bulkId: undefined, failed: 'INVALID_INPUT' },
    ]);
  });

  it('stops after failOnErrors errors; the rest do not run and are not reported', async () => {
    const { resources, calls } = fakeResources((call) => (call.id === 'id-b' ? new MeridianError('UNIQUENESS', 'taken') : undefined));
    const outcomes = await executeBulk(
      resources,
      't',
      request([post('a'), { method: 'DELETE', path: '/Foo' }, post('b'), post('c')], { failOnErrors: 2 }),
      context,
    );
    expect(summary(outcomes)).toEqual([
      { bulkId: 'a', status: 201 },
      { bulkId: undefined, failed: 'NOT_FOUND' },
      { bulkId: 'b', failed: 'UNIQUENESS' },
    ]);
    expect(calls.map((c) => c.id)).toEqual(['id-a', 'id-b']);
  });

  it('orders a long chain of forward references and finds a long cycle without exhausting the stack', async () => {
    const n = 20_000;
    const chain = Array.from({ length: n }, (_, i) => post(`n${i}`, i + 1 < n ? { members: [{ value: `bulkId:n${i + 1}` }] } : {}));
    const forward = fakeResources();
    await executeBulk(forward.resources, 't', request(chain), context);
    expect(forward.calls.map((c) => c.id)).toEqual(chain.map((op) => `id-${op.bulkId}`).reverse());

    const ring = Array.from({ length: n }, (_, i) => post(`n${i}`, { members: [{ value: `bulkId:n${(i + 1) % n}` }] }));
    const cyclic = fakeResources();
    const outcomes = await executeBulk(cyclic.resources, 't', request(ring), context);
    expect(cyclic.calls).toEqual([]);
    expect(outcomes.every((o) => !o.ok && o.reason.type === 'unresolved')).toBe(true);
  });
});
