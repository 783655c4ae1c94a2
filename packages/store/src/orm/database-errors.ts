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
    case '54001':
      return new MeridianError('INVALID_FILTER', 'The filter is too complex.', { cause: error });
    default:
      return error;
  }
}

function findPgError(error: unknown): { code: string; constraint?: string } | undefined {
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
