import { createHash, randomBytes } from 'node:crypto';
import {
  type AdminStore,
  type ApiToken,
  type Clock,
  type Community,
  type IssuedToken,
  MeridianError,
  type Page,
  type PageRequest,
  type RequestContext,
  type Role,
  type Scope,
  type Tenant,
  type TokenAuthentication,
  type TokenRequest,
} from '@meridian/core';
import type { EntityManager, InferEntity, MikroORM, PostgreSqlConnection } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { isUuid } from '../directory/postgres-directory-store.js';
import { recordEvent } from '../events/event-recorder.js';
import { translateDatabaseError } from '../orm/database-errors.js';
import { CommunityEntity, TenantEntity } from '../orm/entities.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform } from '../orm/unit-of-work.js';
import { decodeCursor, encodeCursor } from './cursor.js';

/** Token secrets start with this, so that secret scanners recognise them. */
const TOKEN_PREFIX = 'mrd_';

/** SHA-256 of a token secret: tokens are 256-bit random, so a fast hash is safe here. */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

interface TokenRow {
  id: string;
  tenant_id: string | null;
  community_id: string | null;
  user_id: string | null;
  role: string | null;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

function toToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    communityId: row.community_id,
    userId: row.user_id,
    role: row.role as Role | null,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as Scope[],
    createdAt: new Date(row.created_at),
    expiresAt: row.expires_at ? new Date(row.expires_at) : null,
    revokedAt: row.revoked_at ? new Date(row.revoked_at) : null,
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
  };
}

const toCommunity = (r: { id: string; slug: string; name: string; created_at: Date }): Community => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  createdAt: new Date(r.created_at),
});

const communityOf = (e: InferEntity<typeof CommunityEntity>): Community => ({
  id: e.id,
  slug: e.slug,
  name: e.name,
  createdAt: e.createdAt,
});

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  community_id: string;
  created_at: Date;
}

const toTenant = (r: TenantRow): Tenant => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  communityId: r.community_id,
  createdAt: new Date(r.created_at),
});

const tenantOf = (e: InferEntity<typeof TenantEntity>): Tenant => ({
  id: e.id,
  slug: e.slug,
  name: e.name,
  communityId: e.communityId,
  createdAt: e.createdAt,
});

/**
 * The PostgreSQL implementation of the core {@link AdminStore}. Its work spans
 * tenants (communities, tenants, tokens, authentication by secret hash), so every
 * transaction runs in platform scope (ADR 0010); the core's `AdminService`
 * decides which principal may ask for what.
 */
export class PostgresAdminStore implements AdminStore {
  /** The ORM's `pg` pool, for the token look-up's prepared call. */
  private pool: Promise<TokenPool> | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  private tokenPool(): Promise<TokenPool> {
    if (!this.pool) {
      const pool = (this.orm.em.getConnection() as PostgreSqlConnection).getNativeClient() as Promise<TokenPool>;
      // A pool that could not be had is asked again next time.
      pool.catch(() => {
        if (this.pool === pool) this.pool = undefined;
      });
      this.pool = pool;
    }
    return this.pool;
  }

  private write<T>(work: (em: EntityManager, now: Date) => Promise<T>): Promise<T> {
    return asPlatform(this.orm, (em) => work(em, this.clock.now()));
  }

