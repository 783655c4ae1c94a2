import {
  type Clock,
  type JwtAlgorithm,
  MeridianError,
  type NewTrustedIssuer,
  type RequestContext,
  type Role,
  type TrustedIssuer,
  type TrustedIssuerStore,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { isUuid } from '../directory/postgres-directory-store.js';
import { recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inTenant } from '../orm/unit-of-work.js';

interface IssuerRow {
  id: string;
  tenant_id: string | null;
  community_id: string | null;
  owner_community_id: string;
  issuer: string;
  audience: string;
  jwks_uri: string;
  algorithms: string[];
  roles_claim: string;
  tenant_claim: string | null;
  subject_claim: string;
  role_map: Record<string, Role>;
  created_at: Date;
}

function toIssuer(row: IssuerRow): TrustedIssuer {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    communityId: row.community_id,
    ownerCommunityId: row.owner_community_id,
    issuer: row.issuer,
    audience: row.audience,
    jwksUri: row.jwks_uri,
    algorithms: row.algorithms as JwtAlgorithm[],
    rolesClaim: row.roles_claim,
    tenantClaim: row.tenant_claim,
    subjectClaim: row.subject_claim,
    roleMap: row.role_map,
    createdAt: new Date(row.created_at),
  };
}

function duplicateIssuer(): MeridianError {
  return new MeridianError(
    'UNIQUENESS',
    'This community already trusts this issuer for this audience: one configuration per issuer and audience in a community.',
    { field: 'audience' },
  );
}

/** What the audit log keeps of an issuer: its whole configuration (it holds no secret). */
function auditValues(issuer: TrustedIssuer): Record<string, unknown> {
  return {
    tenantId: issuer.tenantId,
    communityId: issuer.communityId,
    issuer: issuer.issuer,
    audience: issuer.audience,
    jwksUri: issuer.jwksUri,
    algorithms: issuer.algorithms,
    rolesClaim: issuer.rolesClaim,
    tenantClaim: issuer.tenantClaim,
    subjectClaim: issuer.subjectClaim,
    roleMap: issuer.roleMap,
  };
}

/**
 * The PostgreSQL implementation of the core {@link TrustedIssuerStore}.
 * Issuers are looked up by `iss` before any tenant is known, and community
 * issuers have no tenant, so it works in platform scope (ADR 0010); the core's
 * `TrustedIssuerService` decides who may ask for what.
 */
export class PostgresIssuerStore implements TrustedIssuerStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  private async write<T>(work: (em: EntityManager, now: Date) => Promise<T>): Promise<T> {
    try {
      return await asPlatform(this.orm, (em) => work(em, this.clock.now()));
    } catch (error) {
      // Two admins adding the same issuer at once: the unique index decides, with the same answer as the check.
      if (error instanceof MeridianError && error.code === 'UNIQUENESS') throw duplicateIssuer();
      throw error;
    }
  }

  private read<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return asPlatform(this.orm, work);
  }

  create(values: NewTrustedIssuer, context: RequestContext): Promise<TrustedIssuer> {
    return this.write(async (em, now) => {
      // Unique within the issuer's community only: another community's issuers are neither visible nor in the way.
      const [existing] = await em.execute<{ id: string }[]>(
        'select id from trusted_issuer where owner_community_id = ? and issuer = ? and audience = ?',
        [values.ownerCommunityId, values.issuer, values.audience],
      );
      if (existing) throw duplicateIssuer();
      const issuer: TrustedIssuer = { ...values, id: uuidv7(), createdAt: now };
      await em.execute(
        `insert into trusted_issuer (id, tenant_id, community_id, owner_community_id, issuer, audience, jwks_uri, algorithms, roles_claim,
           tenant_claim, subject_claim, role_map, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          issuer.id,
          issuer.tenantId,
          issuer.communityId,
          issuer.ownerCommunityId,
          issuer.issuer,
          issuer.audience,
          issuer.jwksUri,
          pgArray(issuer.algorithms),
          issuer.rolesClaim,
          issuer.tenantClaim,
          issuer.subjectClaim,
          JSON.stringify(issuer.roleMap),
          now,
        ],
      );
      await recordEvent(
        em,
        {
          type: 'issuer.created',
          tenantId: issuer.tenantId,
          resourceType: 'Issuer',
          resourceId: issuer.id,
          before: null,
          after: auditValues(issuer),
        },
        context,
        now,
      );
      return issuer;
    });
  }

  async list(owner: { tenantId?: string; communityId?: string }): Promise<TrustedIssuer[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (owner.tenantId !== undefined) {
      conditions.push('tenant_id = ?');
      params.push(owner.tenantId);
    }
    if (owner.communityId !== undefined) {
      conditions.push('community_id = ?');
      params.push(owner.communityId);
    }
    const where = conditions.length > 0 ? conditions.join(' and ') : 'true';
    const rows = await this.read((em) =>
      em.execute<IssuerRow[]>(`select * from trusted_issuer where ${where} order by created_at, id`, params),
    );
    return rows.map(toIssuer);
  }

  async find(id: string): Promise<TrustedIssuer | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.read((em) => em.execute<IssuerRow[]>('select * from trusted_issuer where id = ?', [id]));
    return row ? toIssuer(row) : undefined;
  }

  async findByIssuer(issuer: string): Promise<TrustedIssuer[]> {
    if (issuer.length > 2048) return [];
    const rows = await this.read((em) =>
      em.execute<IssuerRow[]>('select * from trusted_issuer where issuer = ? order by created_at, id', [issuer]),
    );
    return rows.map(toIssuer);
  }

  delete(id: string, context: RequestContext): Promise<TrustedIssuer | undefined> {
    if (!isUuid(id)) return Promise.resolve(undefined);
    return this.write(async (em, now) => {
      const [row] = await em.execute<IssuerRow[]>('delete from trusted_issuer where id = ? returning *', [id]);
      if (!row) return undefined;
      const issuer = toIssuer(row);
      await recordEvent(
        em,
        {
          type: 'issuer.deleted',
          tenantId: issuer.tenantId,
          resourceType: 'Issuer',
          resourceId: issuer.id,
          before: auditValues(issuer),
          after: null,
        },
        context,
        now,
      );
      return issuer;
    });
  }

  async findActiveUserId(tenantId: string, userName: string): Promise<string | undefined> {
    if (userName === '' || userName.length > 1024) return undefined;
    const [row] = await inTenant(this.orm, tenantId, (em) =>
      em.execute<{ id: string }[]>('select id from scim_user where tenant_id = ? and lower(user_name) = lower(?) and active', [
        tenantId,
        userName,
      ]),
    );
    return row?.id;
  }
}
