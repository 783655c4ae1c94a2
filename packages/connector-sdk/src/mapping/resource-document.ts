import { coreSchemaOf, type ScimResource } from '@meridian/core';
import type { JsonObject } from '../spi.js';

/**
 * The SCIM document of a hub resource that mappings and scoping filters read:
 * `schemas`, `id`, `externalId`, `meta`, the attributes (extensions under
 * their URN), and the loaded `members` of a group or `groups` of a user.
 * Never a password: the hub keeps only its hash.
 */
export function resourceDocument(resource: ScimResource): JsonObject {
  const document: JsonObject = {
    schemas: [coreSchemaOf(resource.kind), ...resource.extensionSchemas],
    id: resource.id,
    ...(resource.externalId !== undefined ? { externalId: resource.externalId } : {}),
    ...structuredClone(resource.attributes),
    meta: {
      resourceType: resource.kind,
      created: resource.created.toISOString(),
      lastModified: resource.lastModified.toISOString(),
      version: `W/"${resource.version}"`,
    },
  };
  delete document.password;
  // The hub reads an unassigned `active` as true (the store's default); a target must not read it otherwise.
  if (resource.kind === 'User' && document.active === undefined) document.active = true;
  if (resource.kind === 'Group') document.members = resource.members.map((m) => ({ ...m }));
  else if (resource.groups.length > 0) document.groups = resource.groups.map((g) => ({ ...g }));
  return document;
}
