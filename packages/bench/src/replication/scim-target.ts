import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  applyPatch,
  etagOf,
  type Filter,
  isMeridianError,
  type JsonObject,
  parsePatchRequest,
  parseScimFilter,
  resourceShapes,
  SCHEMA,
} from '@meridian/core';
import { wallNow } from './stats.js';
import { markerSeq } from './workload.js';

/** One write the target acknowledged: the change its new state carries (the `title` marker), and when it answered. */
export interface Ack {
  seq: number;
  at: number;
  method: string;
}

/** One request as it arrived: when, and the externalId of the user it concerned ('' when none). */
export interface Arrival {
  at: number;
  method: string;
  externalId: string;
}

interface StoredUser {
  id: string;
  schemas: string[];
  /** Everything but schemas, id and meta. */
  attributes: JsonObject;
  created: string;
  lastModified: string;
  version: number;
}

class Failure extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: string,
  ) {
    super(detail);
  }
}

const errorBody = (status: number, detail: string, scimType?: string) => ({
  schemas: [SCHEMA.error],
  status: String(status),
  detail,
  ...(scimType ? { scimType } : {}),
});

/**
 * A downstream SCIM 2.0 service provider for the replication bench: Users
 * only, in memory, indexed by id, externalId and userName, so that its cost
 * per request does not grow with the number of users it holds (the test
 * suite's FakeScimTarget renders every stored user for each filtered GET: at
 * 4,000 to 5,000 users a create, two lookups and a POST, costs it about
 * 11 ms). It speaks what the hub's SCIM
 * connector and the bare baseline send: `/ServiceProviderConfig`, `eq`
 * filters on id, externalId and userName (and an `or` of them), POST, GET, PUT, PATCH (the core's
 * own PATCH engine) and DELETE. Every acknowledged write is recorded with the
 * change its new state carries and the time of the answer.
 */
