import type { ConnectorSecrets } from '@meridian/connector-sdk';
import { MeridianError } from '@meridian/core';

/** How to reach and bind to one LDAP server (targets and sources share it). */
export interface LdapConnectionConfig {
  /** `ldap://host:389` or `ldaps://host:636`; no DN, no credentials. */
  url: string;
  /** The DN the hub binds as (its password is the secret `bindPassword`). */
  bindDn: string;
  /** The naming context the hub works under. */
  baseDn: string;
  /** Upgrade an `ldap://` connection with StartTLS (RFC 4511 §4.14) before binding. */
  startTls: boolean;
  /** PEM of the CA(s) that sign the server's certificate, when not a public CA. */
  caCertificate: string | null;
  /** Check the server's certificate and name. On by default; off only for a test bench. */
  tlsVerify: boolean;
  /** How long one LDAP operation may take before it counts as a transient failure. */
  timeoutMs: number;
  /** Entries per page of a search (RFC 2696 paged results). */
  pageSize: number;
}

/** Where and how one kind of hub resource lives in the directory. */
export interface LdapKindConfig {
  /** The container new entries are created under, and the base searches start from. */
  base: string;
  /** Object classes of a new entry (`inetOrgPerson`, `groupOfNames`). */
  objectClasses: string[];
  /** The attribute that names an entry in its DN (`uid`, `cn`); a change of its value is a modifyDN. */
  rdnAttribute: string;
  /** LDAP attribute -> JSONata expression over the outbound SCIM object (the SDK's mapping language). */
  attributes: Record<string, string>;
  /** SCIM attribute path -> JSONata expression over the LDAP entry (attribute names in lower case). */
  readBack: Record<string, string>;
}

/** The validated configuration of one LDAP target. */
export interface LdapTargetConfig extends LdapConnectionConfig {
  /** The operational attribute that identifies an entry for good (OpenLDAP `entryUUID`); the remote id. */
  idAttribute: string;
  users: LdapKindConfig & {
    /** How a user is disabled when the target's delete mode is `deactivate` (none: deactivation deletes). */
    disable: { attribute: string; value: string } | null;
  };
  groups: LdapKindConfig;
  /** `member` for groupOfNames, `uniqueMember` for groupOfUniqueNames. */
  memberAttribute: 'member' | 'uniqueMember';
  /** The value a group with no members holds (both object classes require one member); `cn=nobody,<baseDn>` by default. */
  emptyMember: string;
  /** Passwords are pushed (RFC 3062 password modify); needs TLS. */
  supportsPassword: boolean;
  /** The most member values one modify carries; larger deltas are split. */
  maxValuesPerModify: number;
}

/** The secrets of an LDAP target or source. */
export interface LdapSecrets {
  bindPassword: string;
}

const CONNECTION_KEYS = ['url', 'bindDn', 'baseDn', 'startTls', 'caCertificate', 'tlsVerify', 'timeoutMs', 'pageSize'];
const TARGET_KEYS = [...CONNECTION_KEYS, 'idAttribute', 'users', 'groups', 'emptyMember', 'supportsPassword', 'maxValuesPerModify'];
const KIND_KEYS = ['base', 'objectClasses', 'rdnAttribute', 'attributes', 'readBack'];
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9-]*$/;

/** The default user mapping: an `inetOrgPerson` from SCIM core attributes (RFC 2798). */
export const DEFAULT_USER_ATTRIBUTES: Readonly<Record<string, string>> = {
  uid: 'userName',
  cn: '$exists(displayName) ? displayName : ($exists(name.formatted) ? name.formatted : userName)',
  sn: '$exists(name.familyName) ? name.familyName : userName',
  givenName: 'name.givenName',
  displayName: 'displayName',
  mail: '$exists(emails[primary = true]) ? emails[primary = true][0].value : emails[0].value',
  title: 'title',
  telephoneNumber: 'phoneNumbers.value',
  employeeNumber: 'externalId',
};

/** How the default user entry reads back as SCIM. */
export const DEFAULT_USER_READ_BACK: Readonly<Record<string, string>> = {
  userName: 'uid',
  displayName: 'displayname',
  'name.givenName': 'givenname',
  'name.familyName': 'sn',
  title: 'title',
  emails: '$exists(mail) ? [{ "value": mail[0], "primary": true }]',
  externalId: 'employeenumber',
};

/** The default group mapping: `cn` from displayName, the hub's id in `businessCategory`. */
export const DEFAULT_GROUP_ATTRIBUTES: Readonly<Record<string, string>> = {
  cn: 'displayName',
  businessCategory: 'externalId',
};

/** How the default group entry reads back as SCIM. */
export const DEFAULT_GROUP_READ_BACK: Readonly<Record<string, string>> = {
  displayName: 'cn[0]',
  externalId: 'businesscategory',
};

