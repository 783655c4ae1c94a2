import type { JsonObject } from './resource-input.js';
import type { ResourceKind } from './resource-types.js';

/** A member of a group as stored (one row per member). */
export interface GroupMember {
  value: string;
  type: 'User' | 'Group';
  display?: string;
}

/** A group a user belongs to, directly or through nested groups (RFC 7643 §4.1.2). */
export interface GroupMembership {
  value: string;
  display: string;
  type: 'direct' | 'indirect';
}

/** A stored SCIM resource, independent of how it is persisted. */
export interface ScimResource {
  id: string;
  tenantId: string;
  kind: ResourceKind;
  externalId: string | undefined;
  /** Canonical attributes: core at top level, extensions under their URN. */
  attributes: JsonObject;
  extensionSchemas: string[];
  /** Members of a group; empty for users. */
  members: GroupMember[];
  /** Groups of a user (computed, readOnly); empty for groups. */
  groups: GroupMembership[];
  version: number;
  created: Date;
  lastModified: Date;
}

/** The weak ETag of a resource version (RFC 7644 §3.14). */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}
