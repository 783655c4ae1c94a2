// Over 600 lines on purpose: RFC 7644 §3.5.2's add, replace and remove, with value filters, for every
// attribute shape, are one algorithm whose cases share their path resolution; split, they would share state.
import { MeridianError } from '../errors/meridian-error.js';
import type { Filter } from '../filter/ast.js';
import { matchesFilter } from '../filter/evaluate.js';
import { formatPath } from '../filter/parse.js';
import { assertText, maxLengthOf } from '../scim/input-limits.js';
import type { JsonObject } from '../scim/resource-input.js';
import type { ResourceShape } from '../scim/resource-types.js';
import type { AttributeDefinition, SchemaDefinition } from '../scim/schema-types.js';
import { SCHEMA } from '../scim/schemas.js';
import { type PatchOp, type PatchOperation, type PatchPath, parsePatchPath } from './parse.js';

/** One change to a group's member list; the store applies it row by row. */
export type MemberChange =
  | { kind: 'add'; ids: string[] }
  | { kind: 'remove'; ids: string[] }
  /** Remove the members matching a filter over member sub-attributes (`value`, `type`), e.g. from `members[type eq "Group"]`. */
  | { kind: 'removeWhere'; filter: Filter }
  | { kind: 'removeAll' };

/** The outcome of {@link applyPatch}. */
export interface PatchResult {
  /** The resource document after all operations (same form as the input document). */
  document: JsonObject;
  /** Group member changes, in order; the store applies them row by row, never loading the member list. */
  memberChanges: MemberChange[];
  /** Canonical top-level attribute names (or extension URNs) that the operations touched. */
  touched: string[];
}

/** Where an attribute lives: at the top of the document, or under an extension URN. */
interface Scope {
  defs: AttributeDefinition[];
  extension?: SchemaDefinition;
}

/** A resolved attribute path. */
interface Target {
  scope: Scope;
  def: AttributeDefinition;
  sub?: AttributeDefinition;
  filter?: Filter;
  text: string;
}

type Resolved = { kind: 'attribute'; target: Target } | { kind: 'extension'; extension: SchemaDefinition } | { kind: 'ignored' };

/** `externalId` is a common attribute (RFC 7643 §3.1), outside every schema, and clients may patch it. */
const EXTERNAL_ID: AttributeDefinition = {
  name: 'externalId',
  type: 'string',
  multiValued: false,
  description: 'An identifier for the resource as defined by the provisioning client.',
  required: false,
  caseExact: true,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
};

/** Common attributes the service provider owns (RFC 7643 §3.1). */
const SERVER_OWNED = new Set(['id', 'meta', 'schemas']);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function findDef(defs: AttributeDefinition[] | undefined, name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return defs?.find((d) => d.name.toLowerCase() === lower);
}

function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [key, v] of Object.entries(value)) out[key] = cloneJson(v);
    return out as T;
  }
  return value;
}

function invalidPath(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_PATH', message, { field });
}

function isTrue(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

/** Canonical sub-attribute names, and "True"/"False" strings (Entra ID) as booleans so equality and `primary` work. */
function canonical(def: AttributeDefinition, value: unknown): unknown {
  if (def.type === 'boolean' && typeof value === 'string' && /^(true|false)$/i.test(value)) return isTrue(value);
  if (def.type !== 'complex' || !isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    const sub = findDef(def.subAttributes, key);
    out[sub?.name ?? key] = sub ? canonical(sub, v) : v;
  }
  return out;
}

/** A single-valued attribute sent as a one-element array (Entra ID sends `manager` as `[{value}]`) means that element. */
function unwrap(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  if (value.length === 0) return null;
  return value.length === 1 ? value[0] : value;
}

/** A bare id for a reference attribute such as `manager` means `{ value: id }`. */
function asReference(def: AttributeDefinition, value: unknown): unknown {
  return def.type === 'complex' && typeof value === 'string' && findDef(def.subAttributes, 'value') ? { value } : value;
}

function elementsOf(def: AttributeDefinition, value: unknown): unknown[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v) => v !== null && v !== undefined).map((v) => canonical(def, v));
}

function current(container: JsonObject | undefined, def: AttributeDefinition): unknown[] {
  const value = container?.[def.name];
  if (Array.isArray(value)) return [...value];
  return value === undefined || value === null ? [] : [value];
}

