import { MeridianError } from '../errors/meridian-error.js';
import type { SelfServicePolicy } from '../ports/tenant-settings.js';
import type { JsonObject } from '../scim/resource-input.js';
import type { ResourceShape } from '../scim/resource-types.js';
import type { AttributeDefinition, SchemaDefinition } from '../scim/schema-types.js';

/** Compares two JSON values structurally, ignoring key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameJson((a as JsonObject)[k], (b as JsonObject)[k]));
}

interface Slot {
  schema: SchemaDefinition;
  /** The values of this schema: the document itself for the core schema, the extension object otherwise. */
  container: (doc: JsonObject) => JsonObject;
  /** Prefix of policy paths: '' for core, the URN and ':' for extensions. */
  prefix: string;
}

function slots(shape: ResourceShape): Slot[] {
  const objectAt = (doc: JsonObject, key: string): JsonObject => {
    const value = doc[key];
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
  };
  return [
    { schema: shape.core, container: (doc) => doc, prefix: '' },
    ...shape.extensions.map((ext) => ({ schema: ext, container: (doc: JsonObject) => objectAt(doc, ext.id), prefix: `${ext.id}:` })),
  ];
}

/**
 * RFC 7643 §7 `immutable`: once an attribute has a value, a write may
 * repeat it but not change or remove it.
 */
export function assertImmutableUnchanged(shape: ResourceShape, before: JsonObject, after: JsonObject): void {
  for (const slot of slots(shape)) {
    const was = slot.container(before);
    const now = slot.container(after);
    for (const def of slot.schema.attributes) {
      if (def.mutability !== 'immutable' || was[def.name] === undefined) continue;
      if (!sameJson(was[def.name], now[def.name])) {
        throw new MeridianError('MUTABILITY', `'${slot.prefix}${def.name}' is immutable.`, { field: `${slot.prefix}${def.name}` });
      }
    }
  }
}

/**
 * Self-service (draft-ietf-scim-use-cases §3.4): between `before` and
 * `after`, only the attributes the policy names may differ. A policy entry
 * names an attribute (`phoneNumbers`) or one sub-attribute (`name.givenName`).
 */
export function assertOnlyEditable(
  shape: ResourceShape,
  before: JsonObject,
  after: JsonObject,
  passwordChanged: boolean,
  policy: SelfServicePolicy,
): void {
  const allowed = new Set(policy.editableAttributes.map((p) => p.toLowerCase()));
  const deny = (path: string): never => {
    throw new MeridianError('FORBIDDEN', `The self-service policy does not let you change '${path}'.`, { field: path });
  };
  if (passwordChanged && !allowed.has('password')) deny('password');
  if (!sameJson(before.externalId, after.externalId)) deny('externalId');
  for (const slot of slots(shape)) {
    const was = slot.container(before);
    const now = slot.container(after);
    for (const def of slot.schema.attributes) {
      const path = `${slot.prefix}${def.name}`;
      if (sameJson(was[def.name], now[def.name]) || allowed.has(path.toLowerCase())) continue;
      if (!isSingleComplex(def)) deny(path);
      const a = (was[def.name] ?? {}) as JsonObject;
      const b = (now[def.name] ?? {}) as JsonObject;
      for (const sub of def.subAttributes ?? []) {
        if (!sameJson(a[sub.name], b[sub.name]) && !allowed.has(`${path}.${sub.name}`.toLowerCase())) deny(`${path}.${sub.name}`);
      }
    }
  }
}

function isSingleComplex(def: AttributeDefinition): boolean {
  return def.type === 'complex' && !def.multiValued;
}

/** A value that must be unique among the tenant's resources. */
export interface UniqueValue {
  keys: string[];
  value: string | number | boolean;
  caseExact: boolean;
}

/** The extension attributes with `uniqueness: server` that `attributes` sets. */
export function uniqueAttributes(shape: ResourceShape, attributes: JsonObject): UniqueValue[] {
  const found: UniqueValue[] = [];
  // Core attributes with uniqueness (userName, Group displayName) are guarded by unique indexes.
  for (const slot of slots(shape).slice(1)) {
    const values = slot.container(attributes);
    for (const def of slot.schema.attributes) {
      const value = values[def.name];
      if (def.uniqueness === 'none' || value === undefined) continue;
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        found.push({ keys: [slot.schema.id, def.name], value, caseExact: def.caseExact });
      }
    }
  }
  return found;
}
