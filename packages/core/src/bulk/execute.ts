import type { PatchOptions, WritePreconditions } from '../directory/resource-service.js';
import { MeridianError } from '../errors/meridian-error.js';
import type { ScimResource } from '../scim/resource.js';
import type { JsonObject } from '../scim/resource-input.js';
import type { ResourceKind } from '../scim/resource-types.js';
import type { RequestContext } from '../tenancy/model.js';

/** Message schemas of SCIM bulk (RFC 7644 §3.7). */
export const BULK_SCHEMA = {
  request: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
  response: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
} as const;

/** The methods a bulk operation may use (RFC 7644 §3.7). */
export type BulkMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One validated operation of a BulkRequest. */
export interface BulkOperation {
  method: BulkMethod;
  /** As sent: `/Users`, `/Groups/{id}`, `/Users/bulkId:x`, or anything else, which fails when it runs. */
  path: string;
  bulkId: string | undefined;
  /** The version the operation's `version` ETag names; it acts as If-Match. */
  ifMatchVersion: number | undefined;
  /** The body of a POST, PUT or PATCH; undefined for DELETE. */
  data: JsonObject | undefined;
}

/** A validated BulkRequest (RFC 7644 §3.7). */
export interface BulkRequest {
  /** The number of errors after which the remaining operations do not run. */
  failOnErrors: number | undefined;
  operations: BulkOperation[];
}

/** What {@link parseBulkRequest} needs from its caller. */
export interface BulkRequestOptions {
  /** The most operations one request may carry (RFC 7644 §3.7.4). */
  maxOperations: number;
  /** Reads an operation's `version` ETag into a version; undefined when it matches any version (`*`). */
  parseVersion(etag: string): number | undefined;
}

/**
 * The writes a bulk request runs, in a tenant the caller was authorized to
 * write in (`ResourceService.bulk` authorizes once and binds them).
 */
export interface BulkResources {
  create(tenantId: string, kind: ResourceKind, body: unknown, context: RequestContext): Promise<ScimResource>;
  replace(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    preconditions?: WritePreconditions,
  ): Promise<ScimResource>;
  patch(
    tenantId: string,
    kind: ResourceKind,
    id: string,
    body: unknown,
    context: RequestContext,
    options?: PatchOptions,
  ): Promise<ScimResource>;
  delete(tenantId: string, kind: ResourceKind, id: string, context: RequestContext, preconditions?: WritePreconditions): Promise<void>;
}

/** The resource an operation addressed or created. */
export interface BulkTarget {
  kind: ResourceKind;
  id: string;
}

/** An operation that ran and succeeded. */
export interface BulkSuccess {
  ok: true;
  operation: BulkOperation;
  status: 200 | 201 | 204;
  target: BulkTarget;
  /** The resource as written; undefined after DELETE. */
  resource: ScimResource | undefined;
}

/** Why an operation failed without running: a `bulkId` reference it cannot resolve (RFC 7644 §3.7.2). */
export interface BulkUnresolvedReference {
  type: 'unresolved';
  bulkId: string;
  /** Safe to show to the client. */
  detail: string;
}

/** Why an operation failed while it ran: what the ResourceService threw. */
export interface BulkOperationError {
  type: 'error';
  error: unknown;
}

/** An operation that failed; it wrote nothing. */
export interface BulkFailure {
  ok: false;
  operation: BulkOperation;
  /** The resource the path named, once resolved; undefined for POST. */
  target: BulkTarget | undefined;
  reason: BulkUnresolvedReference | BulkOperationError;
}

/** What became of one operation. */
export type BulkOutcome = BulkSuccess | BulkFailure;

const METHODS: readonly BulkMethod[] = ['POST', 'PUT', 'PATCH', 'DELETE'];
const ENDPOINTS: Record<string, ResourceKind> = { Users: 'User', Groups: 'Group' };
const PATH = /^\/(Users|Groups)(?:\/([^/]+))?$/;
const REFERENCE = 'bulkId:';
// Resource bodies nest a handful of levels; the cap keeps the reference walk off the stack limit.
const MAX_DEPTH = 32;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// RFC 7643 §2.1: attribute names are case-insensitive; RFC 7643 §2.5: null is unassigned.
function attribute(object: JsonObject, name: string): unknown {
  const lower = name.toLowerCase();
  const key = Object.keys(object).find((k) => k.toLowerCase() === lower);
  const value = key === undefined ? undefined : object[key];
  return value === null ? undefined : value;
}

function syntax(detail: string): MeridianError {
  return new MeridianError('INVALID_SYNTAX', detail);
}

/**
 * Validates a BulkRequest body; the whole request fails with INVALID_SYNTAX
 * when its structure is wrong, or PAYLOAD_TOO_LARGE beyond `maxOperations`.
 */
