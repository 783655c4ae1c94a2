import {
  type Filter,
  isMeridianError,
  MeridianError,
  matchesResource,
  parseScimFilter,
  type ResourceKind,
  type ResourceShape,
  type ScimResource,
} from '@meridian/core';
import { resourceDocument } from '../mapping/resource-document.js';

/**
 * Which users and groups go to a target: a SCIM filter per resource kind
 * (RFC 7644 §3.4.2.2). An absent kind goes whole; `false` sends none of it.
 *
 * @example
 * { User: 'active eq true and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Ops"', Group: 'displayName sw "ops-"' }
 */
export interface ScopingFilter {
  User?: string | false;
  Group?: string | false;
}

/** A {@link ScopingFilter} with its filters parsed. */
export interface CompiledScoping {
  readonly source: ScopingFilter;
  readonly filters: Record<ResourceKind, Filter | boolean>;
}

function compileKind(kind: ResourceKind, text: string | false | undefined): Filter | boolean {
  if (text === undefined || text === '') return true;
  if (text === false) return false;
  if (typeof text !== 'string')
    throw new MeridianError('INVALID_CONFIG', `The ${kind} scope is a SCIM filter string.`, { field: `scoping.${kind}` });
  try {
    return parseScimFilter(text);
  } catch (error) {
    if (isMeridianError(error))
      throw new MeridianError('INVALID_CONFIG', `Invalid ${kind} scope: ${error.message}`, { field: `scoping.${kind}` });
    throw error;
  }
}

/** Parses a target's scoping filters; throws `INVALID_CONFIG` naming the kind. */
export function compileScoping(scoping: ScopingFilter = {}): CompiledScoping {
  if (typeof scoping !== 'object' || scoping === null || Array.isArray(scoping)) {
    throw new MeridianError('INVALID_CONFIG', 'A scoping filter is an object of SCIM filters per kind.', { field: 'scoping' });
  }
  for (const key of Object.keys(scoping)) {
    if (key !== 'User' && key !== 'Group')
      throw new MeridianError('INVALID_CONFIG', `Unknown resource kind '${key}' in scoping.`, { field: `scoping.${key}` });
  }
  return { source: scoping, filters: { User: compileKind('User', scoping.User), Group: compileKind('Group', scoping.Group) } };
}

/**
 * True when the resource belongs at the target. `shape` is the tenant's
 * shape of the kind (custom extensions). A filter whose literal does not fit
 * an attribute's type counts as out of scope rather than failing the push.
 */
export function isInScope(scoping: CompiledScoping, resource: ScimResource, shape: ResourceShape): boolean {
  const filter = scoping.filters[resource.kind];
  if (typeof filter === 'boolean') return filter;
  try {
    return matchesResource(resourceDocument(resource), filter, shape);
  } catch (error) {
    if (isMeridianError(error) && error.code === 'INVALID_FILTER') return false;
    throw error;
  }
}
