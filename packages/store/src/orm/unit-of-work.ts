import type { EntityManager, MikroORM, TransactionOptions } from '@mikro-orm/postgresql';
import { translateDatabaseError } from './database-errors.js';
import { routed } from './read-replica.js';
import { forkForCommunity, forkForPlatform, forkForTenant } from './sql.js';

// The store's only way into the database: one transaction in one scope (ADR
// 0010), the work, and the store's error boundary (STYLE.md, "Errors").
// Whatever the work throws, read or write, and whatever the commit throws,
// comes out through `translateDatabaseError`, so no store translates by hand.

/** How a unit of work runs beyond its scope. */
export interface UnitOfWorkOptions {
  /**
   * Names a failure only the caller can name (a trigger's refusal, a key
   * check that needs a second read), from the raw error; what it returns is
   * translated like any other error.
   */
  explain?: (error: unknown) => unknown;
  /** Passed to MikroORM's `transactional` (a read-only snapshot, an isolation level). */
  transaction?: TransactionOptions;
}

// A request that only reads may have its units of work served by the read replica (ADR 0031): the scope is
// forked from whichever ORM its route names, so the same session settings reach the same policies there.
// A hot standby has no serializable snapshots: such a unit of work stays on the primary.
async function run<T>(
  orm: MikroORM,
  fork: (orm: MikroORM) => EntityManager,
  work: (em: EntityManager) => Promise<T>,
  options: UnitOfWorkOptions,
): Promise<T> {
  const transact = (target: MikroORM) => fork(target).transactional(work, options.transaction);
  try {
    return await (options.transaction?.isolationLevel === 'serializable' ? transact(orm) : routed(orm, transact));
  } catch (error) {
    throw translateDatabaseError(options.explain ? await options.explain(error) : error);
  }
}

/** One transaction scoped to a tenant (`meridian.tenant_id`): the policies show that tenant's rows only. */
export function inTenant<T>(
  orm: MikroORM,
  tenantId: string,
  work: (em: EntityManager) => Promise<T>,
  options: UnitOfWorkOptions = {},
): Promise<T> {
  return run(orm, (o) => forkForTenant(o, tenantId), work, options);
}

/** One transaction scoped to a community (`meridian.community_id`): its global directory and its tenants' rows (ADR 0015). */
export function inCommunity<T>(
  orm: MikroORM,
  communityId: string,
  work: (em: EntityManager) => Promise<T>,
  options: UnitOfWorkOptions = {},
): Promise<T> {
  return run(orm, (o) => forkForCommunity(o, communityId), work, options);
}

/** One transaction in platform scope (`meridian.scope = 'platform'`): every tenant's rows and the platform's. */
export function asPlatform<T>(orm: MikroORM, work: (em: EntityManager) => Promise<T>, options: UnitOfWorkOptions = {}): Promise<T> {
  return run(orm, (o) => forkForPlatform(o), work, options);
}
