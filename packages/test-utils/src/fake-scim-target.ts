// Over 600 lines on purpose: a whole SCIM service provider (Users, Groups, PATCH, filters, ETags) with
// fault injection, so that connector and replication tests run against real HTTP and real protocol behaviour.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  applyPatch,
  coreSchemaOf,
  etagOf,
  type Filter,
  groupSchema,
  type JsonObject,
  MeridianError,
  matchesFilter,
  type PatchOperation,
  parsePatchRequest,
  parseResourceInput,
  parseScimFilter,
  type ResourceKind,
  resourceShapes,
  SCHEMA,
} from '@meridian/core';
import { scimErrorBody, toScimError } from '@meridian/scim';

/** Options of a {@link FakeScimTarget}. */
export interface FakeScimTargetOptions {
  /** The bearer token every request must carry; a random one when omitted. */
  token?: string;
  /** Path prefix of the SCIM endpoints, e.g. `/scim/v2`; none by default. */
  basePath?: string;
  /** The most resources one list page returns, whatever `count` asks (advertised as `filter.maxResults`). Default 100. */
  maxPageSize?: number;
  /** The most group members one request may carry (POST, PUT or all `members` operations of a PATCH). Default: no cap. */
  maxMembersPerRequest?: number;
  /** The status answered above {@link maxMembersPerRequest}: 400 `invalidValue` or 413. Default 413. */
  memberCapStatus?: 400 | 413;
  /** Whether PATCH is supported (advertised as `patch.supported`); when false PATCH answers 501. Default true. */
  patch?: boolean;
  /** Rate limit in requests per second; requests beyond it answer 429 with `Retry-After: 1`. Default: none. */
  rateLimit?: number;
  /** Serves endpoints beyond Users and Groups (a vendor extension); undefined from it falls through to SCIM. */
  extension?: (request: FakeScimExtensionRequest) => FakeScimAnswer | undefined;
}

/** An authenticated request offered to {@link FakeScimTargetOptions.extension}. */
export interface FakeScimExtensionRequest {
  method: string;
  /** The path below the base path. */
  path: string;
  body: unknown;
}

/** What an extension answers: status, JSON body, extra headers. */
export interface FakeScimAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A fault the target answers with instead of serving a request. */
export type FakeScimFault =
  /** Answer this status (500, 503, ...) with a SCIM error body. */
  | { type: 'status'; status: number; detail?: string }
  /** 429 with `Retry-After` (seconds, or an HTTP date string). */
  | { type: 'rateLimited'; retryAfter: number | string }
  /** Never answer; the connection stays open until the client gives up or the target closes. */
  | { type: 'hang' }
  /** Answer normally, but only after `ms` milliseconds. */
  | { type: 'delay'; ms: number }
  /** Destroy the socket without answering. */
  | { type: 'drop' };

/** Which requests a fault applies to; every request when omitted. */
export interface FakeScimFaultMatch {
  method?: string;
  /** The path below the base path, e.g. `/Users`; a string matches as a prefix. */
  path?: string | RegExp;
}

/** One request the target received, in arrival order. */
export interface RecordedRequest {
  method: string;
  /** The path below the base path, without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  /** The status answered; undefined for a dropped or never answered request. */
  status?: number;
  /** The injected fault that answered it, if any. */
  fault?: FakeScimFault['type'] | 'rateLimit' | 'rejectedUserName';
}

/** A rejection of one userName, answered to every write that carries or targets it. */
export interface UserNameRejection {
  status?: number;
  scimType?: string;
  detail?: string;
}

/** Counts of the target's state, for exact assertions. */
export interface FakeScimState {
  users: number;
  groups: number;
  /** Member ids of each group, by group id, sorted. */
  members: Record<string, string[]>;
}

