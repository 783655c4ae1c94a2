import { MeridianError } from '../errors/meridian-error.js';
import type { JsonObject } from './resource-input.js';
import { type ResourceKind, type ResourceShape, resourceShapes } from './resource-types.js';
import type { AttributeDefinition, AttributeType, Mutability, Returned, SchemaDefinition, Uniqueness } from './schema-types.js';
import { schemas as builtInSchemas } from './schemas.js';

/** A schema extension a tenant admin declared for one resource type (RFC 7643 §3.3). */
export interface SchemaExtension extends SchemaDefinition {
  resourceType: ResourceKind;
}

const TYPES: readonly AttributeType[] = ['string', 'boolean', 'decimal', 'integer', 'dateTime', 'binary', 'reference', 'complex'];
const MUTABILITIES: readonly Mutability[] = ['readOnly', 'readWrite', 'immutable', 'writeOnly'];
const RETURNED: readonly Returned[] = ['always', 'never', 'default', 'request'];
const UNIQUENESS: readonly Uniqueness[] = ['none', 'server'];
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
// RFC 7643 §10.3: extension URNs; ours must not pose as the IETF core schemas.
const URN = /^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+$/;
const MAX_ATTRIBUTES = 100;

function invalid(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_INPUT', message, { field });
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(input: JsonObject, key: string, field: string): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > 1000) throw invalid(`'${field}' must be a string of at most 1000 characters.`, field);
  return value;
}

function oneOf<T extends string>(input: JsonObject, key: string, allowed: readonly T[], fallback: T, field: string): T {
  const value = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(`'${field}' must be one of ${allowed.join(', ')}.`, field);
  }
  return value as T;
}

function flag(input: JsonObject, key: string, field: string): boolean {
  const value = input[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid(`'${field}' must be true or false.`, field);
  return value;
}

function parseAttribute(input: unknown, field: string, nested: boolean): AttributeDefinition {
  if (!isObject(input)) throw invalid(`'${field}' must be an object.`, field);
  const name = input.name;
  if (typeof name !== 'string' || !ATTRIBUTE_NAME.test(name)) {
    throw invalid(`'${field}.name' must start with a letter and hold letters, digits, '_' or '-'.`, `${field}.name`);
  }
  const type = oneOf(input, 'type', TYPES, 'string', `${field}.type`);
  const definition: AttributeDefinition = {
    name,
    type,
    multiValued: flag(input, 'multiValued', `${field}.multiValued`),
    description: optionalString(input, 'description', `${field}.description`) ?? '',
    required: flag(input, 'required', `${field}.required`),
    caseExact: flag(input, 'caseExact', `${field}.caseExact`),
    mutability: oneOf(input, 'mutability', MUTABILITIES, 'readWrite', `${field}.mutability`),
    returned: oneOf(input, 'returned', RETURNED, 'default', `${field}.returned`),
    uniqueness: oneOf(input, 'uniqueness', UNIQUENESS, 'none', `${field}.uniqueness`),
  };
  if (input.canonicalValues !== undefined) {
    const values = input.canonicalValues;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
      throw invalid(`'${field}.canonicalValues' must be a list of strings.`, `${field}.canonicalValues`);
    }
    definition.canonicalValues = values;
  }
  if (type === 'reference') {
    const types = input.referenceTypes ?? ['external'];
    if (!Array.isArray(types) || !types.every((v) => typeof v === 'string')) {
      throw invalid(`'${field}.referenceTypes' must be a list of strings.`, `${field}.referenceTypes`);
    }
    definition.referenceTypes = types;
  }
  // RFC 7643 §7: a writeOnly attribute is never returned; publish it that way.
  if (definition.mutability === 'writeOnly') definition.returned = 'never';
  if (definition.uniqueness === 'server' && (type === 'complex' || definition.multiValued)) {
    throw invalid(`'${field}': only single-valued simple attributes can be unique.`, `${field}.uniqueness`);
  }
  if (definition.required && definition.mutability === 'readOnly') {
    throw invalid(`'${field}': a readOnly attribute cannot be required, clients could never set it.`, `${field}.required`);
  }
  if (type === 'complex') {
    // RFC 7643 §2.3.8: a complex attribute has no complex sub-attributes.
    if (nested) throw invalid(`'${field}': sub-attributes cannot be complex.`, `${field}.type`);
    definition.subAttributes = parseAttributeList(input.subAttributes, `${field}.subAttributes`, true);
  } else if (input.subAttributes !== undefined) {
    throw invalid(`'${field}': only complex attributes have sub-attributes.`, `${field}.subAttributes`);
  }
  return definition;
}

function parseAttributeList(input: unknown, field: string, nested: boolean): AttributeDefinition[] {
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_ATTRIBUTES) {
    throw invalid(`'${field}' must be a list of 1 to ${MAX_ATTRIBUTES} attribute definitions.`, field);
  }
  const list = input.map((a, i) => parseAttribute(a, `${field}[${i}]`, nested));
  const seen = new Set<string>();
  for (const def of list) {
    const key = def.name.toLowerCase();
    if (seen.has(key)) throw invalid(`'${field}' defines '${def.name}' twice (names are case-insensitive).`, field);
    seen.add(key);
  }
  return list;
}

/**
 * Validates a schema extension definition a tenant admin submits: a URN
 * that is not one of the built-in schemas, the resource type it extends,
 * and attribute definitions in the RFC 7643 §7 vocabulary.
 *
 * @example
 * parseSchemaExtension({
 *   id: 'urn:example:params:scim:schemas:extension:acme:2.0:User',
 *   name: 'AcmeUser',
 *   resourceType: 'User',
 *   attributes: [{ name: 'badgeNumber', type: 'string', uniqueness: 'server' }],
 * });
 */
export function parseSchemaExtension(input: unknown): SchemaExtension {
  if (!isObject(input)) throw invalid('A schema extension must be a JSON object.', 'schema');
  const id = input.id;
  if (typeof id !== 'string' || id.length > 300 || !URN.test(id)) {
    throw invalid("'id' must be a URN, e.g. urn:example:params:scim:schemas:extension:acme:2.0:User.", 'id');
  }
  const lower = id.toLowerCase();
  if (lower.startsWith('urn:ietf:params:scim:') || builtInSchemas.some((s) => s.id.toLowerCase() === lower)) {
    throw invalid(`'${id}' is reserved for the IETF schemas.`, 'id');
  }
  const name = input.name;
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name)) {
    throw invalid("'name' must start with a letter and hold letters, digits, '_' or '-'.", 'name');
  }
  const resourceType = input.resourceType;
  if (resourceType !== 'User' && resourceType !== 'Group') throw invalid("'resourceType' must be User or Group.", 'resourceType');
  return {
    id,
    name,
    description: optionalString(input, 'description', 'description') ?? '',
    resourceType,
    attributes: parseAttributeList(input.attributes, 'attributes', false),
  };
}

/** The shape of a resource kind in a tenant: the built-in shape plus the tenant's extensions for that kind. */
export function shapeWithExtensions(kind: ResourceKind, extensions: readonly SchemaExtension[]): ResourceShape {
  const base = resourceShapes[kind];
  const own = extensions.filter((e) => e.resourceType === kind);
  if (own.length === 0) return base;
  return { kind, core: base.core, extensions: [...base.extensions, ...own.map(toSchemaDefinition)] };
}

/** The published form of an extension (`/Schemas`): the schema without the resource type it extends. */
export function toSchemaDefinition(extension: SchemaExtension): SchemaDefinition {
  return { id: extension.id, name: extension.name, description: extension.description, attributes: extension.attributes };
}
