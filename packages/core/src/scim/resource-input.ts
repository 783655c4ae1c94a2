import { MeridianError } from '../errors/meridian-error.js';
import { assertText, maxLengthOf, maxValuesOf } from './input-limits.js';
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

/** Where a value sits: `field` names it in errors (`emails[0].value`), `schema` and `attribute` find its limits (`emails.value`). */
interface Where {
  field: string;
  schema: string;
  attribute: string;
}

/**
 * Coerces one scalar to the attribute's type. Real clients send booleans as
 * "True"/"False" strings (Entra ID), so those are accepted for booleans.
 * Strings follow the one text rule and the attribute's length limit
 * (input-limits.ts).
 */
function coerceScalar(def: AttributeDefinition, value: unknown, where: Where): unknown {
  const path = where.field;
  const fail = (): never => {
    throw new MeridianError('INVALID_INPUT', `Attribute '${path}' must be of type ${def.type}.`, { field: path });
  };
  switch (def.type) {
    case 'string':
    case 'reference':
    case 'binary':
      if (typeof value !== 'string') return fail();
      assertText(value, path, maxLengthOf(where.schema, where.attribute, def.type));
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

function normalizeValue(def: AttributeDefinition, value: unknown, where: Where): unknown {
  if (def.type === 'complex') {
    if (!isObject(value)) {
      throw new MeridianError('INVALID_INPUT', `Attribute '${where.field}' must be an object.`, { field: where.field });
    }
    return normalizeObject(def.subAttributes ?? [], value, where);
  }
  return coerceScalar(def, value, where);
}

function normalizeAttribute(def: AttributeDefinition, value: unknown, where: Where): unknown {
  const path = where.field;
  if (def.multiValued) {
    const list = (Array.isArray(value) ? value : [value]).filter((v) => v !== null);
    const most = maxValuesOf(where.schema, where.attribute);
    if (list.length > most) {
      throw new MeridianError('INVALID_INPUT', `Attribute '${path}' has ${list.length} values; at most ${most} are accepted.`, {
        field: path,
      });
    }
    return list.map((v, i) => normalizeValue(def, v, { ...where, field: `${path}[${i}]` }));
  }
  if (Array.isArray(value)) {
    throw new MeridianError('INVALID_INPUT', `Attribute '${path}' is single-valued.`, { field: path });
  }
  return normalizeValue(def, value, where);
}

/**
 * Normalises the attributes of one object against a list of definitions:
 * canonical names, typed values, readOnly attributes dropped (RFC 7643 §7:
 * readOnly values in a request are ignored), unknown attributes rejected.
 */
function normalizeObject(defs: AttributeDefinition[], input: JsonObject, where: Where, separator = '.'): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(input)) {
    const def = findAttribute(defs, key);
    const path = where.field ? `${where.field}${separator}${key}` : key;
    if (!def) {
      throw new MeridianError('INVALID_INPUT', `Unknown attribute '${path}'.`, { field: path });
    }
    if (def.mutability === 'readOnly' || value === null) continue;
    const attribute = where.attribute ? `${where.attribute}.${def.name}` : def.name;
    const normalized = normalizeAttribute(def, value, { field: path, schema: where.schema, attribute });
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
      if (value !== null) assertText(value, 'externalId', maxLengthOf(undefined, 'externalId'));
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
      // Fields of an extension are named as SCIM paths name them: `<urn>:<attribute>`.
      const normalized = normalizeObject(extension.attributes, value, { field: extension.id, schema: extension.id, attribute: '' }, ':');
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

  const core = normalizeObject(shape.core.attributes, coreInput, { field: '', schema: shape.core.id, attribute: '' });
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
