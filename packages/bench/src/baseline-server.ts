// The bare baseline: Fastify + pg, no ORM, no domain layer. It runs the SQL the hub
// runs for `GET /Users?filter=`, `GET /Users/{id}` and `POST /Users` (hub-sql.ts) and renders the same
// SCIM JSON, so the hub/baseline ratio is what the hub's own layers cost.
//
// Included: the connections act as the application role, and every request's
// statements run in transactions that set the tenant (or the platform scope) first,
// as the hub's store does under row-level security (ADR 0010); bearer token lookup
// by SHA-256 hash, the filter parsed by the hub's parser and translated by
// the hub's filterToSql, count + page + group memberships of the page, and for a
// create one transaction with the user row, the re-read `for update`, its
// memberships, the outbox event and the hash-chained audit entry (advisory lock,
// previous hash, SHA-256 over the canonical entry).
// Left out: schema validation beyond `userName`, scopes, request logging, ETags.
import { randomBytes } from 'node:crypto';
import { type JsonObject, parseScimFilter, SCHEMA } from '@meridian/core';
import { filterToSql, hashAuditEntry, hashTokenSecret } from '@meridian/store';
import Fastify from 'fastify';
import pg from 'pg';
import {
  APP_CONNECTION_OPTIONS,
  AUDIT_LAST,
  AUDIT_LOCK,
  countSql,
  FIND_USER,
  FIND_USER_FOR_UPDATE,
  INSERT_AUDIT,
  INSERT_OUTBOX,
  INSERT_USER,
  numberPlaceholders,
  pageSql,
  SET_SCOPE,
  TOKEN_LOOKUP,
  USER_GROUPS,
} from './hub-sql.js';

interface UserRow {
  id: string;
  tenant_id: string;
  external_id: string | null;
  attributes: JsonObject;
  extension_schemas: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
}

interface Membership {
  value: string;
  display: string;
  type: 'direct' | 'indirect';
}

const env = process.env;
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.POOL_SIZE ?? 10), options: APP_CONNECTION_OPTIONS });
const baseUrl = `${env.BASE_URL ?? 'http://localhost'}/scim/v2`;
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** RFC 9562 version 7: the hub's ids are time-ordered too. */
function uuidv7(): string {
  const bytes = randomBytes(16);
  const now = Date.now();
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Runs `work` in one transaction that first sets the tenant, or the platform scope, as the hub's store does. */
async function inScope<T>(scope: { tenantId: string } | 'platform', work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(SET_SCOPE, scope === 'platform' ? ['meridian.scope', 'platform'] : ['meridian.tenant_id', scope.tenantId]);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function authenticate(header: string | undefined): Promise<{ tokenId: string; tenantId: string } | undefined> {
  const secret = /^Bearer +(\S+)$/i.exec(header ?? '')?.[1];
  if (!secret) return undefined;
  const result = await inScope('platform', (client) =>
    client.query<{ id: string; tenant_id: string | null }>(TOKEN_LOOKUP, [hashTokenSecret(secret), new Date()]),
  );
  const row = result.rows[0];
  return row?.tenant_id ? { tokenId: row.id, tenantId: row.tenant_id } : undefined;
}

async function groupsOf(client: pg.PoolClient, tenantId: string, ids: string[]): Promise<Map<string, Membership[]>> {
  const byUser = new Map<string, Membership[]>();
  if (ids.length === 0) return byUser;
  const { rows } = await client.query<{ member_id: string; group_id: string; display_name: string; direct: boolean }>(USER_GROUPS, [
    tenantId,
    ids,
    tenantId,
  ]);
  for (const row of rows) {
    const list = byUser.get(row.member_id) ?? [];
    list.push({ value: row.group_id, display: row.display_name, type: row.direct ? 'direct' : 'indirect' });
    byUser.set(row.member_id, list);
  }
  return byUser;
}

function render(row: UserRow, groups: Membership[]): JsonObject {
  const body: JsonObject = { schemas: [SCHEMA.user, ...row.extension_schemas], id: row.id };
  if (row.external_id !== null) body.externalId = row.external_id;
  Object.assign(body, row.attributes);
  if (body.active === undefined) body.active = true;
  if (groups.length > 0)
    body.groups = groups.map((g) => ({ value: g.value, $ref: `${baseUrl}/Groups/${g.value}`, display: g.display, type: g.type }));
  body.meta = {
    resourceType: 'User',
    created: new Date(row.created_at).toISOString(),
    lastModified: new Date(row.updated_at).toISOString(),
    location: `${baseUrl}/Users/${row.id}`,
    version: `W/"${row.version}"`,
  };
  return body;
}

function scimError(status: number, detail: string): JsonObject {
  return { schemas: [SCHEMA.error], status: String(status), detail };
}

const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
app.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body as string));
  } catch {
    done(Object.assign(new Error('invalid JSON'), { statusCode: 400 }), undefined);
  }
});