export function parseBulkRequest(body: unknown, options: BulkRequestOptions): BulkRequest {
  if (!isObject(body)) throw syntax('The body must be a BulkRequest object.');
  const schemas = attribute(body, 'schemas');
  const request = BULK_SCHEMA.request.toLowerCase();
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === request)) {
    throw syntax(`'schemas' must contain '${BULK_SCHEMA.request}'.`);
  }
  const operations = attribute(body, 'Operations');
  if (!Array.isArray(operations)) throw syntax("'Operations' must be an array.");
  // RFC 7644 §3.7.4: more operations than maxOperations is a 413.
  if (operations.length > options.maxOperations) {
    throw new MeridianError(
      'PAYLOAD_TOO_LARGE',
      `The request has ${operations.length} operations; the maximum is ${options.maxOperations}.`,
    );
  }
  const failOnErrors = attribute(body, 'failOnErrors');
  if (failOnErrors !== undefined && !(typeof failOnErrors === 'number' && Number.isInteger(failOnErrors) && failOnErrors >= 1)) {
    throw syntax("'failOnErrors' must be a positive integer.");
  }
  const parsed = operations.map((raw, i) => parseOperation(raw, `Operations[${i}]`, options));
  const seen = new Set<string>();
  for (const { bulkId } of parsed) {
    if (bulkId === undefined) continue;
    // RFC 7644 §3.7: a bulkId is "unique within a bulk request"; a second one would make references ambiguous.
    if (seen.has(bulkId)) throw syntax(`bulkId '${bulkId}' is used by more than one operation.`);
    seen.add(bulkId);
  }
  return { failOnErrors, operations: parsed };
}

function parseOperation(raw: unknown, at: string, options: BulkRequestOptions): BulkOperation {
  if (!isObject(raw)) throw syntax(`${at} must be an object.`);
  const methodValue = attribute(raw, 'method');
  const method = METHODS.find((m) => typeof methodValue === 'string' && m === methodValue.toUpperCase());
  if (method === undefined) throw syntax(`${at}.method must be POST, PUT, PATCH or DELETE.`);
  const path = attribute(raw, 'path');
  if (typeof path !== 'string' || path === '') throw syntax(`${at}.path must be a non-empty string.`);
  const bulkId = attribute(raw, 'bulkId');
  if (bulkId !== undefined && (typeof bulkId !== 'string' || bulkId === '')) throw syntax(`${at}.bulkId must be a non-empty string.`);
  // RFC 7644 §3.7: bulkId is REQUIRED with POST.
  if (method === 'POST' && bulkId === undefined) throw syntax(`${at}.bulkId is required with POST.`);
  const version = attribute(raw, 'version');
  if (version !== undefined && typeof version !== 'string') throw syntax(`${at}.version must be an ETag string.`);
  let data: JsonObject | undefined;
  if (method !== 'DELETE') {
    const value = attribute(raw, 'data');
    if (!isObject(value)) throw syntax(`${at}.data must be an object with ${method}.`);
    collectReferences(value, 0, [], `${at}.data`);
    data = value;
  }
  return {
    method,
    path,
    bulkId,
    ifMatchVersion: version === undefined || method === 'POST' ? undefined : options.parseVersion(version),
    data,
  };
}

// RFC 7644 §3.7.2: a reference is a whole string value `bulkId:<bulkId>`, at any depth.
function collectReferences(value: unknown, depth: number, out: string[], at: string): string[] {
  if (depth > MAX_DEPTH) throw syntax(`${at} is nested more than ${MAX_DEPTH} levels deep.`);
  if (typeof value === 'string') {
    if (value.startsWith(REFERENCE)) out.push(value.slice(REFERENCE.length));
  } else if (Array.isArray(value)) {
    for (const item of value) collectReferences(item, depth + 1, out, at);
  } else if (isObject(value)) {
    for (const item of Object.values(value)) collectReferences(item, depth + 1, out, at);
  }
  return out;
}

function substituteReferences(value: unknown, ids: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') {
    return value.startsWith(REFERENCE) ? (ids.get(value.slice(REFERENCE.length)) ?? value) : value;
  }
  if (Array.isArray(value)) return value.map((item) => substituteReferences(item, ids));
  // fromEntries defines own properties, so a `__proto__` key stays data.
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteReferences(v, ids)]));
  return value;
}

interface Step {
  operation: BulkOperation;
  /** The endpoint and id the path names; undefined when it names no endpoint. */
  endpoint: { kind: ResourceKind; id: string | undefined } | undefined;
  /** bulkIds referenced from the path and the data, path first. */
  references: string[];
}

