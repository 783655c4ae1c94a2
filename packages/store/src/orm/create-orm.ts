import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrations } from '../migrations/index.js';
import { entities } from './entities.js';

/**
 * The role the application's connections act as: no superuser, no BYPASSRLS,
 * only DML on the tables, so the row-level security policies always apply
 * (migration 20261126300000, ADR 0010).
 */
const APP_ROLE = 'meridian_app';

/** Options of {@link createOrm}. */
export interface OrmOptions {
  /** A PostgreSQL connection URL. */
  url: string;
  /** Maximum connections in the pool. */
  poolSize?: number;
  /** Logs every SQL statement through this function (tests count statements with it). */
  onQuery?: (sql: string) => void;
  /**
   * The role every connection acts as, {@link APP_ROLE} unless set. `null` keeps
   * the URL's own user: the schema owner applying migrations, or maintenance.
   */
  role?: string | null;
  /** Gives up connecting after this long (a read replica that is away must not hold reads up); pg's default waits forever. */
  connectTimeoutMs?: number;
}

/** The role each ORM acts as (`null`: the URL's user), so that {@link migrate} knows whether it may use it. */
const ormRoles = new WeakMap<MikroORM, string | null>();

/**
 * Connects the ORM to PostgreSQL. Migrations come from the committed list, not from disk.
 * The connections act as {@link OrmOptions.role}: it is a start-up parameter
 * (`options=-c role=…`), so it costs no statement and `RESET ROLE` returns to it.
 */
export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  const role = options.role === undefined ? APP_ROLE : options.role;
  if (role !== null && !/^[a-z_][a-z0-9_]*$/.test(role)) throw new TypeError(`Invalid role name '${role}'.`);
  const startup = [process.env.PGOPTIONS, role === null ? undefined : `-c role=${role}`].filter((o) => o).join(' ');
  const orm = await MikroORM.init({
    clientUrl: options.url,
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolSize ?? 10 },
    driverOptions: {
      ...(startup === '' ? {} : { options: startup }),
      ...(options.connectTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.connectTimeoutMs }),
    },
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
  ormRoles.set(orm, role);
  return orm;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Migrate as this URL's user instead of the ORM's URL's (a migration user distinct from the application's). */
  url?: string;
}

/**
 * Applies the committed migrations that have not run yet; returns their names.
 * Migrations run as the URL's own user (the schema owner), never as the
 * application role: for an ORM that acts as {@link APP_ROLE}, a short-lived
 * connection without the role does the work.
 */
export async function migrate(orm: MikroORM, options: MigrateOptions = {}): Promise<string[]> {
  const reuse = options.url === undefined && ormRoles.get(orm) === null;
  const url = options.url ?? orm.config.get('clientUrl');
  if (!reuse && url === undefined) throw new TypeError('The ORM has no URL to migrate with.');
  const owner = reuse ? orm : await createOrm({ url: url as string, poolSize: 1, role: null });
  try {
    const applied = await owner.migrator.up();
    return applied.map((m) => m.name);
  } finally {
    if (owner !== orm) await owner.close(true);
  }
}
