/** Why the embedded database could not start; the hub names the setting to change for each. */
export type EmbeddedErrorReason =
  | 'PORT_IN_USE'
  | 'DATA_DIR_NOT_WRITABLE'
  | 'DISK_FULL'
  | 'NO_BINARIES'
  | 'SERVICE_USER'
  | 'BUSY'
  | 'START_FAILED';

/** A start-up failure of the embedded database, with its cause in one sentence. */
export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
  constructor(
    readonly reason: EmbeddedErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Turns a file-system failure on the data directory into an error that says what to change. */
export function dataDirError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new EmbeddedDatabaseError('DISK_FULL', `The disk holding ${path} is full.`, { cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
    return new EmbeddedDatabaseError('DATA_DIR_NOT_WRITABLE', `${path} cannot be written (${code}).`, { cause: error });
  }
  return error;
}