function invalid(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_CONFIG', `LDAP connector: ${message}`, { field });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKeys(value: Record<string, unknown>, known: string[], field: string): void {
  const extra = Object.keys(value).filter((k) => !known.includes(k));
  if (extra.length > 0) throw invalid(`unknown setting(s) ${extra.map((k) => `'${k}'`).join(', ')}; known: ${known.join(', ')}.`, field);
}

function text(value: unknown, field: string, fallback?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`'${field}' must be a non-empty string.`, field);
  return value.trim();
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`'${field}' must be true or false.`, field);
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`'${field}' must be a whole number from ${min} to ${max}.`, field);
  return value;
}

/** A DN as an admin gives it: `attr=value` pairs separated by commas. */
function dn(value: unknown, field: string, fallback?: string): string {
  const out = text(value, field, fallback);
  if (!/^[A-Za-z][A-Za-z0-9-]*=.+/.test(out)) throw invalid(`'${field}' must be a DN such as 'dc=example,dc=org'.`, field);
  return out;
}

function attributeName(value: unknown, field: string, fallback: string): string {
  const out = text(value, field, fallback);
  if (!ATTRIBUTE.test(out)) throw invalid(`'${field}' must be an LDAP attribute name.`, field);
  return out;
}

function rules(value: unknown, field: string, fallback: Readonly<Record<string, string>>, keyIsAttribute: boolean): Record<string, string> {
  if (value === undefined) return { ...fallback };
  if (!isObject(value)) throw invalid(`'${field}' must be an object of expressions.`, field);
  for (const [key, rule] of Object.entries(value)) {
    if (keyIsAttribute && !ATTRIBUTE.test(key)) throw invalid(`'${key}' is not an LDAP attribute name.`, `${field}.${key}`);
    if (typeof rule !== 'string' || rule.trim() === '') throw invalid('a rule is a JSONata expression string.', `${field}.${key}`);
  }
  return value as Record<string, string>;
}

