import type { JsonObject } from '@meridian/connector-sdk';
import { sameJson } from '@meridian/core';

/** One operation of a SCIM PatchOp request (RFC 7644 §3.5.2). */
export interface ScimPatchOperation {
  op: 'add' | 'replace' | 'remove';
  path?: string;
  value?: unknown;
}

/** Attributes a connector never writes: server-assigned, computed, or pushed by their own calls. */
const NOT_DIFFED = new Set(['schemas', 'id', 'meta', 'members', 'groups', 'password']);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `null`, `[]` and `{}` stand for an absent value (Entra ID sends `null` for absent). */
function isAbsent(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    (Array.isArray(value) && value.length === 0) ||
    (isObject(value) && Object.keys(value).length === 0)
  );
}

/** Keys of both objects, matched case-insensitively (RFC 7643 §2.1), each with its values on either side. */
function pairs(before: JsonObject, after: JsonObject): { key: string; before: unknown; after: unknown }[] {
  const byLower = new Map<string, { key: string; before: unknown; after: unknown }>();
  for (const [key, value] of Object.entries(before)) byLower.set(key.toLowerCase(), { key, before: value, after: undefined });
  for (const [key, value] of Object.entries(after)) {
    const entry = byLower.get(key.toLowerCase());
    if (entry) {
      entry.key = key;
      entry.after = value;
    } else {
      byLower.set(key.toLowerCase(), { key, before: undefined, after: value });
    }
  }
  return [...byLower.values()];
}

/**
 * Operations that take a resource from `before` to `after`, touching only
 * what changed: changed simple and multi-valued attributes are replaced
 * whole (RFC 7644 §3.5.2.3), complex single-valued attributes and extension
 * schemas attribute by attribute, because a `replace` of a complex value
 * leaves unnamed sub-attributes in place. Absent values become `remove`.
 *
 * @example
 * diffAttributes({ userName: 'ada', title: 'Eng' }, { userName: 'ada', nickName: 'A' })
 * // [{ op: 'remove', path: 'title' }, { op: 'replace', path: 'nickName', value: 'A' }]
 */
export function diffAttributes(before: JsonObject, after: JsonObject): ScimPatchOperation[] {
  const operations: ScimPatchOperation[] = [];
  for (const { key, before: b, after: a } of pairs(before, after)) {
    if (NOT_DIFFED.has(key.toLowerCase())) continue;
    // RFC 7644 §3.10: attributes of an extension are addressed as `<urn>:<attribute>`.
    if (key.toLowerCase().startsWith('urn:')) diffObject(`${key}:`, isObject(b) ? b : {}, isObject(a) ? a : {}, true, operations);
    else diffValue(key, b, a, true, operations);
  }
  return operations;
}

function diffValue(path: string, before: unknown, after: unknown, descend: boolean, operations: ScimPatchOperation[]): void {
  if (isAbsent(after)) {
    if (!isAbsent(before)) operations.push({ op: 'remove', path });
    return;
  }
  if (!isAbsent(before) && sameJson(before, after)) return;
  if (descend && isObject(before) && isObject(after)) {
    diffObject(`${path}.`, before, after, false, operations);
    return;
  }
  // RFC 7644 §3.5.2.3: replacing an attribute that is not there adds it.
  operations.push({ op: 'replace', path, value: after });
}

function diffObject(prefix: string, before: JsonObject, after: JsonObject, descend: boolean, operations: ScimPatchOperation[]): void {
  for (const { key, before: b, after: a } of pairs(before, after)) diffValue(`${prefix}${key}`, b, a, descend, operations);
}
