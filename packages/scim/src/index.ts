export { type BulkRouteOptions, DEFAULT_BULK_MAX_OPERATIONS, registerBulkRoute } from './bulk/route.js';
export { type ScimLimits, serviceProviderConfig } from './discovery/service-provider-config.js';
export { SCIM_ERROR_MAP, type ScimErrorBody, scimErrorBody, toScimError } from './http/errors.js';
export { type ScimPluginOptions, scimPlugin } from './plugin.js';
export { renderResource } from './resources/render.js';