function store(container: JsonObject, def: AttributeDefinition, list: unknown[]): void {
  // RFC 7644 §3.5.2.2: a multi-valued attribute left with no values is unassigned.
  if (list.length === 0) delete container[def.name];
  else container[def.name] = list;
}

function sameScalar(def: AttributeDefinition | undefined, a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string' && def?.caseExact !== true) return a.toLowerCase() === b.toLowerCase();
  return a === b;
}

function assigned(value: JsonObject): string[] {
  return Object.keys(value).filter((k) => value[k] !== null && value[k] !== undefined);
}

function sameValue(def: AttributeDefinition, a: unknown, b: unknown): boolean {
  if (!isObject(a) || !isObject(b)) return sameScalar(def, a, b);
  const keys = assigned(a);
  const other = assigned(b);
  return keys.length === other.length && keys.every((k) => k in b && sameScalar(findDef(def.subAttributes, k), a[k], b[k]));
}

/** RFC 7643 §2.4: at most one value is primary; the last value made primary wins. */
function settlePrimary(def: AttributeDefinition, list: unknown[], made: unknown[]): void {
  if (!findDef(def.subAttributes, 'primary')) return;
  const winner = made.findLast((e) => isObject(e) && isTrue(e.primary));
  if (winner === undefined) return;
  for (const e of list) {
    if (e !== winner && isObject(e) && isTrue(e.primary)) e.primary = false;
  }
}

/** The element an upsert creates when a filter of `eq` comparisons joined by `and` matches nothing; undefined for any other filter. */
function seedOf(filter: Filter, subs: AttributeDefinition[]): JsonObject | undefined {
  const seed: JsonObject = {};
  const visit = (f: Filter): boolean => {
    if (f.op === 'and') return visit(f.left) && visit(f.right);
    if (f.op !== 'eq' || f.value === null || f.path.subAttribute !== undefined) return false;
    const def = findDef(subs, f.path.attribute);
    if (!def) return false;
    if (def.name in seed && seed[def.name] !== f.value) return false;
    seed[def.name] = f.value;
    return true;
  };
  return visit(filter) ? seed : undefined;
}

/** The ids of `members[value eq "a" or value eq "b"]`; undefined for any other filter. */
function memberIdsOf(filter: Filter): string[] | undefined {
  if (filter.op === 'or') {
    const left = memberIdsOf(filter.left);
    const right = memberIdsOf(filter.right);
    return left && right ? [...left, ...right] : undefined;
  }
  if (filter.op === 'eq' && filter.path.attribute.toLowerCase() === 'value' && filter.path.subAttribute === undefined) {
    return typeof filter.value === 'string' ? [filter.value] : undefined;
  }
  return undefined;
}

/** The filters a value given to a legacy `remove` stands for: all its sub-attributes equal. */
function equalityFilter(def: AttributeDefinition, value: unknown): Filter | undefined {
  const fields = isObject(value) ? value : { value };
  let filter: Filter | undefined;
  for (const [key, v] of Object.entries(fields)) {
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') continue;
    const sub = findDef(def.subAttributes, key);
    const leaf: Filter = { op: 'eq', path: { attribute: sub?.name ?? key }, value: v };
    filter = filter ? { op: 'and', left: filter, right: leaf } : leaf;
  }
  return filter;
}

function assertFilterAttributes(filter: Filter, subs: AttributeDefinition[], text: string, allowed?: Set<string>): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      assertFilterAttributes(filter.left, subs, text, allowed);
      assertFilterAttributes(filter.right, subs, text, allowed);
      return;
    case 'not':
      assertFilterAttributes(filter.filter, subs, text, allowed);
      return;
    case 'valuePath':
      throw invalidPath(`Value filters cannot be nested in '${text}'.`, text);
    default: {
      const def = findDef(subs, filter.path.attribute);
      if (!def || filter.path.subAttribute !== undefined || filter.path.schema !== undefined) {
        throw invalidPath(`Unknown attribute '${formatPath(filter.path)}' in the filter of '${text}'.`, text);
      }
      if (allowed && !allowed.has(def.name)) {
        throw invalidPath(`'${text}' can filter members on ${[...allowed].join(' and ')} only.`, text);
      }
    }
  }
}