/** Checks the connection part of an LDAP target's or source's config; `INVALID_CONFIG` naming the field. */
export function parseLdapConnection(config: Record<string, unknown>, prefix = 'config'): LdapConnectionConfig {
  const url = text(config.url, `${prefix}.url`);
  if (!URL.canParse(url)) throw invalid(`'${prefix}.url' must be an ldap:// or ldaps:// URL.`, `${prefix}.url`);
  const parsed = new URL(url);
  if (parsed.protocol !== 'ldap:' && parsed.protocol !== 'ldaps:')
    throw invalid(`'${prefix}.url' must be an ldap:// or ldaps:// URL.`, `${prefix}.url`);
  if (parsed.username !== '' || parsed.password !== '')
    throw invalid(`'${prefix}.url' must not carry credentials: the bind password is a secret.`, `${prefix}.url`);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '')
    throw invalid(`'${prefix}.url' is the scheme, host and port only; the base DN is 'baseDn'.`, `${prefix}.url`);
  const startTls = bool(config.startTls, `${prefix}.startTls`, false);
  if (startTls && parsed.protocol === 'ldaps:')
    throw invalid(`'${prefix}.startTls' is for ldap:// URLs; ldaps:// is TLS already.`, `${prefix}.startTls`);
  const ca = config.caCertificate;
  if (ca !== undefined && ca !== null && (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')))
    throw invalid(`'${prefix}.caCertificate' must be PEM ('-----BEGIN CERTIFICATE-----').`, `${prefix}.caCertificate`);
  return {
    url: `${parsed.protocol}//${parsed.host}`,
    bindDn: dn(config.bindDn, `${prefix}.bindDn`),
    baseDn: dn(config.baseDn, `${prefix}.baseDn`),
    startTls,
    caCertificate: typeof ca === 'string' ? ca : null,
    tlsVerify: bool(config.tlsVerify, `${prefix}.tlsVerify`, true),
    timeoutMs: integer(config.timeoutMs, `${prefix}.timeoutMs`, 100, 600_000, 30_000),
    pageSize: integer(config.pageSize, `${prefix}.pageSize`, 1, 10_000, 500),
  };
}

/** True when the connection is encrypted: `ldaps://` or StartTLS. */
export function usesTls(config: LdapConnectionConfig): boolean {
  return config.url.startsWith('ldaps:') || config.startTls;
}

function kindConfig(
  value: unknown,
  field: string,
  baseDn: string,
  defaults: {
    objectClasses: string[];
    rdnAttribute: string;
    attributes: Readonly<Record<string, string>>;
    readBack: Readonly<Record<string, string>>;
  },
  extraKeys: string[],
): LdapKindConfig {
  if (value !== undefined && !isObject(value)) throw invalid(`'${field}' must be an object.`, field);
  const kind = (value ?? {}) as Record<string, unknown>;
  unknownKeys(kind, [...KIND_KEYS, ...extraKeys], field);
  const objectClasses = kind.objectClasses ?? defaults.objectClasses;
  if (
    !Array.isArray(objectClasses) ||
    objectClasses.length === 0 ||
    !objectClasses.every((c) => typeof c === 'string' && ATTRIBUTE.test(c))
  )
    throw invalid(`'${field}.objectClasses' must be a non-empty list of object class names.`, `${field}.objectClasses`);
  const rdnAttribute = attributeName(kind.rdnAttribute, `${field}.rdnAttribute`, defaults.rdnAttribute);
  const attributes = rules(kind.attributes, `${field}.attributes`, defaults.attributes, true);
  if (!Object.keys(attributes).some((a) => a.toLowerCase() === rdnAttribute.toLowerCase()))
    throw invalid(`the RDN attribute '${rdnAttribute}' needs a rule in '${field}.attributes'.`, `${field}.attributes`);
  return {
    base: dn(kind.base, `${field}.base`, baseDn),
    objectClasses: objectClasses as string[],
    rdnAttribute,
    attributes,
    readBack: rules(kind.readBack, `${field}.readBack`, defaults.readBack, false),
  };
}

/** The bind password; `INVALID_CONFIG` naming `secrets.bindPassword` when it is missing. */
export function readLdapSecrets(secrets: ConnectorSecrets): LdapSecrets {
  const bindPassword = secrets.bindPassword;
  if (typeof bindPassword !== 'string' || bindPassword === '')
    throw invalid("the secret 'bindPassword' (the bind DN's password) is required.", 'secrets.bindPassword');
  return { bindPassword };
}

/**
 * Checks and normalises an LDAP target's config and secrets; throws a
 * `MeridianError` with code `INVALID_CONFIG` naming the first bad field.
 *
 * @example
 * parseLdapTargetConfig({ url: 'ldaps://ldap.example:636', bindDn: 'cn=hub,dc=example', baseDn: 'ou=people,dc=example' }, { bindPassword })
 */
export function parseLdapTargetConfig(config: unknown, secrets: ConnectorSecrets): LdapTargetConfig {
  if (!isObject(config)) throw invalid('the config must be an object.', 'config');
  unknownKeys(config, TARGET_KEYS, 'config');
  const connection = parseLdapConnection(config);
  const users = kindConfig(
    config.users,
    'config.users',
    connection.baseDn,
    { objectClasses: ['inetOrgPerson'], rdnAttribute: 'uid', attributes: DEFAULT_USER_ATTRIBUTES, readBack: DEFAULT_USER_READ_BACK },
    ['disable'],
  );
  const groups = kindConfig(
    config.groups,
    'config.groups',
    connection.baseDn,
    { objectClasses: ['groupOfNames'], rdnAttribute: 'cn', attributes: DEFAULT_GROUP_ATTRIBUTES, readBack: DEFAULT_GROUP_READ_BACK },
    [],
  );
  const classes = groups.objectClasses.map((c) => c.toLowerCase());
  const memberAttribute = classes.includes('groupofuniquenames') ? 'uniqueMember' : 'member';
  if (!classes.includes('groupofnames') && !classes.includes('groupofuniquenames'))
    throw invalid("'config.groups.objectClasses' must include groupOfNames or groupOfUniqueNames.", 'config.groups.objectClasses');
  const rawDisable = isObject(config.users) ? config.users.disable : undefined;
  let disable: { attribute: string; value: string } | null = null;
  if (rawDisable !== undefined && rawDisable !== null) {
    if (!isObject(rawDisable)) throw invalid("'config.users.disable' is { attribute, value }.", 'config.users.disable');
    disable = {
      attribute: attributeName(rawDisable.attribute, 'config.users.disable.attribute', ''),
      value: text(rawDisable.value, 'config.users.disable.value'),
    };
  }
  const supportsPassword = bool(config.supportsPassword, 'config.supportsPassword', false);
  if (supportsPassword && !usesTls(connection))
    throw invalid("'config.supportsPassword' needs TLS: an ldaps:// URL or startTls: true.", 'config.supportsPassword');
  readLdapSecrets(secrets);
  return {
    ...connection,
    idAttribute: attributeName(config.idAttribute, 'config.idAttribute', 'entryUUID'),
    users: { ...users, disable },
    groups,
    memberAttribute,
    emptyMember: dn(config.emptyMember, 'config.emptyMember', `cn=nobody,${connection.baseDn}`),
    supportsPassword,
    maxValuesPerModify: integer(config.maxValuesPerModify, 'config.maxValuesPerModify', 1, 100_000, 1_000),
  };
}
