import { MeridianError } from '../errors/meridian-error.js';
import type { AttributePath } from '../filter/ast.js';
import { parseAttributePath } from '../filter/parse.js';
import type { JsonObject } from './resource-input.js';
import type { ResourceShape } from './resource-types.js';
import type { AttributeDefinition, SchemaDefinition } from './schema-types.js';

/** The `attributes` / `excludedAttributes` of a request (RFC 7644 §3.4.2.5); at most one is set. */
export interface AttributeSelection {
  attributes?: AttributePath[];
  excludedAttributes?: AttributePath[];
}

/** Attributes of every resource that are always returned (RFC 7643 §3.1, §7). */
const ALWAYS = new Set(['schemas', 'id', 'meta']);

function parseList(text: string | undefined, field: string): AttributePath[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return text.split(',').map((item) => {
    try {
      return parseAttributePath(item.trim());
    } catch {
      throw new MeridianError('INVALID_INPUT', `'${item.trim()}' in '${field}' is not an attribute path.`, { field });
    }
  });
}

/**
 * Parses the comma-separated `attributes` and `excludedAttributes`
 * parameters; giving both is a client error.
 */
export function parseAttributeSelection(attributes: string | undefined, excludedAttributes: string | undefined): AttributeSelection {
  const included = parseList(attributes, 'attributes');
  const excluded = parseList(excludedAttributes, 'excludedAttributes');
  if (included && excluded) {
    throw new MeridianError('INVALID_INPUT', "Send either 'attributes' or 'excludedAttributes', not both.", { field: 'attributes' });
  }
  const selection: AttributeSelection = {};
  if (included) selection.attributes = included;
  if (excluded) selection.excludedAttributes = excluded;
  return selection;
}

interface Located {
  schema: SchemaDefinition;
  /** The extension URN the values live under, or undefined for core attributes. */
  container: string | undefined;
  whole?: boolean;
}

/** Where a path points: a core attribute, an extension attribute, or (attribute '') a whole extension. */
function locate(shape: ResourceShape, path: AttributePath): Located | undefined {
  if (path.schema === undefined || path.schema.toLowerCase() === shape.core.id.toLowerCase()) {
    return { schema: shape.core, container: undefined };
  }
  const ext = shape.extensions.find((s) => s.id.toLowerCase() === path.schema?.toLowerCase());
  if (ext) return { schema: ext, container: ext.id };
  // `urn:...:enterprise:2.0:User` parses as schema `urn:...:2.0` and attribute `User`: the whole extension.
  const whole = `${path.schema}:${path.attribute}`.toLowerCase();
  const named = path.subAttribute === undefined ? shape.extensions.find((s) => s.id.toLowerCase() === whole) : undefined;
  return named ? { schema: named, container: named.id, whole: true } : undefined;
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Paths in `list` that name `def` in `container`; `whole` when one names it (or its whole extension) without a sub-attribute. */
function mentions(
  shape: ResourceShape,
  list: AttributePath[] | undefined,
  container: string | undefined,
  def: AttributeDefinition,
): { whole: boolean; subs: string[] } {
  const result = { whole: false, subs: [] as string[] };
  for (const path of list ?? []) {
    const located = locate(shape, path);
    if (!located || located.container !== container) continue;
    if (located.whole) {
      result.whole = true;
      continue;
    }
    if (!sameName(path.attribute, def.name)) continue;
    if (path.subAttribute === undefined) result.whole = true;
    else result.subs.push(path.subAttribute.toLowerCase());
  }
  return result;
}

function keepSubAttributes(value: unknown, def: AttributeDefinition, keep: (sub: AttributeDefinition) => boolean): unknown {
  const project = (item: unknown): unknown => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    const out: JsonObject = {};
    for (const [key, inner] of Object.entries(item)) {
      const sub = def.subAttributes?.find((s) => sameName(s.name, key));
      if (!sub || keep(sub)) out[key] = inner;
    }
    return out;
  };
  return Array.isArray(value) ? value.map(project) : project(value);
}