class PatchEngine {
  readonly memberChanges: MemberChange[] = [];
  readonly touched = new Set<string>();
  private readonly core: Scope;

  constructor(
    private readonly shape: ResourceShape,
    readonly document: JsonObject,
  ) {
    this.core = { defs: shape.core.attributes };
  }

  apply(operation: PatchOperation): void {
    if (operation.path === undefined) {
      // RFC 7644 §3.5.2.2: "remove" needs a target.
      if (operation.op === 'remove') throw new MeridianError('NO_TARGET', '"remove" needs a path.', { field: 'path' });
      this.applyObject(operation.op, operation.value, this.core);
      return;
    }
    this.applyResolved(operation.op, this.resolve(operation.path, true), operation.value);
  }

  /** Removes extension containers that the operations emptied. */
  finish(): void {
    for (const extension of this.shape.extensions) {
      const container = this.document[extension.id];
      if (isObject(container) && Object.keys(container).length === 0) delete this.document[extension.id];
    }
  }

  private extensionNamed(urn: string): SchemaDefinition | undefined {
    const lower = urn.toLowerCase();
    return this.shape.extensions.find((s) => s.id.toLowerCase() === lower);
  }

  /**
   * Resolves a path against the schemas. An explicit `path` naming a readOnly
   * attribute is a mutability error; the same attribute as a key of a
   * path-less value is ignored, as in a full resource (RFC 7643 §7).
   */
  private resolve(path: PatchPath, explicit: boolean): Resolved {
    const text = formatPath(path);
    let scope = this.core;
    if (path.schema !== undefined && path.schema.toLowerCase() !== this.shape.core.id.toLowerCase()) {
      const whole = this.extensionNamed(`${path.schema}:${path.attribute}`);
      if (whole) {
        if (path.subAttribute !== undefined || path.filter !== undefined) throw invalidPath(`Invalid path '${text}'.`, text);
        return { kind: 'extension', extension: whole };
      }
      const extension = this.extensionNamed(path.schema);
      if (!extension) throw invalidPath(`Unknown schema '${path.schema}'.`, text);
      scope = { defs: extension.attributes, extension };
    } else {
      const lower = path.attribute.toLowerCase();
      if (SERVER_OWNED.has(lower)) {
        if (!explicit) return { kind: 'ignored' };
        throw new MeridianError('MUTABILITY', `'${path.attribute}' is set by the server.`, { field: text });
      }
      if (lower === 'externalid') scope = { defs: [EXTERNAL_ID] };
    }
    let def = findDef(scope.defs, path.attribute);
    if (!def && path.schema === undefined && scope === this.core) {
      // Entra ID sends the enterprise `manager` without its URN: a name no core attribute has resolves to the one extension defining it.
      const found = this.shape.extensions.flatMap((extension) => {
        const d = findDef(extension.attributes, path.attribute);
        return d ? [{ extension, d }] : [];
      });
      if (found.length === 1 && found[0]) {
        scope = { defs: found[0].extension.attributes, extension: found[0].extension };
        def = found[0].d;
      }
    }
    if (!def) throw invalidPath(`Unknown attribute '${text}'.`, text);
    if (def.mutability === 'readOnly') {
      if (!explicit) return { kind: 'ignored' };
      throw new MeridianError('MUTABILITY', `'${def.name}' is readOnly.`, { field: text });
    }
    const target: Target = { scope, def, text };
    if (path.subAttribute !== undefined) {
      const sub = def.type === 'complex' ? findDef(def.subAttributes, path.subAttribute) : undefined;
      if (!sub) throw invalidPath(`Unknown attribute '${text}'.`, text);
      if (sub.mutability === 'readOnly') {
        if (!explicit) return { kind: 'ignored' };
        throw new MeridianError('MUTABILITY', `'${def.name}.${sub.name}' is readOnly.`, { field: text });
      }
      target.sub = sub;
    }
    if (path.filter !== undefined) {
      if (!def.multiValued || def.type !== 'complex') throw invalidPath(`'${def.name}' is not a multi-valued complex attribute.`, text);
      target.filter = path.filter;
    }
    return { kind: 'attribute', target };
  }

