import { MeridianError } from '../errors/meridian-error.js';
import type { AttributeDefinition } from '../scim/schema-types.js';
import type { AttributePath, CompareOperator, CompareValue, Filter } from './ast.js';

type JsonObject = { [key: string]: unknown };
type Kind = 'string' | 'binary' | 'boolean' | 'number' | 'dateTime';

/** What a path resolves to inside one value: its definition (when the schema has one) and its values. */
interface Resolved {
  def: AttributeDefinition | undefined;
  values: unknown[];
}

function invalid(message: string): MeridianError {
  return new MeridianError('INVALID_FILTER', message, { field: 'filter' });
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function findDef(defs: AttributeDefinition[] | undefined, name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === lower);
}

// RFC 7643 §2.1: attribute names are case-insensitive.
function lookup(value: unknown, name: string): unknown {
  if (!isObject(value)) return undefined;
  if (name in value) return value[name];
  const lower = name.toLowerCase();
  const key = Object.keys(value).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : value[key];
}

function flatten(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.filter((v) => v !== undefined && v !== null) : [value];
}

function resolve(value: unknown, path: AttributePath, defs: AttributeDefinition[]): Resolved {
  let def = findDef(defs, path.attribute);
  let values: unknown[];
  if (!isObject(value) && path.attribute.toLowerCase() === 'value') {
    // A simple multi-valued attribute: `value` names the element itself (RFC 7644 §3.5.2, "value" sub-attribute).
    values = flatten(value);
  } else {
    values = flatten(lookup(value, def?.name ?? path.attribute));
  }
  if (path.subAttribute !== undefined) {
    const name = path.subAttribute;
    def = findDef(def?.subAttributes, name);
    values = values.flatMap((v) => flatten(lookup(v, def?.name ?? name)));
  }
  return { def, values };
}

/** RFC 7644 §3.4.2.2 `pr`: a non-empty value, or a complex value with a non-empty sub-attribute. */
function isPresent(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (Array.isArray(value)) return value.some(isPresent);
  if (isObject(value)) return Object.values(value).some(isPresent);
  return true;
}

function kindOf(def: AttributeDefinition | undefined, literal: CompareValue): Kind {
  if (def === undefined) {
    // No definition to go by: compare the way the literal is written.
    if (typeof literal === 'boolean') return 'boolean';
    if (typeof literal === 'number') return 'number';
    return 'string';
  }
  switch (def.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'decimal':
      return 'number';
    case 'dateTime':
      return 'dateTime';
    case 'binary':
      return 'binary';
    default:
      return 'string';
  }
}

function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  // Entra ID sends booleans as "True"/"False".
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return undefined;
}

function order(op: CompareOperator, diff: number): boolean {
  switch (op) {
    case 'eq':
      return diff === 0;
    case 'ne':
      return diff !== 0;
    case 'gt':
      return diff > 0;
    case 'ge':
      return diff >= 0;
    case 'lt':
      return diff < 0;
    case 'le':
      return diff <= 0;
    default:
      return false;
  }
}

/** A comparison whose operator and literal type check against the attribute; `test` compares one present value. */
function comparison(def: AttributeDefinition | undefined, op: CompareOperator, literal: CompareValue): (actual: unknown) => boolean {
  if (literal === null) {
    if (op === 'eq') return (actual) => !isPresent(actual);
    if (op === 'ne') return (actual) => isPresent(actual);
    throw invalid(`'${op}' cannot compare with null.`);
  }
  const kind = kindOf(def, literal);
  switch (kind) {
    case 'boolean': {
      const expected = asBoolean(literal);
      if (expected === undefined) throw invalid('A boolean attribute compares with true or false.');
      // RFC 7644 §3.4.2.2: ordering and substring operators on booleans are invalidFilter.
      if (op !== 'eq' && op !== 'ne') throw invalid(`'${op}' is not defined for booleans.`);
      return (actual) => (asBoolean(actual) === expected) === (op === 'eq');
    }
    case 'number': {
      if (typeof literal !== 'number') throw invalid('A number attribute compares with a number.');
      if (op === 'co' || op === 'sw' || op === 'ew') throw invalid(`'${op}' is not defined for numbers.`);
      return (actual) => (typeof actual === 'number' ? order(op, actual - literal) : op === 'ne');
    }
    case 'dateTime': {
      const expected = typeof literal === 'string' ? Date.parse(literal) : Number.NaN;
      if (Number.isNaN(expected)) throw invalid('A dateTime attribute compares with an ISO 8601 date string.');
      if (op === 'co' || op === 'sw' || op === 'ew') throw invalid(`'${op}' is not defined for dates.`);
      return (actual) => {
        const time = typeof actual === 'string' ? Date.parse(actual) : Number.NaN;
        return Number.isNaN(time) ? op === 'ne' : order(op, time - expected);
      };
    }
    default: {
      if (typeof literal !== 'string') throw invalid('A string attribute compares with a string.');
      // RFC 7644 §3.4.2.2: gt, ge, lt, le on binary attributes are invalidFilter.
      if (kind === 'binary' && op !== 'eq' && op !== 'ne' && op !== 'co' && op !== 'sw' && op !== 'ew') {
        throw invalid(`'${op}' is not defined for binary attributes.`);
      }
      const caseExact = kind === 'binary' || def?.caseExact === true;
      const fold = (s: string): string => (caseExact ? s : s.toLowerCase());
      const expected = fold(literal);
      return (actual) => {
        if (typeof actual !== 'string') return op === 'ne';
        const text = fold(actual);
        switch (op) {
          case 'co':
            return text.includes(expected);
          case 'sw':
            return text.startsWith(expected);
          case 'ew':
            return text.endsWith(expected);
          default:
            return order(op, text < expected ? -1 : text > expected ? 1 : 0);
        }
      };
    }
  }
}

