import type { Connector, ConnectorContext, ConnectorFactory, ConnectorSecrets } from '@meridian/connector-sdk';
import { parseScimConnectorConfig, readScimSecrets, type ScimConnectorConfig } from './config.js';
import { ScimPushConnector } from './scim-push-connector.js';

/**
 * The `scim` connector kind: pushes to any SCIM 2.0 service provider.
 * Config: `baseUrl` (required), `timeoutMs`, `maxMembersPerRequest`,
 * `pageSize`, `usePatch`, `supportsPassword`; secret: `token`.
 *
 * @example
 * const config = scimConnectorFactory.validateConfig({ baseUrl: 'https://csp.example/scim/v2' }, { token });
 * const connector = scimConnectorFactory.create(config, { token }, context);
 */
export const scimConnectorFactory: ConnectorFactory<ScimConnectorConfig> = {
  kind: 'scim',
  description: 'Any SCIM 2.0 service provider (RFC 7644): cloud services, Entra ID- or Okta-style apps, another Meridian hub.',
  secretNames: ['token'],
  validateConfig(config: unknown, secrets: ConnectorSecrets): ScimConnectorConfig {
    return parseScimConnectorConfig(config, secrets);
  },
  destinations(config: ScimConnectorConfig) {
    return [{ field: 'config.baseUrl', url: config.baseUrl }];
  },
  acceptsPasswords(config: ScimConnectorConfig): boolean {
    return config.supportsPassword;
  },
  create(config: ScimConnectorConfig, secrets: ConnectorSecrets, context: ConnectorContext): Connector {
    return new ScimPushConnector(config, readScimSecrets(secrets), context);
  },
};