interface StoredResource {
  id: string;
  kind: ResourceKind;
  externalId: string | undefined;
  attributes: JsonObject;
  extensionSchemas: string[];
  password: string | undefined;
  /** Group members: member id to member type. */
  members: Map<string, 'User' | 'Group'>;
  created: string;
  lastModified: string;
  version: number;
}

interface FaultRule {
  fault: FakeScimFault;
  remaining: number;
  match: FakeScimFaultMatch | undefined;
}

/** An answer to a request: status, body and extra headers. */
interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const ENDPOINTS: Record<string, ResourceKind> = { Users: 'User', Groups: 'Group' };
const MEMBER_ATTRIBUTES = groupSchema.attributes.find((a) => a.name === 'members')?.subAttributes ?? [];
/** Attributes the target can filter on, with whether they compare case-exactly (RFC 7643 §4.1.1, §3.1). */
const FILTERABLE: Record<string, boolean> = { id: true, externalid: true, username: false, displayname: false };

class ScimFailure extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: string,
  ) {
    super(detail);
  }
}

/**
 * A downstream SCIM 2.0 service provider for tests: a real HTTP server on
 * 127.0.0.1 holding Users and Groups in memory, with the limits real targets
 * have (page-size cap, member cap per request, rate limit) and programmable
 * faults (5xx, 429, hangs, slow answers, dropped connections, permanent
 * errors for one userName). Every request is recorded.
 *
 * @example
 * const target = await FakeScimTarget.start({ maxMembersPerRequest: 100 });
 * target.failNext({ type: 'rateLimited', retryAfter: 2 });
 * // ... point a connector at target.url with target.token ...
 * await target.close();
 */
export class FakeScimTarget {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  readonly token: string;
  readonly options: Required<Omit<FakeScimTargetOptions, 'token' | 'rateLimit' | 'extension'>>;
  readonly #extension: FakeScimTargetOptions['extension'];
  #url = '';
  #rateLimit: number | undefined;
  #recent: number[] = [];
  #faults: FaultRule[] = [];
  #rejections = new Map<string, UserNameRejection>();
  #resources = new Map<string, StoredResource>();
  #timers = new Set<NodeJS.Timeout>();
  readonly #server: Server;

