import { createHash, randomBytes } from 'node:crypto';
import type {
  Clock,
  RelyingParty,
  RelyingPartyStore,
  RelyingPartyValues,
  RelyingPartyWithSecret,
  RequestContext,
  SsoClaim,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inCommunity } from '../orm/unit-of-work.js';

/** The SHA-256 (hex) of a client secret: all the store keeps of it (ADR 0021). */
export function hashClientSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** 256 random bits: a secret that a hash without salt or stretching protects (ADR 0021). */
function newClientSecret(): string {
  return `mrp_${randomBytes(32).toString('base64url')}`;
}

function newClientId(): string {
  return `rp_${randomBytes(12).toString('base64url')}`;
}

interface RelyingPartyRow {
  id: string;
  community_id: string;
  client_id: string;
  secret_hash: string | null;
  name: string;
  client_type: RelyingParty['clientType'];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  claims: string[];
  optional_claims: string[];
  max_cache_seconds: number;
  consent: RelyingParty['consent'];
  subject_type: RelyingParty['subjectType'];
  client_credentials: boolean;
  backchannel_logout_uri: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A registration as the OpenID Provider needs it: with the hash of its secret. */
export interface RelyingPartyClient extends RelyingParty {
  secretHash: string | null;
}

function toRelyingParty(row: RelyingPartyRow): RelyingPartyClient {
  return {
    id: row.id,
    communityId: row.community_id,
    clientId: row.client_id,
    secretHash: row.secret_hash,
    name: row.name,
    clientType: row.client_type,
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    claims: row.claims as SsoClaim[],
    optionalClaims: row.optional_claims as SsoClaim[],
    maxCacheSeconds: row.max_cache_seconds,
    consent: row.consent,
    subjectType: row.subject_type,
    clientCredentials: row.client_credentials,
    backchannelLogoutUri: row.backchannel_logout_uri,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Without the secret's hash: what leaves the store through the core port. */
function publicView({ secretHash: _hash, ...rp }: RelyingPartyClient): RelyingParty {
  return rp;
}

/** What the audit log keeps of a registration (no secret, no hash). */
function auditValues(rp: RelyingParty | RelyingPartyValues): Record<string, unknown> {
  return {
    communityId: rp.communityId,
    name: rp.name,
    clientType: rp.clientType,
    redirectUris: rp.redirectUris,
    postLogoutRedirectUris: rp.postLogoutRedirectUris,
    claims: rp.claims,
    optionalClaims: rp.optionalClaims,
    maxCacheSeconds: rp.maxCacheSeconds,
    consent: rp.consent,
    subjectType: rp.subjectType,
    clientCredentials: rp.clientCredentials,
    backchannelLogoutUri: rp.backchannelLogoutUri,
  };
}

const COLUMNS = `name = ?, redirect_uris = ?, post_logout_redirect_uris = ?, claims = ?, optional_claims = ?, max_cache_seconds = ?,
  consent = ?, subject_type = ?, client_credentials = ?, backchannel_logout_uri = ?`;

function columnValues(v: RelyingPartyValues): unknown[] {
  return [
    v.name,
    pgArray(v.redirectUris),
    pgArray(v.postLogoutRedirectUris),
    pgArray(v.claims),
    pgArray(v.optionalClaims),
    v.maxCacheSeconds,
    v.consent,
    v.subjectType,
    v.clientCredentials,
    v.backchannelLogoutUri,
  ];
}

/**
 * The PostgreSQL implementation of the core {@link RelyingPartyStore}: reads
 * in the community's scope; writes in platform scope, because their audit
 * entries go to the platform chain (a registration belongs to no tenant).
 */
export class PostgresRelyingPartyStore implements RelyingPartyStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  private write<T>(work: (em: EntityManager, now: Date) => Promise<T>): Promise<T> {
    return asPlatform(this.orm, (em) => work(em, this.clock.now()));
  }

  create(values: RelyingPartyValues, context: RequestContext): Promise<RelyingPartyWithSecret> {
    return this.write(async (em, now) => {
      const clientSecret = values.clientType === 'confidential' ? newClientSecret() : null;
      const id = uuidv7();
      const [row] = await em.execute<RelyingPartyRow[]>(
        `insert into relying_party (id, community_id, client_id, secret_hash, client_type, created_at, updated_at,
           name, redirect_uris, post_logout_redirect_uris, claims, optional_claims, max_cache_seconds, consent, subject_type,
           client_credentials, backchannel_logout_uri)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning *`,
        [
          id,
          values.communityId,
          newClientId(),
          clientSecret ? hashClientSecret(clientSecret) : null,
          values.clientType,
          now,
          now,
          ...columnValues(values),
        ],
      );
      const rp = toRelyingParty(row as RelyingPartyRow);
      await this.audit(em, 'rp.created', rp, null, auditValues(rp), context, now);
      return { relyingParty: publicView(rp), clientSecret };
    });
  }

  async list(communityId: string): Promise<RelyingParty[]> {
    const rows = await inCommunity(this.orm, communityId, (em) =>
      em.execute<RelyingPartyRow[]>('select * from relying_party where community_id = ? order by created_at, id', [communityId]),
    );
    return rows.map((row) => publicView(toRelyingParty(row)));
  }

  async find(communityId: string, clientId: string): Promise<RelyingParty | undefined> {
    const found = await this.findClient(communityId, clientId);
    return found ? publicView(found) : undefined;
  }

  /** The registration with its secret's hash, for the OpenID Provider's client look-up. */
  async findClient(communityId: string, clientId: string): Promise<RelyingPartyClient | undefined> {
    if (clientId === '' || clientId.length > 200) return undefined;
    const [row] = await inCommunity(this.orm, communityId, (em) =>
      em.execute<RelyingPartyRow[]>('select * from relying_party where community_id = ? and client_id = ?', [communityId, clientId]),
    );
    return row ? toRelyingParty(row) : undefined;
  }

  update(current: RelyingParty, values: RelyingPartyValues, context: RequestContext): Promise<RelyingParty> {
    return this.write(async (em, now) => {
      const [row] = await em.execute<RelyingPartyRow[]>(
        `update relying_party set ${COLUMNS}, updated_at = ? where id = ? and community_id = ? returning *`,
        [...columnValues(values), now, current.id, current.communityId],
      );
      const rp = toRelyingParty(row as RelyingPartyRow);
      await this.audit(em, 'rp.updated', rp, auditValues(current), auditValues(rp), context, now);
      return publicView(rp);
    });
  }

  delete(current: RelyingParty, context: RequestContext): Promise<void> {
    return this.write(async (em, now) => {
      // Its grants, codes and tokens go with it (every one carries its client id): nothing it was issued works any more.
      await em.execute('delete from oidc_payload where community_id = ? and client_id = ?', [current.communityId, current.clientId]);
      await em.execute('delete from relying_party where id = ? and community_id = ?', [current.id, current.communityId]);
      await this.audit(em, 'rp.deleted', current, auditValues(current), null, context, now);
    });
  }

  rotateSecret(current: RelyingParty, context: RequestContext): Promise<RelyingPartyWithSecret> {
    return this.write(async (em, now) => {
      const clientSecret = newClientSecret();
      const [row] = await em.execute<RelyingPartyRow[]>(
        'update relying_party set secret_hash = ?, updated_at = ? where id = ? and community_id = ? returning *',
        [hashClientSecret(clientSecret), now, current.id, current.communityId],
      );
      const rp = toRelyingParty(row as RelyingPartyRow);
      await this.audit(em, 'rp.secret_rotated', rp, null, null, context, now);
      return { relyingParty: publicView(rp), clientSecret };
    });
  }

  private async audit(
    em: EntityManager,
    type: 'rp.created' | 'rp.updated' | 'rp.deleted' | 'rp.secret_rotated',
    rp: RelyingParty,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
    context: RequestContext,
    now: Date,
  ): Promise<void> {
    await recordEvent(
      em,
      {
        type,
        tenantId: null,
        resourceType: 'RelyingParty',
        resourceId: rp.clientId,
        ...(before !== null || after !== null ? { before, after } : {}),
      },
      context,
      now,
    );
  }
}
