import type { Connector, ConnectorContext, ConnectorFactory, ConnectorSecrets } from '@meridian/connector-sdk';
import { type LdapTargetConfig, parseLdapTargetConfig, readLdapSecrets, usesTls } from '../config.js';
import type { ConnectAddress } from '../ldap/connection.js';
import { checkLdapMappings, LdapConnector } from './ldap-connector.js';

/** What the hub gives the LDAP connector kind beyond the SDK's context. */
export interface LdapConnectorOptions {
  /** The outbound request policy for sockets: the address to connect to for a host, or a refusal. */
  connectAddress: ConnectAddress;
}

/**
 * The `ldap` connector kind: pushes to any LDAP v3 directory.
 * Config: `url`, `bindDn`, `baseDn` (required), `startTls`, `caCertificate`,
 * `tlsVerify`, `users`, `groups`, `idAttribute`, `emptyMember`,
 * `supportsPassword`, `pageSize`, `timeoutMs`, `maxValuesPerModify`;
 * secret: `bindPassword`. The hub passes its outbound policy for sockets,
 * since LDAP does not go through `fetch`.
 *
 * @example
 * const factory = ldapConnectorFactory({ connectAddress: (host) => outbound.checkedAddress(host) });
 */
export function ldapConnectorFactory(options: LdapConnectorOptions): ConnectorFactory<LdapTargetConfig> {
  return {
    kind: 'ldap',
    description:
      'Any LDAP v3 directory (OpenLDAP, 389 Directory Server, Active Directory LDS): users as inetOrgPerson, groups as groupOfNames.',
    secretNames: ['bindPassword'],
    validateConfig(config: unknown, secrets: ConnectorSecrets): LdapTargetConfig {
      const parsed = parseLdapTargetConfig(config, secrets);
      // Bad expressions are INVALID_CONFIG when the target is saved, not when it first pushes.
      checkLdapMappings(parsed);
      return parsed;
    },
    destinations(config: LdapTargetConfig) {
      return [{ field: 'config.url', url: config.url }];
    },
    acceptsPasswords(config: LdapTargetConfig): boolean {
      return config.supportsPassword && usesTls(config);
    },
    create(config: LdapTargetConfig, secrets: ConnectorSecrets, context: ConnectorContext): Connector {
      return new LdapConnector(config, readLdapSecrets(secrets), context, options.connectAddress);
    },
  };
}
