export {
  DEFAULT_GROUP_ATTRIBUTES,
  DEFAULT_GROUP_READ_BACK,
  DEFAULT_USER_ATTRIBUTES,
  DEFAULT_USER_READ_BACK,
  type LdapConnectionConfig,
  type LdapKindConfig,
  type LdapSecrets,
  type LdapTargetConfig,
  parseLdapConnection,
  parseLdapTargetConfig,
  readLdapSecrets,
} from './config.js';
export { type ConnectAddress, LdapConnection, type LdapEntry } from './ldap/connection.js';
export { escapeDnValue, escapeFilterValue } from './ldap/escape.js';
export { DEFAULT_SOURCE_MAPPING, type LdapSourceConfig, LdapSourceReader, parseLdapSourceConfig } from './source/ldap-source-reader.js';
export { type LdapConnectorOptions, ldapConnectorFactory } from './target/factory.js';
export { LdapConnector } from './target/ldap-connector.js';
