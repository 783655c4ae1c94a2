export { SCIM_ERROR_MAP, type ScimErrorBody, scimErrorBody, toScimError } from './http/errors.js';
export { renderResource } from './resources/render.js';
export { type ScimLimits, serviceProviderConfig } from './discovery/service-provider-config.js';
export { scimPlugin, type ScimPluginOptions } from './plugin.js';