function planStep(operation: BulkOperation): Step {
  const match = PATH.exec(operation.path);
  const endpoint = match ? { kind: ENDPOINTS[match[1] as string] as ResourceKind, id: match[2] } : undefined;
  const references: string[] = [];
  if (endpoint?.id?.startsWith(REFERENCE)) references.push(endpoint.id.slice(REFERENCE.length));
  if (operation.data !== undefined) collectReferences(operation.data, 0, references, 'data');
  return { operation, endpoint, references };
}

function creatorsOf(steps: Step[]): Map<string, number> {
  const creators = new Map<string, number>();
  steps.forEach((step, i) => {
    if (step.operation.method === 'POST' && step.operation.bulkId !== undefined) creators.set(step.operation.bulkId, i);
  });
  return creators;
}

function dependenciesOf(steps: Step[], creators: ReadonlyMap<string, number>): number[][] {
  return steps.map((step) => [
    ...new Set(step.references.flatMap((bulkId) => (creators.has(bulkId) ? [creators.get(bulkId) as number] : []))),
  ]);
}

// Tarjan's strongly connected components, without recursion so that a long
// chain of references cannot exhaust the stack. Maps each operation on a
// cycle to the (shared) sorted positions of its cycle.
function findReferenceCycles(dependencies: readonly (readonly number[])[]): Map<number, number[]> {
  const n = dependencies.length;
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const cycles = new Map<number, number[]>();
  let counter = 0;
  const enter = (node: number) => {
    index[node] = counter;
    low[node] = counter;
    counter++;
    stack.push(node);
    onStack[node] = true;
  };
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    enter(root);
    const work: { node: number; edge: number }[] = [{ node: root, edge: 0 }];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = dependencies[frame.node]!;
      if (frame.edge < edges.length) {
        const next = edges[frame.edge++]!;
        if (index[next] === -1) {
          enter(next);
          work.push({ node: next, edge: 0 });
        } else if (onStack[next]) {
          low[frame.node] = Math.min(low[frame.node]!, index[next]!);
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low[parent.node] = Math.min(low[parent.node]!, low[frame.node]!);
      if (low[frame.node] !== index[frame.node]) continue;
      const component: number[] = [];
      let member: number;
      do {
        member = stack.pop()!;
        onStack[member] = false;
        component.push(member);
      } while (member !== frame.node);
      if (component.length > 1 || dependencies[frame.node]!.includes(frame.node)) {
        component.sort((a, b) => a - b);
        for (const m of component) cycles.set(m, component);
      }
    }
  }
  return cycles;
}

// Every POST runs before the operations that reference it; otherwise the
// smallest ready position goes first, so no operation runs ahead of one the
// client put before it unless a reference demands it. Operations on a cycle
// wait for nothing: they fail without running.
function orderOperations(dependencies: readonly (readonly number[])[], cyclic: ReadonlySet<number>): number[] {
  const waiting = dependencies.map(() => 0);
  const dependents: number[][] = dependencies.map(() => []);
  dependencies.forEach((deps, i) => {
    if (cyclic.has(i)) return;
    for (const d of deps) {
      waiting[i]!++;
      dependents[d]!.push(i);
    }
  });
  // Sorted descending, so pop() yields the smallest ready position.
  const ready = waiting.flatMap((count, i) => (count === 0 ? [i] : [])).reverse();
  const order: number[] = [];
  while (ready.length > 0) {
    const next = ready.pop()!;
    order.push(next);
    for (const d of dependents[next]!) {
      waiting[d]!--;
      if (waiting[d] === 0) insertDescending(ready, d);
    }
  }
  return order;
}

function insertDescending(list: number[], value: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! > value) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, value);
}

/**
 * Runs the operations of a bulk request, each in its own transaction (RFC
 * 7644 §3.7: a bulk request is not atomic), and returns what became of each
 * operation that ran, in the client's order.
 */
export async function executeBulk(
  resources: BulkResources,
  tenantId: string,
  request: BulkRequest,
  context: RequestContext,
): Promise<BulkOutcome[]> {
  const steps = request.operations.map(planStep);
  const creators = creatorsOf(steps);
  const dependencies = dependenciesOf(steps, creators);
  const cycles = findReferenceCycles(dependencies);
  const order = orderOperations(dependencies, new Set(cycles.keys()));
  const created = new Map<string, string>();
  const outcomes: [number, BulkOutcome][] = [];
  let errors = 0;
  for (const position of order) {
    // RFC 7644 §3.7.3: after failOnErrors errors, the remaining operations do not run.
    if (request.failOnErrors !== undefined && errors >= request.failOnErrors) break;
    const step = steps[position]!;
    const cycle = cycles.get(position);
    const unresolved = cycle ? cycleFailure(steps, step, cycle, creators, cycles) : referenceFailure(step, creators, created);
    const outcome = unresolved
      ? ({ ok: false, operation: step.operation, target: targetOf(step, created), reason: unresolved } satisfies BulkFailure)
      : await runStep(resources, tenantId, context, step, created);
    if (outcome.ok) {
      if (step.operation.method === 'POST' && step.operation.bulkId !== undefined) created.set(step.operation.bulkId, outcome.target.id);
    } else {
      errors++;
    }
    outcomes.push([position, outcome]);
  }
  return outcomes.sort(([a], [b]) => a - b).map(([, outcome]) => outcome);
}

