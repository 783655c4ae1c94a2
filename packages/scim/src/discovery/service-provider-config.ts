import { resourceTypes, SCHEMA, schemas } from '@meridian/core';

/** Limits advertised at `/ServiceProviderConfig` and enforced by the routes. */
export interface ScimLimits {
  maxResults: number;
  defaultCount: number;
  maxPayloadSize: number;
}

/** The truth about what this provider supports (RFC 7643 §5). */
export function serviceProviderConfig(baseUrl: string, limits: ScimLimits): Record<string, unknown> {
  return {
    schemas: [SCHEMA.serviceProviderConfig],
    documentationUri: 'https://github.com/meridian-hub/meridian/blob/main/docs/scim.md',
    patch: { supported: false },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: limits.maxResults },
    changePassword: { supported: true },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'An API token issued with `meridian token create`, sent as `Authorization: Bearer <token>` (RFC 6750).',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

/** `/ResourceTypes` entries with their meta. */
export function resourceTypeResources(baseUrl: string): Record<string, unknown>[] {
  return resourceTypes.map((type) => ({
    schemas: [SCHEMA.resourceType],
    ...type,
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${type.id}` },
  }));
}

/** `/Schemas` entries with their meta. */
export function schemaResources(baseUrl: string): Record<string, unknown>[] {
  return schemas.map((schema) => ({
    schemas: [SCHEMA.schema],
    ...schema,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  }));
}
