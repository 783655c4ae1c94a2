import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrations } from '../migrations/index.js';
import { entities } from './entities.js';

/** Options of {@link createOrm}. */
export interface OrmOptions {
  /** A PostgreSQL connection URL. */
  url: string;
  /** Maximum connections in the pool. */
  poolSize?: number;
  /** Logs every SQL statement through this function (tests count statements with it). */
  onQuery?: (sql: string) => void;
}

/** Connects the ORM to PostgreSQL. Migrations come from the committed list, not from disk. */
export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: options.url,
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolSize ?? 10 },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: options.onQuery !== undefined ? ['query'] : false,
    logger: options.onQuery !== undefined ? (message: string) => options.onQuery?.(message) : () => {},
    migrations: {
      migrationsList: migrations,
      tableName: 'mikro_orm_migrations',
      snapshot: false,
      transactional: true,
      allOrNothing: true,
    },
  });
}

/** Applies the committed migrations that have not run yet; returns their names. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}
