import { coreSchemaOf, etagOf, type JsonObject, type ScimResource } from '@meridian/core';

/** Base URL of the SCIM service, used for `meta.location` and `$ref`. */
export type BaseUrl = string;

const ENDPOINT = { User: 'Users', Group: 'Groups' } as const;

/** Renders a stored resource as its SCIM representation (RFC 7643 §3.1). */
export function renderResource(resource: ScimResource, baseUrl: BaseUrl): JsonObject {
  const location = `${baseUrl}/${ENDPOINT[resource.kind]}/${resource.id}`;
  const body: JsonObject = {
    schemas: [coreSchemaOf(resource.kind), ...resource.extensionSchemas],
    id: resource.id,
  };
  if (resource.externalId !== undefined) body.externalId = resource.externalId;
  Object.assign(body, resource.attributes);
  if (resource.kind === 'User') {
    if (body.active === undefined) body.active = true;
    if (resource.groups.length > 0) {
      body.groups = resource.groups.map((g) => ({
        value: g.value,
        $ref: `${baseUrl}/Groups/${g.value}`,
        display: g.display,
        type: g.type,
      }));
    }
  } else {
    body.members = resource.members.map((m) => ({
      value: m.value,
      $ref: `${baseUrl}/${ENDPOINT[m.type]}/${m.value}`,
      type: m.type,
      ...(m.display !== undefined ? { display: m.display } : {}),
    }));
  }
  body.meta = {
    resourceType: resource.kind,
    created: resource.created.toISOString(),
    lastModified: resource.lastModified.toISOString(),
    location,
    version: etagOf(resource.version),
  };
  return body;
}
