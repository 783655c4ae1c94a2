import { type CompiledMapping, compileMapping, type JsonObject, mapResource } from '@meridian/connector-sdk';
import { MeridianError, type ResourceKind, SCHEMA, type ScimResource } from '@meridian/core';
import type { LdapEntry } from '../ldap/connection.js';

// Both directions use the SDK's mapping language (JSONata rules keyed by the
// attribute they produce), evaluated over a document that is not a hub
// resource: the outbound SCIM object one way, an LDAP entry the other.

const EPOCH = new Date(0);

function documentOf(kind: ResourceKind, attributes: JsonObject): ScimResource {
  return {
    id: '',
    tenantId: '',
    kind,
    externalId: undefined,
    attributes,
    extensionSchemas: [],
    members: [],
    groups: [],
    version: 0,
    created: EPOCH,
    lastModified: EPOCH,
  };
}

function compile(kind: ResourceKind, rules: Record<string, string>, field: string): CompiledMapping {
  try {
    return compileMapping({ [kind]: { identity: false, attributes: rules } });
  } catch (error) {
    if (error instanceof MeridianError) throw new MeridianError('INVALID_CONFIG', `LDAP connector: ${error.message}`, { field });
    throw error;
  }
}

function strings(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of list) {
    if (item === undefined || item === null || item === '') continue;
    if (typeof item === 'object') out.push(JSON.stringify(item));
    else out.push(String(item));
  }
  return [...new Set(out)];
}

/**
 * SCIM -> LDAP: each rule names an LDAP attribute and computes its values
 * from the outbound SCIM object; a rule that yields nothing leaves the
 * attribute absent. Attribute names keep the case the rules give them.
 */
export class OutboundLdapMapping {
  readonly #mapping: CompiledMapping;
  /** The attributes this mapping manages (an update removes those it no longer yields). */
  readonly attributes: string[];

  constructor(
    private readonly kind: ResourceKind,
    rules: Record<string, string>,
    field: string,
  ) {
    this.#mapping = compile(kind, rules, field);
    this.attributes = Object.keys(rules);
  }

  /** LDAP attribute -> values (never empty lists) for one outbound object. */
  async map(attributes: JsonObject): Promise<Record<string, string[]>> {
    const mapped = await mapResource(this.#mapping, documentOf(this.kind, attributes));
    const out: Record<string, string[]> = {};
    for (const name of this.attributes) {
      const key = Object.keys(mapped).find((k) => k.toLowerCase() === name.toLowerCase());
      const values = key === undefined ? [] : strings(mapped[key]);
      if (values.length > 0) out[name] = values;
    }
    return out;
  }
}

/**
 * LDAP -> SCIM: each rule names a SCIM attribute path and computes it from
 * an LDAP entry whose attribute names are in lower case; a single value is a
 * string, several an array. `dn` is the entry's DN.
 */
export class InboundLdapMapping {
  readonly #mapping: CompiledMapping;

  constructor(
    private readonly kind: ResourceKind,
    rules: Record<string, string>,
    field: string,
  ) {
    this.#mapping = compile(kind, rules, field);
  }

  /** The SCIM attributes (without `schemas`) one entry maps to. */
  async map(entry: LdapEntry): Promise<JsonObject> {
    const document: JsonObject = { dn: entry.dn };
    for (const [name, values] of Object.entries(entry.attributes)) document[name] = values.length === 1 ? values[0] : values;
    const mapped = await mapResource(this.#mapping, documentOf(this.kind, document));
    delete mapped.schemas;
    return mapped;
  }
}

/** The SCIM core schema of a kind, for documents built from LDAP. */
export function coreSchemaFor(kind: ResourceKind): string {
  return kind === 'User' ? SCHEMA.user : SCHEMA.group;
}