// RFC 7644 §3.7.1 lets a service provider answer 409 to circular references
// instead of resolving them; resolving needs a create and a later update,
// which would leave a half-made resource behind when the second step fails.
function cycleFailure(
  steps: Step[],
  step: Step,
  cycle: number[],
  creators: ReadonlyMap<string, number>,
  cycles: ReadonlyMap<number, number[]>,
): BulkUnresolvedReference {
  const onCycle = (bulkId: string) => cycles.get(creators.get(bulkId) ?? -1) === cycle;
  const bulkId = step.references.find(onCycle) ?? (step.operation.bulkId as string);
  const names = cycle
    .slice(0, 5)
    .map((p) => `'${steps[p]!.operation.bulkId}'`)
    .join(', ')
    .concat(cycle.length > 5 ? ` and ${cycle.length - 5} more` : '');
  return {
    type: 'unresolved',
    bulkId,
    detail: `bulkId '${bulkId}' is part of a circular reference between the operations with bulkIds ${names}; create them first and add the references in a later request.`,
  };
}

function targetOf(step: Step, created: ReadonlyMap<string, string>): BulkTarget | undefined {
  const id = step.endpoint?.id;
  if (step.endpoint === undefined || id === undefined || step.operation.method === 'POST') return undefined;
  if (!id.startsWith(REFERENCE)) return { kind: step.endpoint.kind, id };
  const resolved = created.get(id.slice(REFERENCE.length));
  return resolved === undefined ? undefined : { kind: step.endpoint.kind, id: resolved };
}

function referenceFailure(
  step: Step,
  creators: ReadonlyMap<string, number>,
  created: ReadonlyMap<string, string>,
): BulkUnresolvedReference | undefined {
  for (const bulkId of step.references) {
    if (created.has(bulkId)) continue;
    const detail = creators.has(bulkId)
      ? `bulkId '${bulkId}' refers to a POST that failed.`
      : `bulkId '${bulkId}' is not the bulkId of any POST in this request.`;
    return { type: 'unresolved', bulkId, detail };
  }
  return undefined;
}

async function runStep(
  resources: BulkResources,
  tenantId: string,
  context: RequestContext,
  step: Step,
  created: ReadonlyMap<string, string>,
): Promise<BulkOutcome> {
  const { operation, endpoint } = step;
  const fail = (error: unknown, target?: BulkTarget): BulkFailure => ({ ok: false, operation, target, reason: { type: 'error', error } });
  if (!endpoint) return fail(new MeridianError('NOT_FOUND', `No such SCIM endpoint: '${operation.path}'.`));
  const { kind } = endpoint;
  if (operation.method === 'POST' ? endpoint.id !== undefined : endpoint.id === undefined) {
    const expected = operation.method === 'POST' ? '/Users or /Groups' : '/Users/{id} or /Groups/{id}';
    return fail(new MeridianError('INVALID_INPUT', `${operation.method} takes a path of ${expected}.`, { field: 'path' }));
  }
  const data = operation.data === undefined ? undefined : substituteReferences(operation.data, created);
  const preconditions = operation.ifMatchVersion === undefined ? {} : { ifMatchVersion: operation.ifMatchVersion };
  if (operation.method === 'POST') {
    try {
      const resource = await resources.create(tenantId, kind, data, context);
      return { ok: true, operation, status: 201, target: { kind, id: resource.id }, resource };
    } catch (error) {
      return fail(error);
    }
  }
  const target = targetOf(step, created) as BulkTarget;
  const { id } = target;
  try {
    switch (operation.method) {
      case 'PUT': {
        const resource = await resources.replace(tenantId, kind, id, data, context, preconditions);
        return { ok: true, operation, status: 200, target, resource };
      }
      case 'PATCH': {
        const resource = await resources.patch(tenantId, kind, id, data, context, preconditions);
        return { ok: true, operation, status: 200, target, resource };
      }
      case 'DELETE':
        await resources.delete(tenantId, kind, id, context, preconditions);
        return { ok: true, operation, status: 204, target, resource: undefined };
    }
  } catch (error) {
    return fail(error, target);
  }
}
