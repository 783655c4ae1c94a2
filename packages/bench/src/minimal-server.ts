// The minimal baseline: Fastify + pg doing the least a correct SCIM server must do on
// Meridian's schema, with row-level security on, in one round trip per request. It
// is the limit the hub is measured against (issue 14); the same-SQL baseline
// (baseline-server.ts) measures the hub's code around its SQL instead.
//
// - Connections act as `meridian_app` (as store/src/orm/create-orm.ts sets up the
//   hub's), so the tenant policies apply to every statement (ADR 0010).
// - Bearer token: the SHA-256 of the secret looked up (minimal-sql.ts find_token),
//   the answer kept in this process for at most 1 s (and never past the token's
//   expiry), so a revoked token is refused within a second. Scopes are checked.
// - GET /Users?filter= (userName eq, emails co, name.familyName sw, none), and
//   GET /Users/{id}: one prepared call that sets the tenant and returns the page,
//   the total and each user's groups; a SCIM ListResponse or resource out.
// - POST /Users: one prepared call writing the user, the outbox event and the
//   audit entry chained under the tenant's advisory lock (minimal-audit.ts).
// Left out: schema validation beyond `userName`, attribute projection, sorting,
// other filters (400 here), request logging.
import { createHash, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';
import { auditHashParts, redactDiff } from './minimal-audit.js';
import { listFunctionName, MINIMAL_SCHEMA, type MinimalFilter } from './minimal-sql.js';

type Json = Record<string, unknown>;

interface UserRow {
  id: string;
  external_id: string | null;
  attributes: Json;
  extension_schemas: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
  total: string;
  groups: { value: string; display: string; type: string }[] | null;
}

interface Caller {
  tokenId: string;
  tenantId: string;
  scopes: string[];
}

const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const SCHEMA_LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const SCHEMA_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const TOKEN_CACHE_MS = 1_000;

const env = process.env;
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.POOL_SIZE ?? 10), options: '-c role=meridian_app' });
const baseUrl = `${env.BASE_URL ?? 'http://localhost'}/scim/v2`;

/** Tokens found, by the hash of their secret (the secret itself is not kept), until `until`. */
const tokens = new Map<string, { caller: Caller; until: number }>();

async function authenticate(header: string | undefined, scope: string): Promise<Caller | 'unauthenticated' | 'forbidden'> {
  const secret = /^Bearer +(\S{1,200})$/i.exec(header ?? '')?.[1];
  if (!secret) return 'unauthenticated';
  const hash = createHash('sha256').update(secret).digest('hex');
  const now = Date.now();
  let cached = tokens.get(hash);
  if (!cached || cached.until <= now) {
    const { rows } = await pool.query<{ id: string; tenant_id: string | null; scopes: string[]; expires_at: Date | null }>({
      name: 'minimal-find-token',
      text: `select * from ${MINIMAL_SCHEMA}.find_token($1)`,
      values: [hash],
    });
    const row = rows[0];
    if (!row?.tenant_id) {
      tokens.delete(hash);
      return 'unauthenticated';
    }
    const expiry = row.expires_at === null ? Number.POSITIVE_INFINITY : row.expires_at.getTime();
    cached = { caller: { tokenId: row.id, tenantId: row.tenant_id, scopes: row.scopes }, until: Math.min(now + TOKEN_CACHE_MS, expiry) };
    if (tokens.size > 10_000) tokens.clear();
    tokens.set(hash, cached);
  }
  return cached.caller.scopes.includes(scope) ? cached.caller : 'forbidden';
}

function scimError(status: number, detail: string, scimType?: string): Json {
  return { schemas: [SCHEMA_ERROR], ...(scimType ? { scimType } : {}), status: String(status), detail };
}

function render(
  row: Pick<UserRow, 'id' | 'external_id' | 'attributes' | 'extension_schemas' | 'version' | 'groups'>,
  created: Date,
  modified: Date,
): Json {
  const body: Json = { schemas: [SCHEMA_USER, ...row.extension_schemas], id: row.id };
  if (row.external_id !== null) body.externalId = row.external_id;
  Object.assign(body, row.attributes);
  if (body.active === undefined) body.active = true;
  if (row.groups && row.groups.length > 0) {
    body.groups = row.groups.map((g) => ({ value: g.value, $ref: `${baseUrl}/Groups/${g.value}`, display: g.display, type: g.type }));
  }
  body.meta = {
    resourceType: 'User',
    created: created.toISOString(),
    lastModified: modified.toISOString(),
    location: `${baseUrl}/Users/${row.id}`,
    version: `W/"${row.version}"`,
  };
  return body;
}

/** The filters this server answers: the attribute (case-insensitive, RFC 7644 §3.4.2.2), the operator and a JSON string. */
const FILTER = /^\s*(userName|emails|emails\.value|name\.familyName)\s+(eq|co|sw)\s+("(?:[^"\\]|\\.)*")\s*$/i;

function parseFilter(filter: string | undefined): { shape: MinimalFilter; value: string } | undefined {
  if (filter === undefined || filter === '') return { shape: 'all', value: '' };
  const match = FILTER.exec(filter);
  if (!match) return undefined;
  const attribute = (match[1] ?? '').toLowerCase();
  const operator = (match[2] ?? '').toLowerCase();
  let value: string;
  try {
    value = JSON.parse(match[3] ?? '""') as string;
  } catch {
    return undefined;
  }
  if (attribute === 'username' && operator === 'eq') return { shape: 'userNameEq', value };
  if (attribute.startsWith('emails') && operator === 'co') return { shape: 'emailsCo', value: `%${value.replace(/[\\%_]/g, '\\$&')}%` };
  if (attribute === 'name.familyname' && operator === 'sw') return { shape: 'familyNameSw', value };
  return undefined;
}

