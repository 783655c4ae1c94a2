import { MeridianError, type ResourceKind, type ScimResource } from '@meridian/core';
import jsonata from 'jsonata';
import type { JsonObject } from '../spi.js';
import { resourceDocument } from './resource-document.js';

/** How one resource kind's attributes become the target's (stored per target as JSON). */
export interface KindMapping {
  /**
   * Start from the hub's own attributes (identity mapping). Default true;
   * false starts from `{ schemas }` and only `attributes` rules fill it.
   */
  identity?: boolean;
  /** Attribute paths removed from the outbound object (`nickName`, `urn:...:User:costCenter`). */
  exclude?: string[];
  /**
   * Target attribute path -> JSONata expression over the hub's SCIM document
   * (`userName`, `name.givenName`, `$lowercase(emails[primary].value)`).
   * A result of `undefined` or `null` removes the attribute.
   */
  attributes?: Record<string, string>;
}

/** A target's attribute mapping, per resource kind. */
export interface AttributeMapping {
  User?: KindMapping;
  Group?: KindMapping;
}

/** Attributes no mapping may produce: the engine and the connector own them. */
const RESERVED = new Set(['id', 'meta', 'members', 'groups', 'password']);

interface CompiledRule {
  path: string[];
  expression: jsonata.Expression;
}

interface CompiledKind {
  identity: boolean;
  exclude: string[][];
  rules: CompiledRule[];
}

/** An {@link AttributeMapping} with its expressions parsed, ready for {@link mapResource}. */
export interface CompiledMapping {
  readonly source: AttributeMapping;
  readonly kinds: Record<ResourceKind, CompiledKind>;
}

function invalidConfig(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_CONFIG', message, { field });
}

/**
 * Splits a SCIM attribute path into object keys; a URN-qualified path keeps
 * its URN as the first key (`urn:...:2.0:User:manager.value` -> [urn, 'manager', 'value']).
 */
export function splitAttributePath(path: string): string[] {
  if (path.toLowerCase().startsWith('urn:')) {
    const cut = path.lastIndexOf(':');
    const rest = path.slice(cut + 1);
    return [path.slice(0, cut), ...rest.split('.')].filter((k) => k !== '');
  }
  return path.split('.').filter((k) => k !== '');
}

function compileKind(kind: ResourceKind, mapping: KindMapping | undefined): CompiledKind {
  if (mapping !== undefined && (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping))) {
    throw invalidConfig(`The ${kind} mapping must be an object.`, `mapping.${kind}`);
  }
  const rules: CompiledRule[] = [];
  for (const [target, source] of Object.entries(mapping?.attributes ?? {})) {
    const path = splitAttributePath(target);
    const field = `mapping.${kind}.attributes.${target}`;
    if (path.length === 0) throw invalidConfig('A mapping target path may not be empty.', field);
    if (RESERVED.has(path[0]!.toLowerCase())) throw invalidConfig(`'${path[0]}' is managed by the engine and cannot be mapped.`, field);
    if (typeof source !== 'string' || source.trim() === '') throw invalidConfig('A mapping rule is a JSONata expression string.', field);
    try {
      rules.push({ path, expression: jsonata(source) });
    } catch (error) {
      const message = (error as { message?: string }).message ?? 'invalid expression';
      throw invalidConfig(`Invalid JSONata expression for '${target}': ${message}`, field);
    }
  }
  const exclude = (mapping?.exclude ?? []).map((path, i) => {
    if (typeof path !== 'string' || path === '')
      throw invalidConfig('An excluded path is a non-empty string.', `mapping.${kind}.exclude[${i}]`);
    return splitAttributePath(path);
  });
  return { identity: mapping?.identity ?? true, exclude, rules };
}

/**
 * Parses and checks a target's mapping; throws `INVALID_CONFIG` naming the
 * offending rule. An empty mapping is the identity mapping.
 *
 * @example
 * compileMapping({ User: { attributes: { 'name.formatted': 'name.givenName & " " & name.familyName' } } })
 */
export function compileMapping(mapping: AttributeMapping = {}): CompiledMapping {
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping)) throw invalidConfig('A mapping is an object.', 'mapping');
  for (const key of Object.keys(mapping)) {
    if (key !== 'User' && key !== 'Group') throw invalidConfig(`Unknown resource kind '${key}' in mapping.`, `mapping.${key}`);
  }
  return { source: mapping, kinds: { User: compileKind('User', mapping.User), Group: compileKind('Group', mapping.Group) } };
}

function keyOf(object: JsonObject, name: string): string {
  const lower = name.toLowerCase();
  return Object.keys(object).find((k) => k.toLowerCase() === lower) ?? name;
}

function setPath(object: JsonObject, path: string[], value: unknown): void {
  let node = object;
  for (const key of path.slice(0, -1)) {
    const existing = keyOf(node, key);
    const next = node[existing];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[existing] = {};
    node = node[existing] as JsonObject;
  }
  const last = keyOf(node, path[path.length - 1]!);
  if (value === undefined || value === null) delete node[last];
  else node[last] = value;
}

function deletePath(object: JsonObject, path: string[]): void {
  let node: unknown = object;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    node = (node as JsonObject)[keyOf(node as JsonObject, key)];
  }
  if (typeof node === 'object' && node !== null && !Array.isArray(node))
    delete (node as JsonObject)[keyOf(node as JsonObject, path.at(-1)!)];
}

/** JSONata returns its own sequence arrays; hand connectors plain JSON. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/**
 * Maps a hub resource to the attributes of an {@link OutboundObject}: the
 * identity mapping (with `externalId` set to the hub's id, so the target can
 * correlate back), minus `exclude`, then each rule's JSONata result. Extension
 * schemas left empty are dropped from `schemas`.
 */
export async function mapResource(mapping: CompiledMapping, resource: ScimResource): Promise<JsonObject> {
  const compiled = mapping.kinds[resource.kind];
  const document = resourceDocument(resource);
  const out: JsonObject = { schemas: document.schemas };
  if (compiled.identity) {
    for (const [key, value] of Object.entries(document)) {
      if (!RESERVED.has(key.toLowerCase()) && key !== 'schemas') out[key] = structuredClone(value);
    }
    // RFC 7643 §3.1: externalId is the provisioning client's identifier; the hub is the client here.
    out.externalId = resource.id;
  }
  for (const path of compiled.exclude) deletePath(out, path);
  for (const rule of compiled.rules) {
    let value: unknown;
    try {
      value = plain(await rule.expression.evaluate(document, { kind: resource.kind, localId: resource.id }));
    } catch (error) {
      const message = (error as { message?: string }).message ?? 'evaluation failed';
      throw invalidConfig(`Mapping of '${rule.path.join('.')}' failed: ${message}`, `mapping.${resource.kind}.attributes`);
    }
    setPath(out, rule.path, value);
  }
  const schemas = (out.schemas as string[]).filter(
    (urn, i) => i === 0 || (out[urn] !== undefined && Object.keys(out[urn] as object).length > 0),
  );
  out.schemas = schemas;
  for (const key of Object.keys(out)) {
    if (key.toLowerCase().startsWith('urn:') && !schemas.includes(key)) {
      // A rule wrote into an extension the resource did not carry: declare it.
      if (typeof out[key] === 'object' && out[key] !== null && Object.keys(out[key] as object).length > 0) schemas.push(key);
      else delete out[key];
    }
  }
  return out;
}