function evaluate(value: unknown, filter: Filter, defs: AttributeDefinition[]): boolean {
  switch (filter.op) {
    case 'and':
      return evaluate(value, filter.left, defs) && evaluate(value, filter.right, defs);
    case 'or':
      return evaluate(value, filter.left, defs) || evaluate(value, filter.right, defs);
    case 'not':
      return !evaluate(value, filter.filter, defs);
    case 'valuePath': {
      const { def, values } = resolve(value, filter.path, defs);
      return values.some((v) => evaluate(v, filter.filter, def?.subAttributes ?? []));
    }
    case 'pr':
      return resolve(value, filter.path, defs).values.some(isPresent);
    default: {
      let { def, values } = resolve(value, filter.path, defs);
      // A complex attribute compared without a sub-attribute compares its `value` (RFC 7643 §2.4).
      if (def?.type === 'complex' && filter.path.subAttribute === undefined) {
        const inner = findDef(def.subAttributes, 'value');
        values = values.flatMap((v) => flatten(lookup(v, 'value')));
        def = inner;
      }
      const test = comparison(def, filter.op, filter.value);
      // RFC 7644 §3.4.2.2: a multi-valued attribute matches when any of its values does; an unassigned one is tested once.
      return values.length === 0 ? test(undefined) : values.some(test);
    }
  }
}

/**
 * Tests one value of a multi-valued attribute against a value filter, as in
 * `emails[type eq "work"]` (RFC 7644 §3.4.2.2). `subAttributes` are the
 * definitions of the value's sub-attributes: they give each comparison its
 * type (booleans, numbers, dateTimes compared as instants) and `caseExact`.
 * Throws `INVALID_FILTER` when an operator or literal does not fit the type.
 *
 * @example
 * matchesFilter({ value: 'a@example.com', type: 'work' }, parseScimFilter('type eq "Work"'), emailSubAttributes) // true
 */
export function matchesFilter(value: unknown, filter: Filter, subAttributes: AttributeDefinition[]): boolean {
  return evaluate(value, filter, subAttributes);
}

/** Attributes every resource has (RFC 7643 §3.1), for filters on a whole resource. */
const COMMON_ATTRIBUTES: AttributeDefinition[] = [
  common('id', 'string', true),
  common('externalId', 'string', true),
  {
    ...common('meta', 'complex', false),
    subAttributes: [
      common('resourceType', 'string', true),
      common('created', 'dateTime', false),
      common('lastModified', 'dateTime', false),
      common('version', 'string', true),
      common('location', 'string', true),
    ],
  },
];

function common(name: string, type: AttributeDefinition['type'], caseExact: boolean): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description: '',
    required: false,
    caseExact,
    mutability: 'readOnly',
    returned: 'default',
    uniqueness: 'none',
  };
}

/** The schemas a resource filter resolves paths against: the core schema and its extensions. */
export interface FilterShape {
  core: { id: string; attributes: AttributeDefinition[] };
  extensions: { id: string; attributes: AttributeDefinition[] }[];
}

/** Where a path of a resource filter points: the object holding it, its definitions, and the path without its schema. */
function locate(
  resource: JsonObject,
  path: AttributePath,
  shape: FilterShape,
): { container: unknown; defs: AttributeDefinition[]; path: AttributePath } {
  const bare: AttributePath = {
    attribute: path.attribute,
    ...(path.subAttribute !== undefined ? { subAttribute: path.subAttribute } : {}),
  };
  const coreDefs = [...COMMON_ATTRIBUTES, ...shape.core.attributes];
  if (path.schema !== undefined) {
    const urn = path.schema.toLowerCase();
    if (urn === shape.core.id.toLowerCase()) return { container: resource, defs: coreDefs, path: bare };
    const extension = shape.extensions.find((e) => e.id.toLowerCase() === urn);
    return { container: extension ? lookup(resource, extension.id) : undefined, defs: extension?.attributes ?? [], path: bare };
  }
  if (findDef(coreDefs, path.attribute)) return { container: resource, defs: coreDefs, path: bare };
  // An unqualified extension attribute (Entra ID's 'manager eq'), as the SQL translation reads it.
  const extension = shape.extensions.find((e) => findDef(e.attributes, path.attribute));
  if (extension) return { container: lookup(resource, extension.id), defs: extension.attributes, path: bare };
  return { container: resource, defs: coreDefs, path: bare };
}

function evaluateResource(resource: JsonObject, filter: Filter, shape: FilterShape): boolean {
  switch (filter.op) {
    case 'and':
      return evaluateResource(resource, filter.left, shape) && evaluateResource(resource, filter.right, shape);
    case 'or':
      return evaluateResource(resource, filter.left, shape) || evaluateResource(resource, filter.right, shape);
    case 'not':
      return !evaluateResource(resource, filter.filter, shape);
    default: {
      const { container, defs, path } = locate(resource, filter.path, shape);
      return evaluate(container, { ...filter, path }, defs);
    }
  }
}

/**
 * Tests a whole resource against a SCIM filter in memory (RFC 7644 §3.4.2.2),
 * with the same semantics as a list query: schema-qualified and unqualified
 * extension paths, `id`, `externalId` and `meta` sub-attributes. `resource`
 * is the SCIM document (core attributes at top level, extensions under their
 * URN, `groups`/`members` when the caller loaded them). Throws
 * `INVALID_FILTER` when an operator or literal does not fit the type.
 *
 * @example
 * matchesResource({ userName: 'ann', active: true }, parseScimFilter('active eq true'), resourceShapes.User) // true
 */
export function matchesResource(resource: JsonObject, filter: Filter, shape: FilterShape): boolean {
  return evaluateResource(resource, filter, shape);
}
