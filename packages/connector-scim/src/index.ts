export {
  parseScimConnectorConfig,
  readScimSecrets,
  type ScimConnectorConfig,
  type ScimConnectorSecrets,
} from './config.js';
export { scimConnectorFactory } from './factory.js';
export { parseRetryAfter, redactSecrets } from './http/scim-http-client.js';
export { diffAttributes, type ScimPatchOperation } from './patch/diff-attributes.js';
export { ScimPushConnector } from './scim-push-connector.js';
export { parseScimSourceConfig, type ScimSourceConfig, type ScimSourceEvents, ScimSourceReader } from './source/scim-source-reader.js';
