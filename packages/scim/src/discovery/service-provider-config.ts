import { resourceTypes, SCHEMA, type SchemaExtension, schemas, toSchemaDefinition } from '@meridian/core';

/** Limits advertised at `/ServiceProviderConfig` and enforced by the routes. */
export interface ScimLimits {
  maxResults: number;
  defaultCount: number;
  /** The largest request body, Bulk included (RFC 7644 §3.7.4). */
  maxPayloadSize: number;
  /** The most operations one Bulk request may carry. */
  maxOperations: number;
}

/** The truth about what this provider supports (RFC 7643 §5, RFC 9865 §5). */
export function serviceProviderConfig(baseUrl: string, limits: ScimLimits): Record<string, unknown> {
  return {
    schemas: [SCHEMA.serviceProviderConfig],
    documentationUri: 'https://github.com/meridian-hub/meridian/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: true, maxOperations: limits.maxOperations, maxPayloadSize: limits.maxPayloadSize },
    filter: { supported: true, maxResults: limits.maxResults },
    changePassword: { supported: true },
    sort: { supported: true },
    etag: { supported: true },
    pagination: {
      cursor: true,
      index: true,
      defaultPaginationMethod: 'index',
      defaultPageSize: limits.defaultCount,
      maxPageSize: limits.maxResults,
      // Cursors are keyset positions, not server state: they do not expire.
      cursorTimeout: 0,
    },
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

/** `/ResourceTypes` entries with their meta, the tenant's extensions included. */
export function resourceTypeResources(baseUrl: string, extensions: readonly SchemaExtension[] = []): Record<string, unknown>[] {
  return resourceTypes.map((type) => ({
    schemas: [SCHEMA.resourceType],
    ...type,
    schemaExtensions: [
      ...type.schemaExtensions,
      ...extensions.filter((e) => e.resourceType === type.id).map((e) => ({ schema: e.id, required: false })),
    ],
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${type.id}` },
  }));
}

/** `/Schemas` entries with their meta, the tenant's extensions included. */
export function schemaResources(baseUrl: string, extensions: readonly SchemaExtension[] = []): Record<string, unknown>[] {
  return [...schemas, ...extensions.map(toSchemaDefinition)].map((schema) => ({
    schemas: [SCHEMA.schema],
    ...schema,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  }));
}