function uuidv7(): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
app.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string' }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body as string));
  } catch {
    done(Object.assign(new Error('invalid JSON'), { statusCode: 400 }), undefined);
  }
});

function refused(reply: { code(n: number): { type(t: string): { send(b: Json): unknown } } }, outcome: 'unauthenticated' | 'forbidden') {
  return outcome === 'unauthenticated'
    ? reply.code(401).type(CONTENT_TYPE).send(scimError(401, 'Authentication is required.'))
    : reply.code(403).type(CONTENT_TYPE).send(scimError(403, 'The token lacks the scope.'));
}

app.get<{ Querystring: { filter?: string; count?: string; startIndex?: string } }>('/scim/v2/Users', async (request, reply) => {
  const caller = await authenticate(request.headers.authorization, 'scim:read');
  if (typeof caller === 'string') return refused(reply, caller);
  const filter = parseFilter(request.query.filter);
  if (!filter)
    return reply
      .code(400)
      .type(CONTENT_TYPE)
      .send(scimError(400, 'This server answers only the filters the bench sends.', 'invalidFilter'));
  const count = Math.max(0, Math.min(Number(request.query.count ?? 100) || 0, 200));
  const startIndex = Math.max(1, Number(request.query.startIndex ?? 1) || 1);
  const query = (offset: number, limit: number) =>
    pool.query<UserRow>({
      name: `minimal-list-${filter.shape}`,
      text: `select * from ${listFunctionName(filter.shape)}($1, $2, $3, $4)`,
      values: [caller.tenantId, filter.value, limit, offset],
    });
  let { rows } = await query(startIndex - 1, count);
  let total = Number(rows[0]?.total ?? 0);
  // Past the last page (or count=0) no row carries the total: ask for the first row only.
  if (rows.length === 0 && (startIndex > 1 || count === 0)) {
    total = Number((await query(0, 1)).rows[0]?.total ?? 0);
    rows = [];
  }
  return reply.type(CONTENT_TYPE).send({
    schemas: [SCHEMA_LIST],
    totalResults: total,
    itemsPerPage: rows.length,
    startIndex,
    Resources: rows.map((r) => render(r, r.created_at, r.updated_at)),
  });
});

app.get<{ Params: { id: string } }>('/scim/v2/Users/:id', async (request, reply) => {
  const caller = await authenticate(request.headers.authorization, 'scim:read');
  if (typeof caller === 'string') return refused(reply, caller);
  const row = UUID.test(request.params.id)
    ? (
        await pool.query<UserRow>({
          name: 'minimal-get-user',
          text: `select * from ${MINIMAL_SCHEMA}.get_user($1, $2)`,
          values: [caller.tenantId, request.params.id],
        })
      ).rows[0]
    : undefined;
  if (!row) return reply.code(404).type(CONTENT_TYPE).send(scimError(404, 'No such user.'));
  const resource = render(row, row.created_at, row.updated_at);
  return reply.type(CONTENT_TYPE).header('etag', `W/"${row.version}"`).send(resource);
});

app.post<{ Body: Json }>('/scim/v2/Users', async (request, reply) => {
  const caller = await authenticate(request.headers.authorization, 'scim:write');
  if (typeof caller === 'string') return refused(reply, caller);
  const body = request.body;
  if (typeof body?.userName !== 'string' || body.userName === '') {
    return reply
      .code(400)
      .type(CONTENT_TYPE)
      .send(scimError(400, 'userName is required.', 'invalidValue'));
  }
  const attributes: Json = {};
  const extensionSchemas: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'schemas' || key === 'id' || key === 'meta' || key === 'externalId' || key === 'groups') continue;
    attributes[key] = value;
    if (key.startsWith('urn:')) extensionSchemas.push(key);
  }
  const externalId = typeof body.externalId === 'string' ? body.externalId : null;
  const id = uuidv7();
  const now = new Date();
  const resource = render(
    { id, external_id: externalId, attributes, extension_schemas: extensionSchemas, version: 1, groups: null },
    now,
    now,
  );
  const diff = redactDiff({ before: null, after: resource });
  const requestId = request.id;
  const sourceAddress = request.ip;
  const parts = auditHashParts({
    chain: caller.tenantId,
    tenantId: caller.tenantId,
    actorType: 'token',
    actorId: caller.tokenId,
    action: 'user.created',
    resourceType: 'User',
    resourceId: id,
    requestId,
    sourceAddress,
    diff,
    createdAt: now.toISOString(),
  });
  try {
    await pool.query({
      name: 'minimal-create-user',
      text: `select * from ${MINIMAL_SCHEMA}.create_user($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      values: [
        caller.tenantId,
        id,
        body.userName,
        externalId,
        attributes.active !== false,
        JSON.stringify(attributes),
        extensionSchemas,
        now,
        requestId,
        caller.tokenId,
        sourceAddress,
        JSON.stringify(diff),
        parts.head,
        parts.middle,
        parts.tail,
      ],
    });
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      return reply
        .code(409)
        .type(CONTENT_TYPE)
        .send(scimError(409, 'userName is taken.', 'uniqueness'));
    }
    throw error;
  }
  const meta = resource.meta as { location: string; version: string };
  return reply.code(201).type(CONTENT_TYPE).header('location', meta.location).header('etag', meta.version).send(resource);
});

const port = Number(env.PORT ?? 0);
await app.listen({ port, host: '127.0.0.1' });
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