  private constructor(options: FakeScimTargetOptions) {
    this.token = options.token ?? `fake-${randomUUID()}`;
    this.options = {
      basePath: (options.basePath ?? '').replace(/\/$/, ''),
      maxPageSize: options.maxPageSize ?? 100,
      maxMembersPerRequest: options.maxMembersPerRequest ?? Number.POSITIVE_INFINITY,
      memberCapStatus: options.memberCapStatus ?? 413,
      patch: options.patch ?? true,
    };
    this.#rateLimit = options.rateLimit;
    this.#extension = options.extension;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) this.#send(res, undefined, { status: 500, body: scimErrorBody(500, String(error)) });
      });
    });
  }

  /** Starts a target on 127.0.0.1 on a free port. */
  static async start(options: FakeScimTargetOptions = {}): Promise<FakeScimTarget> {
    const target = new FakeScimTarget(options);
    await new Promise<void>((resolve, reject) => {
      target.#server.once('error', reject);
      target.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = target.#server.address() as AddressInfo;
    target.#url = `http://127.0.0.1:${port}${target.options.basePath}`;
    return target;
  }

  /** The SCIM base URL, e.g. `http://127.0.0.1:41234/scim/v2`. */
  get url(): string {
    return this.#url;
  }

  /** Stops the server, dropping open (hanging) connections. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Answers the next `times` matching requests with `fault`; rules apply in the order they were added. */
  failNext(fault: FakeScimFault, options: { times?: number; match?: FakeScimFaultMatch } = {}): void {
    this.#faults.push({ fault, remaining: options.times ?? 1, match: options.match });
  }

  /** Forgets faults not yet used. */
  clearFaults(): void {
    this.#faults = [];
  }

  /** Answers every write carrying or targeting this userName with a permanent error (400 `invalidValue` by default). */
  rejectUserName(userName: string, rejection: UserNameRejection = {}): void {
    this.#rejections.set(userName.toLowerCase(), rejection);
  }

  /** Sets (or with undefined lifts) the rate limit in requests per second. */
  setRateLimit(requestsPerSecond: number | undefined): void {
    this.#rateLimit = requestsPerSecond;
    this.#recent = [];
  }

  /** The recorded requests matching a method and a path (a prefix, or a pattern). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && matchesPath(r.path, path));
  }

  /** Users as a GET would return them. */
  get users(): JsonObject[] {
    return this.#all('User').map((r) => this.#render(r));
  }

  /** Groups as a GET would return them, with their members. */
  get groups(): JsonObject[] {
    return this.#all('Group').map((r) => this.#render(r));
  }

  /** The member ids of a group, sorted; throws when the group does not exist. */
  membersOf(groupId: string): string[] {
    const group = this.#resources.get(groupId);
    if (group?.kind !== 'Group') throw new TypeError(`No group ${groupId}.`);
    return [...group.members.keys()].sort();
  }

  /** The password last set on a user (the target stores it in clear so tests can check a push). */
  passwordOf(userId: string): string | undefined {
    return this.#resources.get(userId)?.password;
  }

  /** Counts of users and groups and every group's member ids. */
  state(): FakeScimState {
    const members: Record<string, string[]> = {};
    for (const group of this.#all('Group')) members[group.id] = this.membersOf(group.id);
    return { users: this.#all('User').length, groups: this.#all('Group').length, members };
  }

  /** Creates a resource directly (not recorded, no faults), e.g. an account that exists before the first push. */
  seed(kind: ResourceKind, body: JsonObject): JsonObject {
    return this.#render(this.#create(kind, body));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://target');
    const basePath = this.options.basePath;
    const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) || '/' : url.pathname;
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const recorded: RecordedRequest = { method, path, query: Object.fromEntries(url.searchParams), headers: req.headers, body };
    this.requests.push(recorded);

    if (this.#overRateLimit()) {
      recorded.fault = 'rateLimit';
      this.#send(res, recorded, { status: 429, headers: { 'retry-after': '1' }, body: scimErrorBody(429, 'Too many requests.') });
      return;
    }
    const fault = this.#takeFault(method, path);
    if (fault) {
      recorded.fault = fault.type;
      switch (fault.type) {
        case 'status':
          this.#send(res, recorded, { status: fault.status, body: scimErrorBody(fault.status, fault.detail ?? 'Injected fault.') });
          return;
        case 'rateLimited':
          this.#send(res, recorded, {
            status: 429,
            headers: { 'retry-after': String(fault.retryAfter) },
            body: scimErrorBody(429, 'Too many requests.'),
          });
          return;
        case 'hang':
          return;
        case 'drop':
          req.socket.destroy();
          return;
        case 'delay':
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              this.#timers.delete(timer);
              resolve();
            }, fault.ms);
            this.#timers.add(timer);
          });
          if (res.destroyed) return;
      }
    }
    this.#send(res, recorded, this.#serve(method, path, url.searchParams, req.headers.authorization, body, recorded));
  }

  #serve(
    method: string,
    path: string,
    query: URLSearchParams,
    authorization: string | undefined,
    body: unknown,
    recorded: RecordedRequest,
  ): Answer {
    if (authorization !== `Bearer ${this.token}`) {
      return { status: 401, headers: { 'www-authenticate': 'Bearer' }, body: scimErrorBody(401, 'A valid bearer token is required.') };
    }
    try {
      const extended = this.#extension?.({ method, path, body });
      if (extended) return extended;
      const [, endpoint, id, ...rest] = path.split('/');
      if (endpoint === 'ServiceProviderConfig' && method === 'GET' && id === undefined)
        return { status: 200, body: this.#serviceProviderConfig() };
      const kind = ENDPOINTS[endpoint ?? ''];
      if (!kind || rest.length > 0) throw new ScimFailure(404, `No endpoint ${path}.`);
      if (id === undefined || id === '') {
        if (method === 'GET') return { status: 200, body: this.#list(kind, query) };
        if (method === 'POST') {
          this.#checkRejected(recorded, kind, body);
          const created = this.#create(kind, body);
          return { status: 201, headers: { location: this.#location(created) }, body: this.#render(created) };
        }
        throw new ScimFailure(405, `${method} is not allowed on /${endpoint}.`);
      }
      const current = this.#resources.get(id);
      if (current?.kind !== kind) throw new ScimFailure(404, `${kind} ${id} not found.`);
      if (method !== 'GET') this.#checkRejected(recorded, kind, body, current);
      switch (method) {
        case 'GET':
          return { status: 200, body: this.#render(current, excludesMembers(query)) };
        case 'PUT':
          return { status: 200, body: this.#render(this.#replace(current, body)) };
        case 'PATCH': {
          if (!this.options.patch) throw new ScimFailure(501, 'PATCH is not supported.');
          const patched = this.#patch(current, body);
          // Like Entra ID expects (and the hub answers): a Group PATCH answers 204.
          return kind === 'Group' ? { status: 204 } : { status: 200, body: this.#render(patched) };
        }
        case 'DELETE':
          this.#resources.delete(id);
          for (const group of this.#all('Group')) group.members.delete(id);
          return { status: 204 };
        default:
          throw new ScimFailure(405, `${method} is not allowed.`);
      }
    } catch (error) {
      if (error instanceof ScimFailure) return { status: error.status, body: scimErrorBody(error.status, error.message, error.scimType) };
      if (error instanceof MeridianError) {
        const { status, body: errorBody } = toScimError(error);
        return { status, body: errorBody };
      }
      throw error;
    }
  }

  #checkRejected(recorded: RecordedRequest, kind: ResourceKind, body: unknown, current?: StoredResource): void {
    if (kind !== 'User') return;
    const names = [current?.attributes.userName, isObject(body) ? body.userName : undefined];
    for (const name of names) {
      const rejection = typeof name === 'string' ? this.#rejections.get(name.toLowerCase()) : undefined;
      if (rejection) {
        recorded.fault = 'rejectedUserName';
        throw new ScimFailure(
          rejection.status ?? 400,
          rejection.detail ?? `userName '${name}' is not accepted.`,
          rejection.scimType ?? 'invalidValue',
        );
      }
    }
  }

  #overRateLimit(): boolean {
    if (this.#rateLimit === undefined) return false;
    const now = Date.now();
    this.#recent = this.#recent.filter((t) => now - t < 1000);
    if (this.#recent.length >= this.#rateLimit) return true;
    this.#recent.push(now);
    return false;
  }

  #takeFault(method: string, path: string): FakeScimFault | undefined {
    const rule = this.#faults.find(
      (r) => r.remaining > 0 && (!r.match?.method || r.match.method === method) && (!r.match?.path || matchesPath(path, r.match.path)),
    );
    if (!rule) return undefined;
    rule.remaining -= 1;
    this.#faults = this.#faults.filter((r) => r.remaining > 0);
    return rule.fault;
  }

  #send(res: ServerResponse, recorded: RecordedRequest | undefined, answer: Answer): void {
    if (res.destroyed) return;
    if (recorded) recorded.status = answer.status;
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...(text ? { 'content-type': 'application/scim+json; charset=utf-8' } : {}),
      ...answer.headers,
    });
    res.end(text);
  }

  #serviceProviderConfig(): JsonObject {
    return {
      schemas: [SCHEMA.serviceProviderConfig],
      patch: { supported: this.options.patch },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: this.options.maxPageSize },
      changePassword: { supported: true },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'RFC 6750 bearer token.' }],
    };
  }

  #all(kind: ResourceKind): StoredResource[] {
    return [...this.#resources.values()].filter((r) => r.kind === kind);
  }

  #list(kind: ResourceKind, query: URLSearchParams): JsonObject {
    const filterText = query.get('filter');
    const filter = filterText ? parseScimFilter(filterText) : undefined;
    const matching = this.#all(kind).filter((r) => filter === undefined || evaluate(this.#render(r), filter));
    const startIndex = Math.max(1, integerParam(query, 'startIndex') ?? 1);
    const count = Math.max(0, Math.min(integerParam(query, 'count') ?? this.options.maxPageSize, this.options.maxPageSize));
    const page = matching.slice(startIndex - 1, startIndex - 1 + count);
    return {
      schemas: [SCHEMA.listResponse],
      totalResults: matching.length,
      startIndex,
      itemsPerPage: page.length,
      Resources: page.map((r) => this.#render(r, excludesMembers(query))),
    };
  }

  #create(kind: ResourceKind, body: unknown): StoredResource {
    const now = new Date().toISOString();
    const resource: StoredResource = {
      id: randomUUID(),
      kind,
      externalId: undefined,
      attributes: {},
      extensionSchemas: [],
      password: undefined,
      members: new Map(),
      created: now,
      lastModified: now,
      version: 0,
    };
    this.#write(resource, body, undefined);
    this.#resources.set(resource.id, resource);
    return resource;
  }

  #replace(current: StoredResource, body: unknown): StoredResource {
    const password = current.password;
    this.#write(current, body, undefined);
    // RFC 7644 §3.5.1: a PUT without a password keeps the one set.
    current.password ??= password;
    return current;
  }

  #patch(current: StoredResource, body: unknown): StoredResource {
    const operations = parsePatchRequest(body);
    this.#checkMemberCap(operations.reduce((n, op) => n + memberCount(op), 0));
    const document: JsonObject = {
      ...structuredClone(current.attributes),
      ...(current.externalId ? { externalId: current.externalId } : {}),
    };
    const result = applyPatch(resourceShapes[current.kind], document, operations);
    const members = new Map(current.members);
    for (const change of result.memberChanges) {
      switch (change.kind) {
        case 'add':
          for (const id of change.ids) members.set(id, this.#memberType(id, current.id));
          break;
        case 'remove':
          for (const id of change.ids) members.delete(id);
          break;
        case 'removeWhere':
          for (const [id, type] of members) if (matchesFilter({ value: id, type }, change.filter, MEMBER_ATTRIBUTES)) members.delete(id);
          break;
        case 'removeAll':
          members.clear();
          break;
      }
    }
    const password = current.password;
    this.#write(current, { schemas: [coreSchemaOf(current.kind)], ...result.document }, members);
    current.password ??= password;
    return current;
  }

  /** Validates a full body and writes it onto `resource`; `members` overrides the body's members (PATCH). */
  #write(resource: StoredResource, body: unknown, members: Map<string, 'User' | 'Group'> | undefined): void {
    const input = parseResourceInput(resourceShapes[resource.kind], body);
    const attributes = { ...input.attributes };
    let nextMembers = members;
    if (resource.kind === 'Group' && nextMembers === undefined) {
      const listed = Array.isArray(attributes.members) ? (attributes.members as JsonObject[]) : [];
      this.#checkMemberCap(listed.length);
      nextMembers = new Map(listed.map((m) => [String(m.value), this.#memberType(String(m.value), resource.id)]));
    }
    delete attributes.members;
    const key = resource.kind === 'User' ? 'userName' : 'displayName';
    const name = String(attributes[key]).toLowerCase();
    const taken = this.#all(resource.kind).some((r) => r.id !== resource.id && String(r.attributes[key]).toLowerCase() === name);
    if (taken) throw new ScimFailure(409, `A ${resource.kind} with this ${key} already exists.`, 'uniqueness');
    resource.attributes = attributes;
    resource.externalId = input.externalId;
    resource.extensionSchemas = input.extensionSchemas;
    resource.password = input.password;
    if (nextMembers) resource.members = nextMembers;
    resource.version += 1;
    resource.lastModified = new Date().toISOString();
  }

  #checkMemberCap(count: number): void {
    const cap = this.options.maxMembersPerRequest;
    if (count <= cap) return;
    const detail = `At most ${cap} members per request; this one carries ${count}.`;
    throw this.options.memberCapStatus === 413 ? new ScimFailure(413, detail) : new ScimFailure(400, detail, 'invalidValue');
  }

  #memberType(id: string, groupId: string): 'User' | 'Group' {
    const member = this.#resources.get(id);
    if (!member) throw new ScimFailure(400, `Member ${id} does not exist.`, 'invalidValue');
    if (member.id === groupId) throw new ScimFailure(400, 'A group cannot contain itself.', 'invalidValue');
    return member.kind;
  }

  #location(resource: StoredResource): string {
    return `${this.#url}/${resource.kind}s/${resource.id}`;
  }

  #render(resource: StoredResource, withoutMembers = false): JsonObject {
    const document: JsonObject = {
      schemas: [coreSchemaOf(resource.kind), ...resource.extensionSchemas],
      id: resource.id,
      ...(resource.externalId !== undefined ? { externalId: resource.externalId } : {}),
      ...structuredClone(resource.attributes),
    };
    if (resource.kind === 'Group' && !withoutMembers) {
      document.members = [...resource.members].map(([value, type]) => ({ value, type, $ref: `${this.#url}/${type}s/${value}` }));
    }
    document.meta = {
      resourceType: resource.kind,
      created: resource.created,
      lastModified: resource.lastModified,
      location: this.#location(resource),
      version: etagOf(resource.version),
    };
    return document;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function matchesPath(path: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string' ? path.startsWith(pattern) : pattern.test(path);
}