  private applyResolved(op: PatchOp, resolved: Resolved, value: unknown): void {
    if (resolved.kind === 'ignored') return;
    if (resolved.kind === 'extension') {
      this.applyExtension(op, resolved.extension, value);
      return;
    }
    const target = resolved.target;
    this.touched.add(target.scope.extension?.id ?? target.def.name);
    if (this.shape.kind === 'Group' && target.scope === this.core && target.def.name === 'members') {
      this.applyMembers(op, target, value);
      return;
    }
    if (target.filter !== undefined) {
      assertFilterAttributes(target.filter, target.def.subAttributes ?? [], target.text);
      if (op === 'remove') this.removeFiltered(target);
      // Entra ID sends `Add` for what is a replace; with a value filter both mean "set on the matching values".
      else this.replaceFiltered(target, value);
      return;
    }
    if (op === 'remove') this.remove(target, value);
    else if (target.sub !== undefined) this.setSubAttribute(op, target, target.sub, value);
    else if (!target.def.multiValued) this.setSingle(op, target, value);
    else if (op === 'add') this.append(target, value);
    else this.replaceAll(target, value);
  }

  /** A path-less value (RFC 7644 §3.5.2.1): each key is an attribute path, dotted or URN-qualified, or an extension URN. */
  private applyObject(op: PatchOp, value: unknown, scope: Scope): void {
    if (!isObject(value)) {
      throw new MeridianError('INVALID_INPUT', `The value of "${op}" without a path must be an object.`, { field: 'value' });
    }
    for (const [key, v] of Object.entries(value)) {
      if (scope === this.core) {
        const extension = this.extensionNamed(key);
        if (extension) {
          this.applyExtension(op, extension, v);
          continue;
        }
        // Okta repeats the resource's `id` (and sometimes `schemas`, `meta`) in a path-less replace.
        if (SERVER_OWNED.has(key.toLowerCase())) continue;
      }
      const path = parsePatchPath(key);
      if (scope.extension && path.schema === undefined) path.schema = scope.extension.id;
      this.applyResolved(op, this.resolve(path, false), v);
    }
  }

  private applyExtension(op: PatchOp, extension: SchemaDefinition, value: unknown): void {
    this.touched.add(extension.id);
    if (op === 'remove' || (value === null && op === 'replace')) {
      delete this.document[extension.id];
      return;
    }
    if (value === null) return;
    this.applyObject(op, value, { defs: extension.attributes, extension });
  }

  private container(scope: Scope, create: true): JsonObject;
  private container(scope: Scope, create: false): JsonObject | undefined;
  private container(scope: Scope, create: boolean): JsonObject | undefined {
    if (!scope.extension) return this.document;
    const id = scope.extension.id;
    const existing = this.document[id];
    if (isObject(existing)) return existing;
    if (!create) return undefined;
    const created: JsonObject = {};
    this.document[id] = created;
    return created;
  }

  private setSingle(op: PatchOp, target: Target, value: unknown): void {
    const { def } = target;
    const incoming = unwrap(value);
    if (incoming === null || incoming === undefined) {
      // RFC 7643 §2.5: null is unassigned, so replacing with null removes; adding null adds nothing.
      if (op === 'replace') delete this.container(target.scope, false)?.[def.name];
      return;
    }
    const container = this.container(target.scope, true);
    const next = canonical(def, asReference(def, incoming));
    const existing = container[def.name];
    // RFC 7644 §3.5.2.1 / §3.5.2.3: sub-attributes not given are left unchanged. A reference (`value` with its
    // `$ref`, e.g. the enterprise `manager`, RFC 7643 §4.3) is one unit: a new `value` replaces the whole.
    const merge =
      def.type === 'complex' && isObject(next) && isObject(existing) && !(findDef(def.subAttributes, 'value') && 'value' in next);
    if (merge) {
      const merged: JsonObject = { ...existing };
      for (const [key, v] of Object.entries(next)) {
        if (v === null) delete merged[key];
        else merged[key] = v;
      }
      container[def.name] = merged;
    } else {
      container[def.name] = next;
    }
  }

