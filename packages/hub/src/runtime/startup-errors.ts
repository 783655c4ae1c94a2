import { DatabaseConnectError, EmbeddedDatabaseError } from '@meridian/store';

/** A start-up failure of the hub itself, already phrased with its cause and the setting to change. */
export class StartupError extends Error {
  override name = 'StartupError';
}

const EMBEDDED_ADVICE: Record<EmbeddedDatabaseError['reason'], string> = {
  PORT_IN_USE: 'Unset MERIDIAN_EMBEDDED_PG_PORT to let the hub pick a free port, or set it to another one.',
  DATA_DIR_NOT_WRITABLE: 'Set MERIDIAN_DATA_DIR to a directory this user can write.',
  DISK_FULL: 'Free some space, or set MERIDIAN_DATA_DIR to a directory on another disk.',
  NO_BINARIES: 'Set DATABASE_URL to a PostgreSQL server instead.',
  SERVICE_USER: 'Run the hub as an ordinary user, or set DATABASE_URL to a PostgreSQL server.',
  BUSY: '',
  START_FAILED: 'Set DATABASE_URL to use another PostgreSQL server instead.',
};

const DATABASE_ADVICE: Record<DatabaseConnectError['problem'], string> = {
  MISSING: 'Check the database name in DATABASE_URL, or create it with `pnpm meridian migrate --create-database`.',
  CREDENTIALS: 'Check the user and password in DATABASE_URL.',
  UNREACHABLE: 'Check the host and port in DATABASE_URL, and that the server is running.',
  STARTING: 'Retry in a moment, or check the server at DATABASE_URL.',
};

const FILE_CODES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
};

/**
 * One sentence for an error that stopped the hub or a CLI command: what went
 * wrong and which setting to change. Never "undefined", never a stack trace.
 */
export function describeStartupError(error: unknown): string {
  if (error instanceof EmbeddedDatabaseError) {
    return [`The embedded PostgreSQL cannot start: ${error.message}`, EMBEDDED_ADVICE[error.reason]].filter(Boolean).join(' ');
  }
  if (error instanceof DatabaseConnectError) return `${error.message} ${DATABASE_ADVICE[error.problem]}`;
  const errno = error as (NodeJS.ErrnoException & { port?: number; address?: string }) | undefined;
  if (errno?.code === 'EADDRINUSE') {
    return `Port ${errno.port ?? ''} on ${errno.address ?? 'this host'} is in use by another program. Set PORT to a free port.`;
  }
  if (errno && typeof errno.code === 'string' && FILE_CODES[errno.code] && typeof errno.path === 'string') {
    return `Cannot write ${errno.path}: ${FILE_CODES[errno.code]}. Set MERIDIAN_DATA_DIR to a writable directory with free space.`;
  }
  if (error instanceof Error) {
    if (error.message) return error.message;
    return `${error.name} (no message)`;
  }
  if (error === undefined || error === null || error === '') return 'The start failed without saying why.';
  return String(error);
}
