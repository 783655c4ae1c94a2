import { MeridianError } from '../errors/meridian-error.js';
import type { ResourceShape } from './resource-types.js';
import type { AttributeDefinition, SchemaDefinition } from './schema-types.js';

/** A JSON object as it arrives on the wire. */
export type JsonObject = { [key: string]: unknown };

/** A resource body, normalised against its schemas and ready to store. */
export interface ResourceInput {
  /** Canonical attribute values: core attributes at top level, extensions under their URN. */
  attributes: JsonObject;
  /** The extension schema URNs the resource carries. */
  extensionSchemas: string[];
  /** A write-only password from the request, to be hashed and never stored as given. */
  password: string | undefined;
  externalId: string | undefined;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function findAttribute(list: AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === lower);
}

/**
 * Coerces one scalar to the attribute's type. Real clients send booleans as
 * "True"/"False" strings (Entra ID), so those are accepted for booleans.
 */
function coerceScalar(def: AttributeDefinition, value: unknown, path: string): unknown {
  const fail = (): never => {
    throw new MeridianError('INVALID_INPUT', `Attribute '${path}' must be of type ${def.type}.`, { field: path });
  };
  switch (def.type) {
    case 'string':
    case 'reference':
    case 'binary':
      if (typeof value !== 'string') return fail();
      assertNoNul(value, path);
      return value;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return fail();
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? value : fail();
    case 'decimal':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail();
    case 'dateTime':
      return typeof value === 'string' && DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)) ? value : fail();
    case 'complex':
      return fail();
  }
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000: refused here as bad input
 * rather than failing in the database (issue 4, found by fuzzing).
 */
function assertNoNul(value: string, path: string): void {
  if (value.includes('\u0000')) {
    throw new MeridianError('INVALID_INPUT', `Attribute '${path}' must not contain the NUL character (U+0000).`, { field: path });
  }
}

function normalizeValue(def: AttributeDefinition, value: unknown, path: string): unknown {
  if (def.type === 'complex') {
    if (!isObject(value)) {
      throw new MeridianError('INVALID_INPUT', `Attribute '${path}' must be an object.`, { field: path });
    }
    return normalizeObject(def.subAttributes ?? [], value, path);
  }
  return coerceScalar(def, value, path);
}

function normalizeAttribute(def: AttributeDefinition, value: unknown, path: string): unknown {
  if (def.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    return list.filter((v) => v !== null).map((v, i) => normalizeValue(def, v, `${path}[${i}]`));
  }
  if (Array.isArray(value)) {
    throw new MeridianError('INVALID_INPUT', `Attribute '${path}' is single-valued.`, { field: path });
  }
  return normalizeValue(def, value, path);
}

/**
 * Normalises the attributes of one object against a list of definitions:
 * canonical names, typed values, readOnly attributes dropped (RFC 7643 §7:
 * readOnly values in a request are ignored), unknown attributes rejected.
 */
function normalizeObject(defs: AttributeDefinition[], input: JsonObject, prefix: string): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(input)) {
    const def = findAttribute(defs, key);
    const path = prefix ? `${prefix}.${key}` : key;
    if (!def) {
      throw new MeridianError('INVALID_INPUT', `Unknown attribute '${path}'.`, { field: path });
    }
    if (def.mutability === 'readOnly' || value === null) continue;
    const normalized = normalizeAttribute(def, value, path);
    if (Array.isArray(normalized) && normalized.length === 0) continue;
    out[def.name] = normalized;
  }
  return out;
}

/** Attributes every resource carries that are not part of its schema (RFC 7643 §3.1). */
const COMMON_ATTRIBUTES = new Set(['schemas', 'id', 'meta', 'externalid']);

/**
 * Validates a full resource body (POST / PUT) against the resource's schemas
 * and returns its canonical form.
 *
 * @example
 * const input = parseResourceInput(resourceShapes.User, { userName: 'ada' });
 */
export function parseResourceInput(shape: ResourceShape, body: unknown): ResourceInput {
  if (!isObject(body)) {
    throw new MeridianError('INVALID_SYNTAX', 'The request body must be a JSON object.');
  }
  if (body.schemas !== undefined && !(Array.isArray(body.schemas) && body.schemas.every((s) => typeof s === 'string'))) {
    throw new MeridianError('INVALID_SYNTAX', "'schemas' must be an array of URIs.", { field: 'schemas' });
  }
  const coreInput: JsonObject = {};
  const attributes: JsonObject = {};
  const extensionSchemas: string[] = [];
  let externalId: string | undefined;

  for (const [key, value] of Object.entries(body)) {
    const lower = key.toLowerCase();
    if (lower === 'externalid') {
      if (value !== null && typeof value !== 'string') {
        throw new MeridianError('INVALID_INPUT', "'externalId' must be a string.", { field: 'externalId' });
      }
      if (value !== null) assertNoNul(value, 'externalId');
      externalId = value ?? undefined;
      continue;
    }
    if (COMMON_ATTRIBUTES.has(lower)) continue;
    if (lower.startsWith('urn:')) {
      const extension = shape.extensions.find((s) => s.id.toLowerCase() === lower);
      // RFC 7644 §3.3: unknown extension schemas the server does not need are ignored.
      if (!extension || value === null) continue;
      if (!isObject(value)) {
        throw new MeridianError('INVALID_INPUT', `'${key}' must be an object.`, { field: key });
      }
      const normalized = normalizeObject(extension.attributes, value, extension.id);
      if (Object.keys(normalized).length > 0) {
        // An optional extension, once present, must carry its required attributes (RFC 7643 §7 `required`).
        assertRequired(extension, normalized, `${extension.id}:`);
        attributes[extension.id] = normalized;
        extensionSchemas.push(extension.id);
      }
      continue;
    }
    coreInput[key] = value;
  }

  const core = normalizeObject(shape.core.attributes, coreInput, '');
  let password: string | undefined;
  if (typeof core.password === 'string') {
    password = core.password;
    delete core.password;
  }
  Object.assign(attributes, core);
  assertRequired(shape.core, attributes);
  return { attributes, extensionSchemas, password, externalId };
}

function assertRequired(schema: SchemaDefinition, attributes: JsonObject, prefix = ''): void {
  for (const def of schema.attributes) {
    if (!def.required) continue;
    const value = attributes[def.name];
    if (value === undefined || value === '') {
      throw new MeridianError('INVALID_INPUT', `Attribute '${prefix}${def.name}' is required.`, { field: `${prefix}${def.name}` });
    }
  }
}
