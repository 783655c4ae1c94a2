/**
 * The closed set of domain error codes. Adapters map each code to their wire
 * format (SCIM status + scimType, GraphQL `extensions.code`, HTTP status).
 */
export type ErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_SYNTAX'
  | 'INVALID_FILTER'
  | 'INVALID_PATH'
  | 'NO_TARGET'
  | 'INVALID_CURSOR'
  | 'INVALID_VERSION'
  | 'UNIQUENESS'
  | 'MUTABILITY'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'TOO_MANY'
  | 'PAYLOAD_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INVALID_CONFIG'
  | 'UNAVAILABLE';

/** Every error code, for adapters that must prove they map all of them. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'INVALID_INPUT',
  'INVALID_SYNTAX',
  'INVALID_FILTER',
  'INVALID_PATH',
  'NO_TARGET',
  'INVALID_CURSOR',
  'INVALID_VERSION',
  'UNIQUENESS',
  'MUTABILITY',
  'NOT_FOUND',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'TOO_MANY',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'INVALID_CONFIG',
  'UNAVAILABLE',
];

/** Options of a {@link MeridianError}. */
export interface MeridianErrorOptions {
  /** The input field the error is about (a SCIM attribute path or an argument name). */
  field?: string;
  /** The underlying error, for logs only: adapters never put it in a response. */
  cause?: unknown;
}

/**
 * The one error class of the domain. Callers switch on `code`; `message` is
 * safe to show to the client that sent the input.
 */
export class MeridianError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: MeridianErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeridianError';
    this.code = code;
    this.field = options.field;
  }
}

/** True when `error` is a {@link MeridianError}, optionally with the given code. */
export function isMeridianError(error: unknown, code?: ErrorCode): error is MeridianError {
  return error instanceof MeridianError && (code === undefined || error.code === code);
}