/** RFC 7643 §7: `returned: never` and `writeOnly` values "SHALL NOT be returned", whatever the request asks for. */
function isHidden(def: AttributeDefinition): boolean {
  return def.returned === 'never' || def.mutability === 'writeOnly';
}

function projectAttribute(
  shape: ResourceShape,
  selection: AttributeSelection,
  container: string | undefined,
  def: AttributeDefinition,
  value: unknown,
): unknown {
  if (isHidden(def)) return undefined;
  const visible = (sub: AttributeDefinition): boolean => !isHidden(sub);
  if (def.returned === 'always') return def.subAttributes ? keepSubAttributes(value, def, visible) : value;
  const included = mentions(shape, selection.attributes, container, def);
  const excluded = mentions(shape, selection.excludedAttributes, container, def);
  if (selection.attributes) {
    if (included.whole) return def.subAttributes ? keepSubAttributes(value, def, visible) : value;
    if (included.subs.length === 0) return undefined;
    return keepSubAttributes(
      value,
      def,
      (sub) => visible(sub) && (sub.returned === 'always' || included.subs.includes(sub.name.toLowerCase())),
    );
  }
  if (def.returned === 'request' || excluded.whole) return undefined;
  const dropped = (sub: AttributeDefinition): boolean =>
    isHidden(sub) || sub.returned === 'request' || (sub.returned !== 'always' && excluded.subs.includes(sub.name.toLowerCase()));
  return def.subAttributes ? keepSubAttributes(value, def, (sub) => !dropped(sub)) : value;
}

function projectObject(
  shape: ResourceShape,
  selection: AttributeSelection,
  schema: SchemaDefinition,
  container: string | undefined,
  values: JsonObject,
): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(values)) {
    const def = schema.attributes.find((d) => sameName(d.name, key));
    // Common attributes (externalId) are returned by default (RFC 7643 §3.1).
    const effective: AttributeDefinition = def ?? {
      name: key,
      type: 'string',
      multiValued: false,
      description: '',
      required: false,
      caseExact: true,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'none',
    };
    const projected = projectAttribute(shape, selection, container, effective, value);
    if (projected !== undefined) out[key] = projected;
  }
  return out;
}

/**
 * Applies the `returned` characteristic of every attribute (RFC 7643 §7)
 * and the request's attribute selection (RFC 7644 §3.4.2.5) to a rendered
 * resource: `never` is never returned, `request` only when asked for,
 * `always` whatever was asked.
 */
export function projectResource(shape: ResourceShape, body: JsonObject, selection: AttributeSelection = {}): JsonObject {
  const out: JsonObject = {};
  const extensionIds = new Set(shape.extensions.map((s) => s.id));
  const coreValues: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (ALWAYS.has(key)) out[key] = value;
    else if (!extensionIds.has(key)) coreValues[key] = value;
  }
  Object.assign(out, projectObject(shape, selection, shape.core, undefined, coreValues));
  for (const ext of shape.extensions) {
    const values = body[ext.id];
    if (typeof values !== 'object' || values === null || Array.isArray(values)) continue;
    const projected = projectObject(shape, selection, ext, ext.id, values as JsonObject);
    if (Object.keys(projected).length > 0) out[ext.id] = projected;
  }
  if (Array.isArray(out.schemas)) {
    out.schemas = (out.schemas as string[]).filter((urn) => !extensionIds.has(urn) || out[urn] !== undefined);
  }
  return out;
}

/** True when the projection will include the top-level core attribute `name` (lets stores skip loading it). */
export function isAttributeReturned(shape: ResourceShape, selection: AttributeSelection, name: string): boolean {
  const def = shape.core.attributes.find((d) => sameName(d.name, name));
  if (!def) return false;
  return projectAttribute(shape, selection, undefined, def, {}) !== undefined;
}
