import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

/**
 * Encodes strings as one PostgreSQL array literal (`{"a","b"}`), bound as a
 * single parameter. MikroORM expands a JS array parameter into a list of
 * placeholders, which `= any(?)` and `unnest(?)` cannot take.
 */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/** The setting the row-level security policies read the tenant from (migration 20261126300000, ADR 0010). */
export const TENANT_SETTING = 'meridian.tenant_id';

/** The setting that opens every tenant's rows, and the platform's, to cross-tenant work (ADR 0010). */
export const SCOPE_SETTING = 'meridian.scope';

/**
 * An entity manager whose transactions see and write one tenant's rows only.
 * MikroORM sends `select set_config('meridian.tenant_id', ?, true)` right after
 * each `begin` (`SET LOCAL` semantics), and the row-level security policies
 * hide every other tenant's rows. A statement outside `transactional()` gets a
 * short transaction of its own, so run the statements of one operation in one
 * `transactional()`.
 *
 * @example
 * await forkForTenant(orm, tenantId).transactional((em) => em.execute('select * from scim_user where tenant_id = ?', [tenantId]));
 */
export function forkForTenant(orm: MikroORM, tenantId: string): EntityManager {
  return orm.em.fork({ session: { variables: { [TENANT_SETTING]: tenantId } } });
}

/**
 * An entity manager for cross-tenant work: platform administration, token
 * authentication by secret hash, the outbox relay, audit verification. Its
 * transactions set `meridian.scope = 'platform'` locally and see every row,
 * including those without a tenant (platform tokens, the platform audit chain).
 */
export function forkForPlatform(orm: MikroORM): EntityManager {
  return orm.em.fork({ session: { variables: { [SCOPE_SETTING]: 'platform' } } });
}

/** The setting that opens one community's global directory (migration 20261126700000, ADR 0015). */
const COMMUNITY_SETTING = 'meridian.community_id';

/**
 * An entity manager whose transactions read one community's global directory
 * (people, their accounts, conflicts) and that community's tenant rows, and
 * nothing of any tenant's own tables.
 */
export function forkForCommunity(orm: MikroORM, communityId: string): EntityManager {
  return orm.em.fork({ session: { variables: { [COMMUNITY_SETTING]: communityId } } });
}
