import { type ErrorCode, MeridianError, SCHEMA } from '@meridian/core';

/** HTTP status and SCIM `scimType` for each domain error code (RFC 7644 §3.12). */
export const SCIM_ERROR_MAP: Record<ErrorCode, { status: number; scimType?: string }> = {
  INVALID_INPUT: { status: 400, scimType: 'invalidValue' },
  INVALID_SYNTAX: { status: 400, scimType: 'invalidSyntax' },
  INVALID_FILTER: { status: 400, scimType: 'invalidFilter' },
  INVALID_PATH: { status: 400, scimType: 'invalidPath' },
  NO_TARGET: { status: 400, scimType: 'noTarget' },
  // RFC 9865 §6: an unknown or malformed cursor.
  INVALID_CURSOR: { status: 400, scimType: 'invalidCursor' },
  INVALID_VERSION: { status: 400, scimType: 'invalidVers' },
  UNIQUENESS: { status: 409, scimType: 'uniqueness' },
  MUTABILITY: { status: 400, scimType: 'mutability' },
  NOT_FOUND: { status: 404 },
  CONFLICT: { status: 409 },
  PRECONDITION_FAILED: { status: 412 },
  UNAUTHENTICATED: { status: 401 },
  FORBIDDEN: { status: 403 },
  TOO_MANY: { status: 400, scimType: 'tooMany' },
  PAYLOAD_TOO_LARGE: { status: 413 },
  RATE_LIMITED: { status: 429 },
  INVALID_CONFIG: { status: 400, scimType: 'invalidValue' },
  UNAVAILABLE: { status: 503 },
};

/** A SCIM error response body (RFC 7644 §3.12): `status` is a string. */
export interface ScimErrorBody {
  schemas: [typeof SCHEMA.error];
  status: string;
  scimType?: string;
  detail: string;
}

/** Builds the wire body of an error. */
export function scimErrorBody(status: number, detail: string, scimType?: string): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [SCHEMA.error], status: String(status), detail };
  if (scimType !== undefined) body.scimType = scimType;
  return body;
}

/** Maps any thrown value to a status and body; unknown errors become a detail-free 500. */
export function toScimError(error: unknown): { status: number; body: ScimErrorBody } {
  if (error instanceof MeridianError) {
    const { status, scimType } = SCIM_ERROR_MAP[error.code];
    return { status, body: scimErrorBody(status, error.message, scimType) };
  }
  const fastify = error as { statusCode?: unknown; code?: unknown };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const status = fastify.statusCode;
    if (status === 413) return { status, body: scimErrorBody(status, 'The request body is too large.') };
    if (status === 415) return { status, body: scimErrorBody(status, 'Send application/scim+json or application/json.') };
    return { status: 400, body: scimErrorBody(400, 'The request body is not valid JSON.', 'invalidSyntax') };
  }
  return { status: 500, body: scimErrorBody(500, 'Internal server error.') };
}