  private setSubAttribute(op: PatchOp, target: Target, sub: AttributeDefinition, value: unknown): void {
    const { def } = target;
    const v = canonical(sub, unwrap(value));
    if (v === null || v === undefined) {
      if (op === 'replace') this.removeSubAttribute(target, sub);
      return;
    }
    const container = this.container(target.scope, true);
    if (!def.multiValued) {
      const existing = container[def.name];
      container[def.name] = { ...(isObject(existing) ? existing : {}), [sub.name]: v };
      return;
    }
    // `emails.value` without a filter: every value gets the sub-attribute; with no values, one is created.
    const list = current(container, def).filter(isObject);
    if (list.length === 0) list.push({});
    for (const e of list) e[sub.name] = v;
    container[def.name] = list;
    settlePrimary(def, list, list);
  }

  private append(target: Target, value: unknown): void {
    if (value === null) return;
    const { def } = target;
    const container = this.container(target.scope, true);
    const list = current(container, def);
    const made: unknown[] = [];
    for (const element of elementsOf(def, value)) {
      // RFC 7644 §3.5.2.1: a value already present is not added again.
      if (list.some((e) => sameValue(def, e, element))) continue;
      list.push(element);
      made.push(element);
    }
    store(container, def, list);
    settlePrimary(def, list, made);
  }

  private replaceAll(target: Target, value: unknown): void {
    const { def } = target;
    const container = this.container(target.scope, true);
    // RFC 7644 §3.5.2.3: without a filter, a multi-valued attribute is replaced with all its values.
    const list = value === null ? [] : elementsOf(def, value);
    store(container, def, list);
    settlePrimary(def, list, list);
  }

  private replaceFiltered(target: Target, value: unknown): void {
    const { def, sub } = target;
    const filter = target.filter as Filter;
    const subs = def.subAttributes ?? [];
    const container = this.container(target.scope, true);
    const list = current(container, def);
    const incoming = sub ? canonical(sub, unwrap(value)) : canonical(def, unwrap(value));
    const absent = incoming === null || incoming === undefined;
    if (!absent && !sub && !isObject(incoming)) {
      throw new MeridianError('INVALID_INPUT', `The value for '${target.text}' must be an object.`, { field: target.text });
    }
    const made: unknown[] = [];
    let matched = 0;
    const next: unknown[] = [];
    for (const element of list) {
      if (!isObject(element) || !matchesFilter(element, filter, subs)) {
        next.push(element);
        continue;
      }
      matched++;
      if (sub) {
        if (absent) delete element[sub.name];
        else element[sub.name] = incoming;
        if (assigned(element).length > 0) next.push(element);
        made.push(element);
      } else if (!absent) {
        // RFC 7644 §3.5.2.3: "all matching record values SHALL be replaced"; null removes them.
        const replacement = cloneJson(incoming);
        next.push(replacement);
        made.push(replacement);
      }
    }
    if (matched === 0 && !absent) {
      // Entra ID sends `replace emails[type eq "work"].value` for a user without a work email: create that value.
      const seed = seedOf(filter, subs);
      if (!seed) {
        throw new MeridianError('NO_TARGET', `No value of '${def.name}' matches the filter in '${target.text}'.`, { field: target.text });
      }
      const element = sub ? { ...seed, [sub.name]: incoming } : { ...seed, ...(incoming as JsonObject) };
      next.push(element);
      made.push(element);
    }
    store(container, def, next);
    settlePrimary(def, next, made);
  }

  private removeFiltered(target: Target): void {
    const { def, sub } = target;
    const container = this.container(target.scope, false);
    if (!container) return;
    const filter = target.filter as Filter;
    const subs = def.subAttributes ?? [];
    const next: unknown[] = [];
    // RFC 7644 §3.5.2.2: a filter that matches nothing removes nothing; it is not an error.
    for (const element of current(container, def)) {
      if (!isObject(element) || !matchesFilter(element, filter, subs)) next.push(element);
      else if (sub) {
        delete element[sub.name];
        if (assigned(element).length > 0) next.push(element);
      }
    }
    store(container, def, next);
  }

  private removeSubAttribute(target: Target, sub: AttributeDefinition): void {
    const { def } = target;
    const container = this.container(target.scope, false);
    const existing = container?.[def.name];
    if (!container || existing === undefined) return;
    if (!def.multiValued) {
      if (!isObject(existing)) return;
      const rest = { ...existing };
      delete rest[sub.name];
      if (assigned(rest).length > 0) container[def.name] = rest;
      else delete container[def.name];
      return;
    }
    const next: unknown[] = [];
    for (const element of current(container, def)) {
      if (isObject(element)) delete element[sub.name];
      if (!isObject(element) || assigned(element).length > 0) next.push(element);
    }
    store(container, def, next);
  }