app.get<{ Querystring: { filter?: string; count?: string; startIndex?: string } }>('/scim/v2/Users', async (request, reply) => {
  const auth = await authenticate(request.headers.authorization);
  if (!auth) return reply.code(401).type(CONTENT_TYPE).send(scimError(401, 'Authentication is required.'));
  const count = Math.min(Number(request.query.count ?? 100), 200);
  const startIndex = Math.max(1, Number(request.query.startIndex ?? 1));
  const fragment = request.query.filter ? filterToSql('User', parseScimFilter(request.query.filter)) : { sql: 'true', params: [] };
  const where = numberPlaceholders(fragment.sql, 2);
  const next = 2 + fragment.params.length;
  const { total, page, groups } = await inScope({ tenantId: auth.tenantId }, async (client) => {
    const total = await client.query<{ total: string }>(countSql(where), [auth.tenantId, ...fragment.params]);
    const page = await client.query<UserRow>(pageSql(where, next), [auth.tenantId, ...fragment.params, count, startIndex - 1]);
    const groups = await groupsOf(
      client,
      auth.tenantId,
      page.rows.map((r) => r.id),
    );
    return { total, page, groups };
  });
  return reply.type(CONTENT_TYPE).send({
    schemas: [SCHEMA.listResponse],
    totalResults: Number(total.rows[0]?.total ?? 0),
    itemsPerPage: page.rows.length,
    startIndex,
    Resources: page.rows.map((r) => render(r, groups.get(r.id) ?? [])),
  });
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

app.get<{ Params: { id: string } }>('/scim/v2/Users/:id', async (request, reply) => {
  const auth = await authenticate(request.headers.authorization);
  if (!auth) return reply.code(401).type(CONTENT_TYPE).send(scimError(401, 'Authentication is required.'));
  const id = request.params.id;
  const found = UUID.test(id)
    ? await inScope({ tenantId: auth.tenantId }, async (client) => {
        const row = (await client.query<UserRow>(FIND_USER, [auth.tenantId, id])).rows[0];
        return row ? { row, groups: (await groupsOf(client, auth.tenantId, [id])).get(id) ?? [] } : undefined;
      })
    : undefined;
  if (!found) return reply.code(404).type(CONTENT_TYPE).send(scimError(404, 'No such user.'));
  return reply.type(CONTENT_TYPE).header('etag', `W/"${found.row.version}"`).send(render(found.row, found.groups));
});

app.post<{ Body: JsonObject }>('/scim/v2/Users', async (request, reply) => {
  const auth = await authenticate(request.headers.authorization);
  if (!auth) return reply.code(401).type(CONTENT_TYPE).send(scimError(401, 'Authentication is required.'));
  const body = request.body;
  if (typeof body?.userName !== 'string' || body.userName === '') {
    return reply.code(400).type(CONTENT_TYPE).send(scimError(400, 'userName is required.'));
  }
  const attributes: JsonObject = {};
  const extensionSchemas: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (['schemas', 'id', 'meta', 'externalId'].includes(key)) continue;
    attributes[key] = value;
    if (key.startsWith('urn:')) extensionSchemas.push(key);
  }
  const externalId = typeof body.externalId === 'string' ? body.externalId : null;
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(SET_SCOPE, ['meridian.tenant_id', auth.tenantId]);
    const id = uuidv7();
    const now = new Date();
    await client.query(INSERT_USER, [
      id,
      auth.tenantId,
      body.userName,
      externalId,
      attributes.active !== false,
      JSON.stringify(attributes),
      extensionSchemas,
      null,
      now,
      now,
    ]);
    const { rows } = await client.query<UserRow>(FIND_USER_FOR_UPDATE, [auth.tenantId, id]);
    const row = rows[0];
    if (!row) throw new TypeError('The inserted user must be readable.');
    const groups = (await groupsOf(client, auth.tenantId, [id])).get(id) ?? [];
    const resource = render(row, groups);
    const requestId = request.id;
    await client.query(INSERT_OUTBOX, [auth.tenantId, 'user.created', 'User', id, 1, requestId, now]);
    await client.query(AUDIT_LOCK, [`audit:${auth.tenantId}`]);
    const last = (await client.query<{ seq: string; hash: string }>(AUDIT_LAST, [auth.tenantId])).rows[0];
    const diff = { before: null, after: resource };
    const entry = {
      chain: auth.tenantId,
      seq: last ? Number(last.seq) + 1 : 1,
      tenantId: auth.tenantId,
      actorType: 'token',
      actorId: auth.tokenId,
      action: 'user.created',
      resourceType: 'User',
      resourceId: id,
      requestId,
      sourceAddress: request.ip,
      diff,
      createdAt: now.toISOString(),
      prevHash: last?.hash ?? '0'.repeat(64),
    };
    await client.query(INSERT_AUDIT, [
      entry.chain,
      entry.seq,
      entry.tenantId,
      entry.actorType,
      entry.actorId,
      entry.action,
      entry.resourceType,
      entry.resourceId,
      entry.requestId,
      entry.sourceAddress,
      JSON.stringify(diff),
      now,
      entry.prevHash,
      hashAuditEntry(entry),
    ]);
    await client.query('commit');
    const meta = resource.meta as { location: string; version: string };
    return reply.code(201).type(CONTENT_TYPE).header('location', meta.location).header('etag', meta.version).send(resource);
  } catch (error) {
    await client.query('rollback').catch(() => {});
    if ((error as { code?: string }).code === '23505') {
      return reply.code(409).type(CONTENT_TYPE).send(scimError(409, 'userName is taken.'));
    }
    throw error;
  } finally {
    client.release();
  }
});

const port = Number(env.PORT ?? 0);
await app.listen({ port, host: '127.0.0.1' });
const address = app.server.address();
// The parent reads the port from this line.
process.stdout.write(`baseline listening ${typeof address === 'object' && address ? address.port : port}\n`);
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
