import { MeridianError } from '@meridian/core';

const CONSTRAINT_MESSAGES: Record<string, string> = {
  scim_user_tenant_user_name_key: 'A User with this userName already exists in this tenant.',
  scim_group_tenant_display_name_key: 'A Group with this displayName already exists in this tenant.',
  community_slug_key: 'A community with this slug already exists.',
  tenant_slug_key: 'A tenant with this slug already exists.',
};

/**
 * Translates PostgreSQL errors into domain errors by SQLSTATE, at the one
 * boundary where the store hands results back (STYLE.md, "Errors").
 */
export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof MeridianError) return error;
  if (isConnectionFailure(error)) {
    return new MeridianError('UNAVAILABLE', 'The database is unavailable; retry shortly.', { cause: error });
  }
  const pg = findPgError(error);
  if (!pg) return error;
  switch (pg.code) {
    case '23505': {
      const message = (pg.constraint && CONSTRAINT_MESSAGES[pg.constraint]) ?? 'A resource with these unique values already exists.';
      return new MeridianError('UNIQUENESS', message, { cause: error });
    }
    case '40001':
    case '40P01':
      return new MeridianError('CONFLICT', 'The change conflicted with a concurrent change; retry it.', { cause: error });
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
      return new MeridianError('INVALID_INPUT', 'A value has an invalid format.', { cause: error });
    // Class 53: insufficient resources (disk full, out of memory, too many connections).
    case '53000':
    case '53100':
    case '53200':
    case '53300':
      return new MeridianError('UNAVAILABLE', 'The database is out of resources; retry shortly.', { cause: error });
    case '54001':
      return new MeridianError('INVALID_FILTER', 'The filter is too complex.', { cause: error });
    default:
      return error;
  }
}

/** The PostgreSQL error (its SQLSTATE and constraint) in `error` or its causes, when there is one. */
export function findPgError(error: unknown): { code: string; constraint?: string } | undefined {
  let current: unknown = error;
  for (let i = 0; i < 5 && current; i++) {
    const candidate = current as { code?: unknown; constraint?: unknown; sqlState?: unknown; cause?: unknown };
    const code =
      typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code)
        ? candidate.code
        : typeof candidate.sqlState === 'string'
          ? candidate.sqlState
          : undefined;
    if (code) {
      const found: { code: string; constraint?: string } = { code };
      if (typeof candidate.constraint === 'string') found.constraint = candidate.constraint;
      return found;
    }
    current = candidate.cause;
  }
  return undefined;
}

/** True when a hot standby refused a write (SQLSTATE 25006, read_only_sql_transaction): the read replica's guard (ADR 0031). */
export function isReadOnlyRefusal(error: unknown): boolean {
  return findPgError(error)?.code === '25006';
}

/** Node socket errors of a connection that is gone or was never made. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * True when `error` says the database could not be reached, not that a
 * statement was wrong: a refused or broken connection, a server shutting
 * down (SQLSTATE class 08, 57P01-57P03), or a pool that could not connect.
 */
export function isConnectionFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let i = 0; i < 5 && current; i++) {
    const candidate = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    const code = typeof candidate.code === 'string' ? candidate.code : '';
    if (SOCKET_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
    const message = typeof candidate.message === 'string' ? candidate.message : '';
    if (
      /Connection terminated|terminating connection due to administrator command|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
        message,
      )
    ) {
      return true;
    }
    // AggregateError of a refused connection to several addresses (localhost resolving to ::1 and 127.0.0.1).
    if (Array.isArray(candidate.errors) && candidate.errors.some((e) => isConnectionFailure(e))) return true;
    current = candidate.cause;
  }
  return false;
}