  private remove(target: Target, value: unknown): void {
    const { def, sub } = target;
    if (sub) {
      this.removeSubAttribute(target, sub);
      return;
    }
    const container = this.container(target.scope, false);
    if (!container) return;
    if (def.multiValued && value !== undefined && value !== null) {
      // Entra ID's legacy form: `remove` on a multi-valued path with a value list removes just those values.
      const filters = elementsOf(def, value)
        .map((v) => equalityFilter(def, v))
        .filter((f) => f !== undefined);
      const subs = def.subAttributes ?? [];
      const next = current(container, def).filter((e) => !filters.some((f) => matchesFilter(e, f, subs)));
      store(container, def, next);
      return;
    }
    delete container[def.name];
  }

  private applyMembers(op: PatchOp, target: Target, value: unknown): void {
    if (target.sub !== undefined) {
      // RFC 7643 §4.2: a member's value, $ref and type are immutable, its display readOnly.
      throw new MeridianError('MUTABILITY', `'${target.text}' cannot be modified; add or remove the member instead.`, {
        field: target.text,
      });
    }
    if (target.filter !== undefined) {
      if (op !== 'remove') {
        throw invalidPath(`"${op}" with a member filter is not supported; remove the members, then add them.`, target.text);
      }
      const ids = memberIdsOf(target.filter);
      if (ids) {
        this.memberChanges.push({ kind: 'remove', ids: [...new Set(ids)] });
        return;
      }
      assertFilterAttributes(target.filter, target.def.subAttributes ?? [], target.text, new Set(['value', 'type']));
      this.memberChanges.push({ kind: 'removeWhere', filter: target.filter });
      return;
    }
    if (op === 'replace') this.memberChanges.push({ kind: 'removeAll' });
    if (op === 'remove' && (value === undefined || value === null)) {
      this.memberChanges.push({ kind: 'removeAll' });
      return;
    }
    const ids = memberIds(value, target.text, target.def.subAttributes ?? []);
    if (ids.length > 0) this.memberChanges.push({ kind: op === 'remove' ? 'remove' : 'add', ids });
  }
}

function memberIds(value: unknown, field: string, subs: AttributeDefinition[]): string[] {
  if (value === null || value === undefined) return [];
  const ids: string[] = [];
  for (const element of Array.isArray(value) ? value : [value]) {
    if (element === null) continue;
    if (isObject(element)) {
      // The one text rule of every input string (input-limits.ts), for the member's strings as for any other.
      for (const [key, v] of Object.entries(element)) {
        if (typeof v !== 'string') continue;
        const sub = findDef(subs, key);
        const name = sub?.name ?? key;
        assertText(v, `${field}.${name}`, maxLengthOf(SCHEMA.group, `members.${name}`, sub?.type));
      }
    }
    const id = isObject(element) ? element[Object.keys(element).find((k) => k.toLowerCase() === 'value') ?? 'value'] : undefined;
    if (typeof id !== 'string' || id === '') {
      throw new MeridianError('INVALID_INPUT', `Each member needs a string 'value'.`, { field });
    }
    // `$ref` may be null (Entra ID) or point at the member; the id alone identifies it.
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * Applies PATCH operations (RFC 7644 §3.5.2), in order, to a copy of a stored
 * resource document. Attribute names resolve case-insensitively against the
 * shape; group `members` never enter the document but come back as
 * {@link MemberChange}s. Throws a `MeridianError` (INVALID_PATH, NO_TARGET,
 * MUTABILITY, INVALID_INPUT, INVALID_FILTER) on the first operation that fails.
 * The caller re-validates the document with `parseResourceInput`.
 *
 * @example
 * const { document, memberChanges } = applyPatch(resourceShapes.Group, stored, parsePatchRequest(body));
 */
export function applyPatch(shape: ResourceShape, document: JsonObject, operations: PatchOperation[]): PatchResult {
  const engine = new PatchEngine(shape, cloneJson(document));
  for (const operation of operations) engine.apply(operation);
  engine.finish();
  return { document: engine.document, memberChanges: engine.memberChanges, touched: [...engine.touched] };
}
