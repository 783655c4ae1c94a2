import type { SchemaDefinition } from './schema-types.js';
import { enterpriseUserSchema, groupSchema, SCHEMA, userSchema } from './schemas.js';

/** The resource kinds the hub stores. */
export type ResourceKind = 'User' | 'Group';

/** The core schema and the extensions a resource kind accepts. */
export interface ResourceShape {
  kind: ResourceKind;
  core: SchemaDefinition;
  extensions: SchemaDefinition[];
}

/** The schema shape of each resource kind. */
export const resourceShapes: Record<ResourceKind, ResourceShape> = {
  User: { kind: 'User', core: userSchema, extensions: [enterpriseUserSchema] },
  Group: { kind: 'Group', core: groupSchema, extensions: [] },
};

/** The core schema URN of a resource kind. */
export function coreSchemaOf(kind: ResourceKind): string {
  return kind === 'User' ? SCHEMA.user : SCHEMA.group;
}