  /** Runs the statements of one read in one transaction in platform scope. */
  private read<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return asPlatform(this.orm, work);
  }

  createCommunity(values: { slug: string; name: string }, context: RequestContext): Promise<Community> {
    return this.write(async (em, now) => {
      const community: Community = { id: uuidv7(), slug: values.slug, name: values.name, createdAt: now };
      await em.execute('insert into community (id, slug, name, created_at) values (?, ?, ?, ?)', [
        community.id,
        community.slug,
        community.name,
        now,
      ]);
      await recordEvent(
        em,
        {
          type: 'community.created',
          tenantId: null,
          resourceType: 'Community',
          resourceId: community.id,
          after: { slug: community.slug, name: community.name },
        },
        context,
        now,
      );
      return community;
    });
  }

  async findCommunity(slugOrId: string): Promise<Community | undefined> {
    const found = await this.read((em) =>
      em.findOne(CommunityEntity, isUuid(slugOrId) ? { id: slugOrId } : { slug: slugOrId.toLowerCase() }),
    );
    return found ? communityOf(found) : undefined;
  }

  async listCommunities(page: PageRequest): Promise<Page<Community>> {
    return this.page('community', [], [], page, toCommunity);
  }

  async createTenant(values: { slug: string; name: string; communityId: string }, context: RequestContext): Promise<Tenant> {
    try {
      return await this.insertTenant(values, context);
    } catch (error) {
      // The slug is taken in this community (the caller's own): another community's slugs never conflict.
      if (error instanceof MeridianError && error.code === 'UNIQUENESS') {
        throw new MeridianError('UNIQUENESS', `The community already has a tenant with the slug '${values.slug}'.`, { field: 'slug' });
      }
      throw error;
    }
  }

  private insertTenant(values: { slug: string; name: string; communityId: string }, context: RequestContext): Promise<Tenant> {
    return this.write(async (em, now) => {
      const tenant: Tenant = { id: uuidv7(), slug: values.slug, name: values.name, communityId: values.communityId, createdAt: now };
      await em.execute('insert into tenant (id, community_id, slug, name, created_at) values (?, ?, ?, ?, ?)', [
        tenant.id,
        tenant.communityId,
        tenant.slug,
        tenant.name,
        now,
      ]);
      await recordEvent(
        em,
        {
          type: 'tenant.created',
          tenantId: tenant.id,
          resourceType: 'Tenant',
          resourceId: tenant.id,
          after: { slug: tenant.slug, name: tenant.name, communityId: tenant.communityId },
        },
        context,
        now,
      );
      return tenant;
    });
  }

  async findTenant(slugOrId: string): Promise<Tenant | undefined> {
    if (isUuid(slugOrId)) {
      const found = await this.read((em) => em.findOne(TenantEntity, { id: slugOrId }));
      return found ? tenantOf(found) : undefined;
    }
    // Slugs are unique per community: a slug alone names a tenant only when one community has it.
    const found = await this.findTenantsBySlug(slugOrId, 2);
    return found.length === 1 ? found[0] : undefined;
  }

  async findTenantInCommunity(communityId: string, slugOrId: string): Promise<Tenant | undefined> {
    if (!isUuid(communityId)) return undefined;
    const found = await this.read((em) =>
      em.findOne(TenantEntity, isUuid(slugOrId) ? { communityId, id: slugOrId } : { communityId, slug: slugOrId.toLowerCase() }),
    );
    return found ? tenantOf(found) : undefined;
  }

  async findTenantsBySlug(slug: string, limit: number): Promise<Tenant[]> {
    const found = await this.read((em) =>
      em.find(TenantEntity, { slug: slug.toLowerCase() }, { orderBy: { createdAt: 'asc', id: 'asc' }, limit }),
    );
    return found.map(tenantOf);
  }

  async findTenants(ids: readonly string[]): Promise<Tenant[]> {
    const uuids = ids.filter(isUuid);
    if (uuids.length === 0) return [];
    const rows = await this.read((em) =>
      em.execute<{ id: string; slug: string; name: string; community_id: string; created_at: Date }[]>(
        'select * from tenant where id = any(?::uuid[])',
        [pgArray(uuids)],
      ),
    );
    return rows.map(toTenant);
  }

  listTenants(page: PageRequest, filter: { communityId?: string; tenantId?: string } = {}): Promise<Page<Tenant>> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (filter.communityId !== undefined) {
      conditions.push('community_id = ?');
      params.push(filter.communityId);
    }
    if (filter.tenantId !== undefined) {
      conditions.push('id = ?');
      params.push(filter.tenantId);
    }
    return this.page('tenant', conditions, params, page, toTenant);
  }

  /** Keyset pagination over (created_at, id): stays fast on any page. */
  private page<R extends { id: string; created_at: Date }, T>(
    table: 'community' | 'tenant',
    conditions: string[],
    params: unknown[],
    page: PageRequest,
    map: (row: R) => T,
  ): Promise<Page<T>> {
    return this.read((em) => pageRows(em, table, conditions, params, page, map));
  }

  issueToken(request: TokenRequest, context: RequestContext): Promise<IssuedToken> {
    return this.write(async (em, now) => {
      const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const userId = request.user === undefined ? null : await findUserId(em, request.tenantId, request.user);
      const row: TokenRow = {
        id: uuidv7(),
        tenant_id: request.tenantId,
        community_id: request.communityId ?? null,
        user_id: userId,
        role: request.role ?? null,
        name: request.name,
        prefix: token.slice(0, 10),
        scopes: request.scopes,
        created_at: now,
        expires_at: request.expiresAt,
        revoked_at: null,
        last_used_at: null,
      };
      await em.execute(
        `insert into api_token (id, tenant_id, community_id, user_id, role, name, prefix, secret_hash, scopes, created_at, expires_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          row.id,
          row.tenant_id,
          row.community_id,
          row.user_id,
          row.role,
          row.name,
          row.prefix,
          hashTokenSecret(token),
          pgArray(row.scopes),
          now,
          row.expires_at,
        ],
      );
      await recordEvent(
        em,
        {
          type: 'token.created',
          tenantId: request.tenantId,
          resourceType: 'Token',
          resourceId: row.id,
          after: {
            name: row.name,
            scopes: row.scopes,
            role: row.role,
            communityId: row.community_id,
            userId: row.user_id,
            expiresAt: row.expires_at?.toISOString() ?? null,
          },
        },
        context,
        now,
      );
      return { token, record: toToken(row) };
    });
  }

  async listTokens(tenantId: string | null): Promise<ApiToken[]> {
    const rows = await this.read((em) =>
      em.execute<TokenRow[]>(
        tenantId === null
          ? 'select * from api_token where tenant_id is null and community_id is null order by created_at, id'
          : 'select * from api_token where tenant_id = ? order by created_at, id',
        tenantId === null ? [] : [tenantId],
      ),
    );
    return rows.map(toToken);
  }

  async listCommunityTokens(communityId: string): Promise<ApiToken[]> {
    const rows = await this.read((em) =>
      em.execute<TokenRow[]>('select * from api_token where community_id = ? order by created_at, id', [communityId]),
    );
    return rows.map(toToken);
  }

  async findToken(id: string): Promise<ApiToken | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.read((em) => em.execute<TokenRow[]>('select * from api_token where id = ?', [id]));
    return row ? toToken(row) : undefined;
  }

  revokeToken(id: string, context: RequestContext): Promise<ApiToken | undefined> {
    if (!isUuid(id)) return Promise.resolve(undefined);
    return this.write(async (em, now) => {
      const [row] = await em.execute<TokenRow[]>('update api_token set revoked_at = coalesce(revoked_at, ?) where id = ? returning *', [
        now,
        id,
      ]);
      if (!row) return undefined;
      await recordEvent(
        em,
        {
          type: 'token.revoked',
          tenantId: row.tenant_id,
          resourceType: 'Token',
          resourceId: row.id,
          before: { revokedAt: null },
          after: { revokedAt: new Date(row.revoked_at ?? now).toISOString() },
        },
        context,
        now,
      );
      return toToken(row);
    });
  }

  async authenticate(secret: string): Promise<ApiToken | undefined> {
    const outcome = await this.authenticateToken(secret);
    return outcome.ok ? outcome.token : undefined;
  }

  async authenticateToken(secret: string): Promise<TokenAuthentication> {
    if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return { ok: false, reason: 'unknown' };
    const now = this.clock.now();
    // The tenant is not known before the token is found: a platform-scope lookup by the hash of a 256-bit secret, in
    // one prepared call that also records the use of a token it would accept, at most once a minute, so that reads
    // stay reads (migration 20261211000200).
    let rows: (TokenRow & { user_active: boolean | null })[];
    try {
      ({ rows } = await (await this.tokenPool()).query<TokenRow & { user_active: boolean | null }>({
        name: 'meridian_authenticate_token',
        text: 'select * from meridian_authenticate_token($1::text, $2::timestamptz)',
        values: [hashTokenSecret(secret), now],
      }));
    } catch (error) {
      throw translateDatabaseError(error);
    }
    const [row] = rows;
    if (!row) return { ok: false, reason: 'unknown' };
    const { user_active: userActive, ...tokenRow } = row;
    const token = toToken(tokenRow);
    if (token.revokedAt !== null) return { ok: false, reason: 'revoked', token };
    if (token.expiresAt !== null && token.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired', token };
    if (token.userId !== null && userActive !== true) return { ok: false, reason: 'inactive_user', token };
    return { ok: true, token };
  }
}

/** What the token look-up asks of the ORM's `pg` pool (typed here: MikroORM may bring another version of `pg`'s types). */
interface TokenPool {
  query<R>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

/** Resolves an end-user token's user (id or userName) inside the tenant; NOT_FOUND otherwise. */
async function findUserId(em: EntityManager, tenantId: string | null, user: string): Promise<string> {
  const [row] =
    tenantId === null
      ? []
      : await em.execute<{ id: string }[]>(
          `select id from scim_user where tenant_id = ? and (${isUuid(user) ? 'id = ?::uuid or ' : ''}lower(user_name) = lower(?))`,
          isUuid(user) ? [tenantId, user, user] : [tenantId, user],
        );
  if (!row) throw new MeridianError('NOT_FOUND', `User '${user}' not found in the tenant.`, { field: 'user' });
  return row.id;
}

/** One page of communities or tenants, in the caller's transaction. */
async function pageRows<R extends { id: string; created_at: Date }, T>(
  em: EntityManager,
  table: 'community' | 'tenant',
  conditions: string[],
  params: unknown[],
  page: PageRequest,
  map: (row: R) => T,
): Promise<Page<T>> {
  const where = conditions.length > 0 ? conditions.join(' and ') : 'true';
  const [count] = await em.execute<{ total: string }[]>(`select count(*) as total from ${table} where ${where}`, params);
  const keyset: string[] = [];
  const keysetParams: unknown[] = [];
  if (page.after !== undefined) {
    const cursor = decodeCursor(page.after);
    keyset.push('(created_at, id) > (?::timestamptz, ?::uuid)');
    keysetParams.push(cursor.t, cursor.id);
  }
  const rows = await em.execute<R[]>(`select * from ${table} where ${[where, ...keyset].join(' and ')} order by created_at, id limit ?`, [
    ...params,
    ...keysetParams,
    page.first + 1,
  ]);
  const hasNextPage = rows.length > page.first;
  const items = rows.slice(0, page.first);
  const cursors = items.map((row) => encodeCursor({ t: new Date(row.created_at).toISOString(), id: row.id }));
  return {
    items: items.map(map),
    cursors,
    totalCount: Number(count?.total ?? 0),
    endCursor: cursors[cursors.length - 1] ?? null,
    hasNextPage,
  };
}