function excludesMembers(query: URLSearchParams): boolean {
  return (query.get('excludedAttributes') ?? '').split(',').some((a) => a.trim().toLowerCase() === 'members');
}

function integerParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new ScimFailure(400, `'${name}' must be an integer.`, 'invalidValue');
  return value;
}

/** The number of members a PATCH operation adds or removes. */
function memberCount(operation: PatchOperation): number {
  const value = operation.value;
  if (operation.path?.attribute.toLowerCase() === 'members') {
    if (operation.path.filter) return 1;
    return Array.isArray(value) ? value.length : value === undefined ? 0 : 1;
  }
  if (operation.path === undefined && isObject(value)) {
    const members = Object.entries(value).find(([k]) => k.toLowerCase() === 'members')?.[1];
    return Array.isArray(members) ? members.length : 0;
  }
  return 0;
}

/**
 * Like many real targets, this one filters only with `eq` (joined by `and`/`or`)
 * on `id`, `externalId`, `userName` and `displayName`; anything else is 400 `invalidFilter`.
 */
function evaluate(document: JsonObject, filter: Filter): boolean {
  switch (filter.op) {
    case 'and':
      return evaluate(document, filter.left) && evaluate(document, filter.right);
    case 'or':
      return evaluate(document, filter.left) || evaluate(document, filter.right);
    case 'eq': {
      const name = filter.path.attribute.toLowerCase();
      const caseExact = FILTERABLE[name];
      if (caseExact === undefined || filter.path.schema !== undefined || filter.path.subAttribute !== undefined) break;
      const actual = Object.entries(document).find(([k]) => k.toLowerCase() === name)?.[1];
      if (typeof actual !== 'string' || typeof filter.value !== 'string') return false;
      return caseExact ? actual === filter.value : actual.toLowerCase() === filter.value.toLowerCase();
    }
  }
  throw new ScimFailure(400, 'This target filters only with eq on id, externalId, userName and displayName.', 'invalidFilter');
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