export class BenchScimTarget {
  readonly token = `bench-${randomUUID()}`;
  /** Acknowledged writes, in answer order. */
  acks: Ack[] = [];
  /** Requests by `METHOD status`. */
  counts: Record<string, number> = {};
  /** Every request's arrival (once its body was read), in order. */
  arrivals: Arrival[] = [];
  #url = '';
  readonly #users = new Map<string, StoredUser>();
  readonly #byExternalId = new Map<string, string>();
  readonly #byUserName = new Map<string, string>();
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) this.#send(req, res, 500, errorBody(500, String(error)));
      });
    });
    this.#server.keepAliveTimeout = 60_000;
  }

  static async start(): Promise<BenchScimTarget> {
    const target = new BenchScimTarget();
    await new Promise<void>((resolve, reject) => {
      target.#server.once('error', reject);
      target.#server.listen(0, '127.0.0.1', () => resolve());
    });
    target.#url = `http://127.0.0.1:${(target.#server.address() as AddressInfo).port}/scim/v2`;
    return target;
  }

  get url(): string {
    return this.#url;
  }

  get size(): number {
    return this.#users.size;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const arrival: Arrival = { at: wallNow(), method, externalId: '' };
    this.arrivals.push(arrival);
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.#send(req, res, 401, errorBody(401, 'A valid bearer token is required.'));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://target');
    const path = url.pathname.startsWith('/scim/v2') ? url.pathname.slice('/scim/v2'.length) : url.pathname;
    try {
      const body = text ? (JSON.parse(text) as unknown) : undefined;
      const [, endpoint, id, ...rest] = path.split('/');
      if (endpoint === 'ServiceProviderConfig' && method === 'GET') {
        this.#send(req, res, 200, {
          schemas: [SCHEMA.serviceProviderConfig],
          patch: { supported: true },
          bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
          filter: { supported: true, maxResults: 100 },
          changePassword: { supported: false },
          sort: { supported: false },
          etag: { supported: false },
          authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'RFC 6750 bearer token.' }],
        });
        return;
      }
      if (endpoint !== 'Users' || rest.length > 0) throw new Failure(404, `No endpoint ${path}.`);
      if (id === undefined || id === '') {
        if (method === 'GET') {
          const filter = url.searchParams.get('filter');
          arrival.externalId = /^externalId eq "([^"]*)"/i.exec(filter ?? '')?.[1] ?? '';
          const list = this.#list(filter);
          if (!arrival.externalId) arrival.externalId = String((list.Resources as JsonObject[])[0]?.externalId ?? '');
          return this.#send(req, res, 200, list);
        }
        if (method !== 'POST') throw new Failure(405, `${method} is not allowed on /Users.`);
        const user = this.#write(undefined, body);
        arrival.externalId = String(user.attributes.externalId ?? '');
        return this.#send(req, res, 201, this.#render(user), user);
      }
      const current = this.#users.get(id);
      if (!current) throw new Failure(404, `User ${id} not found.`);
      arrival.externalId = String(current.attributes.externalId ?? '');
      switch (method) {
        case 'GET':
          return this.#send(req, res, 200, this.#render(current));
        case 'PUT': {
          const user = this.#write(current, body);
          return this.#send(req, res, 200, this.#render(user), user);
        }
        case 'PATCH': {
          const operations = parsePatchRequest(body);
          const document = applyPatch(resourceShapes.User, current.attributes, operations).document;
          const user = this.#write(current, { schemas: current.schemas, ...document });
          return this.#send(req, res, 200, this.#render(user), user);
        }
        case 'DELETE':
          this.#unindex(current);
          this.#users.delete(id);
          return this.#send(req, res, 204, undefined, current);
        default:
          throw new Failure(405, `${method} is not allowed.`);
      }
    } catch (error) {
      if (error instanceof Failure) return this.#send(req, res, error.status, errorBody(error.status, error.message, error.scimType));
      if (isMeridianError(error) || error instanceof SyntaxError)
        return this.#send(req, res, 400, errorBody(400, error.message, 'invalidValue'));
      throw error;
    }
  }

  #list(filterText: string | null): JsonObject {
    let found: StoredUser[];
    if (filterText === null) {
      found = [...this.#users.values()].slice(0, 100);
    } else {
      const ids = new Set(this.#matching(parseScimFilter(filterText)));
      found = [...ids].flatMap((id) => {
        const user = this.#users.get(id);
        return user ? [user] : [];
      });
    }
    return {
      schemas: [SCHEMA.listResponse],
      totalResults: found.length,
      startIndex: 1,
      itemsPerPage: found.length,
      Resources: found.map((u) => this.#render(u)),
    };
  }

  /** The ids a filter finds: `eq` on id, externalId or userName, or an `or` of such filters (the hub's connector asks both at once). */
  #matching(filter: Filter): string[] {
    if (filter.op === 'or') return [...this.#matching(filter.left), ...this.#matching(filter.right)];
    if (filter.op !== 'eq' || typeof filter.value !== 'string' || filter.path.subAttribute !== undefined) {
      throw new Failure(400, 'This target filters only with eq on id, externalId and userName (or an or of those).', 'invalidFilter');
    }
    const attribute = filter.path.attribute.toLowerCase();
    const id =
      attribute === 'id'
        ? filter.value
        : attribute === 'externalid'
          ? this.#byExternalId.get(filter.value)
          : attribute === 'username'
            ? this.#byUserName.get(filter.value.toLowerCase())
            : undefined;
    if (id === undefined && attribute !== 'externalid' && attribute !== 'username' && attribute !== 'id') {
      throw new Failure(400, 'This target filters only with eq on id, externalId and userName (or an or of those).', 'invalidFilter');
    }
    return id === undefined ? [] : [id];
  }

  /** Creates (no `current`) or replaces a user from a full body. */
  #write(current: StoredUser | undefined, body: unknown): StoredUser {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Failure(400, 'The body must be a JSON object.');
    const { schemas, id: _id, meta: _meta, ...attributes } = body as JsonObject;
    const name = attributes.userName;
    if (typeof name !== 'string' || name === '') throw new Failure(400, "'userName' is required.", 'invalidValue');
    const holder = this.#byUserName.get(name.toLowerCase());
    if (holder !== undefined && holder !== current?.id) throw new Failure(409, 'A User with this userName already exists.', 'uniqueness');
    const now = new Date().toISOString();
    const user: StoredUser = current ?? { id: randomUUID(), schemas: [], attributes: {}, created: now, lastModified: now, version: 0 };
    if (current) this.#unindex(current);
    user.schemas = Array.isArray(schemas) ? (schemas as string[]) : [SCHEMA.user];
    user.attributes = attributes;
    user.lastModified = now;
    user.version += 1;
    this.#users.set(user.id, user);
    this.#byUserName.set(name.toLowerCase(), user.id);
    if (typeof attributes.externalId === 'string') this.#byExternalId.set(attributes.externalId, user.id);
    return user;
  }

  #unindex(user: StoredUser): void {
    const name = user.attributes.userName;
    if (typeof name === 'string' && this.#byUserName.get(name.toLowerCase()) === user.id) this.#byUserName.delete(name.toLowerCase());
    const externalId = user.attributes.externalId;
    if (typeof externalId === 'string' && this.#byExternalId.get(externalId) === user.id) this.#byExternalId.delete(externalId);
  }

  #render(user: StoredUser): JsonObject {
    return {
      schemas: user.schemas,
      id: user.id,
      ...user.attributes,
      meta: {
        resourceType: 'User',
        created: user.created,
        lastModified: user.lastModified,
        location: `${this.#url}/Users/${user.id}`,
        version: etagOf(user.version),
      },
    };
  }

  /** Answers; a successful write is recorded as an acknowledgement of the change its new state carries. */
  #send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, written?: StoredUser): void {
    const method = req.method ?? 'GET';
    const key = `${method} ${status}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, text ? { 'content-type': 'application/scim+json; charset=utf-8' } : {});
    if (written && status < 300) {
      const seq = markerSeq(written.attributes.title);
      this.acks.push({ seq: seq ?? -1, at: wallNow(), method });
    }
    res.end(text);
  }
}
