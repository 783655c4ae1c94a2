import { MeridianError } from '../errors/meridian-error.js';
import type { AttributePath, Filter } from '../filter/ast.js';
import { parseAttributePath, parseScimFilter } from '../filter/parse.js';
import { SCHEMA } from '../scim/schemas.js';

/** A PATCH operation name (RFC 7644 §3.5.2). */
export type PatchOp = 'add' | 'remove' | 'replace';

/** `attr`, `attr.sub`, `urn:...:attr`, `attr[filter]`, `attr[filter].sub` (RFC 7644 §3.5.2 PATH). */
export interface PatchPath {
  /** The schema URN when the path is qualified, e.g. the enterprise extension. */
  schema?: string;
  attribute: string;
  subAttribute?: string;
  /** The value filter of `attr[filter]`, over the sub-attributes of one value. */
  filter?: Filter;
}

/** One operation of a PatchOp request, with its path parsed. */
export interface PatchOperation {
  op: PatchOp;
  path?: PatchPath;
  value?: unknown;
}

type JsonObject = { [key: string]: unknown };

const OPS: Record<string, PatchOp> = { add: 'add', remove: 'remove', replace: 'replace' };
const SUB_ATTRIBUTE = /^\.[A-Za-z$][A-Za-z0-9_$-]*$/;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidPath(message: string, cause?: unknown): MeridianError {
  return new MeridianError('INVALID_PATH', message, { field: 'path', cause });
}

function attributePart(text: string, whole: string): AttributePath {
  try {
    return parseAttributePath(text);
  } catch (error) {
    throw invalidPath(`Invalid path '${whole}'.`, error);
  }
}

/**
 * Parses the `path` of a PATCH operation (RFC 7644 §3.5.2). A malformed
 * attribute part throws `INVALID_PATH`; a malformed value filter throws
 * `INVALID_FILTER` (RFC 7644 §3.12 lists invalidFilter for PATCH path filters).
 *
 * @example
 * parsePatchPath('emails[type eq "work"].value')
 * // { attribute: 'emails', filter: { op: 'eq', path: { attribute: 'type' }, value: 'work' }, subAttribute: 'value' }
 */
export function parsePatchPath(text: string): PatchPath {
  const open = text.indexOf('[');
  if (open < 0) {
    const { schema, attribute, subAttribute } = attributePart(text, text);
    const path: PatchPath = { attribute };
    if (schema !== undefined) path.schema = schema;
    if (subAttribute !== undefined) path.subAttribute = subAttribute;
    return path;
  }
  const close = text.lastIndexOf(']');
  const tail = text.slice(close + 1);
  if (close < open || (tail !== '' && !SUB_ATTRIBUTE.test(tail))) throw invalidPath(`Invalid path '${text}'.`);
  const head = attributePart(text.slice(0, open), text);
  if (head.subAttribute !== undefined) throw invalidPath(`A value filter applies to an attribute, not a sub-attribute: '${text}'.`);
  let parsed: Filter;
  try {
    parsed = parseScimFilter(text.slice(0, close + 1));
  } catch (error) {
    const message = error instanceof MeridianError ? error.message : 'Invalid value filter.';
    throw new MeridianError('INVALID_FILTER', `Invalid value filter in path '${text}': ${message}`, { field: 'path', cause: error });
  }
  if (parsed.op !== 'valuePath') throw invalidPath(`Invalid path '${text}'.`);
  const path: PatchPath = { attribute: head.attribute, filter: parsed.filter };
  if (head.schema !== undefined) path.schema = head.schema;
  if (tail !== '') path.subAttribute = tail.slice(1);
  return path;
}

/** Reads a key of the PatchOp message case-insensitively (RFC 7643 §2.1: attribute names are case-insensitive). */
function member(body: JsonObject, name: string): unknown {
  const lower = name.toLowerCase();
  const key = Object.keys(body).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : body[key];
}

function parseOperation(raw: unknown, index: number): PatchOperation {
  const field = `Operations[${index}]`;
  if (!isObject(raw)) throw new MeridianError('INVALID_SYNTAX', `${field} must be an object.`, { field });
  const name = member(raw, 'op');
  const op = typeof name === 'string' ? OPS[name.toLowerCase()] : undefined;
  if (op === undefined) {
    throw new MeridianError('INVALID_SYNTAX', `${field}.op must be "add", "remove" or "replace".`, { field: `${field}.op` });
  }
  const operation: PatchOperation = { op };
  const pathText = member(raw, 'path');
  if (pathText !== undefined && pathText !== null) {
    if (typeof pathText !== 'string') throw invalidPath(`${field}.path must be a string.`);
    operation.path = parsePatchPath(pathText);
  }
  const value = member(raw, 'value');
  if (value !== undefined) operation.value = value;
  // RFC 7644 §3.5.2.2: "remove" without a path fails with scimType noTarget.
  if (op === 'remove' && operation.path === undefined) {
    throw new MeridianError('NO_TARGET', `${field}: "remove" needs a path.`, { field: `${field}.path` });
  }
  // RFC 7644 §3.5.2.1 and §3.5.2.3: "add" and "replace" MUST carry a value.
  if (op !== 'remove' && value === undefined) {
    throw new MeridianError('INVALID_SYNTAX', `${field}: "${op}" needs a value.`, { field: `${field}.value` });
  }
  return operation;
}

/**
 * Validates a PatchOp request body (RFC 7644 §3.5.2) and returns its
 * operations in order. Op names are case-insensitive (Entra ID sends `Replace`).
 *
 * @example
 * parsePatchRequest({ schemas: [SCHEMA.patchOp], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw new MeridianError('INVALID_SYNTAX', 'The request body must be a JSON object.');
  const schemas = member(body, 'schemas');
  const patchOp = SCHEMA.patchOp.toLowerCase();
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === patchOp)) {
    throw new MeridianError('INVALID_SYNTAX', `'schemas' must contain '${SCHEMA.patchOp}'.`, { field: 'schemas' });
  }
  const operations = member(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) {
    throw new MeridianError('INVALID_SYNTAX', "'Operations' must be a non-empty array.", { field: 'Operations' });
  }
  return operations.map(parseOperation);
}
