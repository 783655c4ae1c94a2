import type { ConnectorSecrets } from '@meridian/connector-sdk';
import { type InboundSource, MeridianError, type SourceEntry, type SourceLookupReader, type SourceRead } from '@meridian/core';
import { type LdapConnectionConfig, parseLdapConnection, readLdapSecrets } from '../config.js';
import { type ConnectAddress, LdapConnection, type LdapEntry } from '../ldap/connection.js';
import { escapeFilterValue } from '../ldap/escape.js';
import { InboundLdapMapping } from '../mapping/ldap-mapping.js';

/** The validated configuration of an LDAP source. */
export interface LdapSourceConfig extends LdapConnectionConfig {
  /** An extra LDAP filter (RFC 4515) the entries must match: the source's scope, with `baseDn`. */
  filter: string | null;
  /** The object class of the accounts read (`inetOrgPerson`). */
  objectClass: string;
  /** The operational attribute that identifies an entry for good (`entryUUID`, RFC 4530). */
  idAttribute: string;
  /** SCIM attribute path -> JSONata expression over the entry (attribute names in lower case). */
  mapping: Record<string, string>;
}

/** How an `inetOrgPerson` becomes a SCIM User by default. */
export const DEFAULT_SOURCE_MAPPING: Readonly<Record<string, string>> = {
  userName: 'uid[0]',
  displayName: '$exists(displayname) ? displayname : cn[0]',
  'name.givenName': 'givenname',
  'name.familyName': 'sn[0]',
  emails: '$exists(mail) ? [{ "value": mail[0], "type": "work", "primary": true }]',
  title: 'title',
  externalId: 'entryuuid',
};

const KEYS = [
  'url',
  'bindDn',
  'baseDn',
  'startTls',
  'caCertificate',
  'tlsVerify',
  'timeoutMs',
  'pageSize',
  'filter',
  'objectClass',
  'idAttribute',
  'mapping',
  'firstSignIn',
];

/**
 * The LDAP attribute a first-sign-in lookup compares when the source names a
 * SCIM path (core's defaults): the e-mail address is `mail`, the userName
 * `uid`; the upstream subject is compared with the source's `idAttribute`
 * unless `firstSignIn.attribute` names another LDAP attribute.
 */
const LOOKUP_LDAP_ATTRIBUTE: Readonly<Record<string, string>> = { 'emails.value': 'mail', userName: 'uid' };

function invalid(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_CONFIG', `LDAP source: ${message}`, { field });
}

/** True for a parenthesised filter whose parentheses balance (the server checks the rest). */
function looksLikeFilter(filter: string): boolean {
  if (!filter.startsWith('(') || !filter.endsWith(')')) return false;
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i];
    if (c === '\\') i += 2;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * Checks and normalises an LDAP source's config and secrets; throws
 * `INVALID_CONFIG` naming the first bad field.
 *
 * @example
 * parseLdapSourceConfig({ url: 'ldaps://ldap.office.example', bindDn: 'cn=hub,dc=office', baseDn: 'ou=people,dc=office', filter: '(employeeType=staff)' }, { bindPassword })
 */
export function parseLdapSourceConfig(config: unknown, secrets: ConnectorSecrets): LdapSourceConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw invalid('the config must be an object.', 'config');
  const raw = config as Record<string, unknown>;
  const extra = Object.keys(raw).filter((k) => !KEYS.includes(k));
  if (extra.length > 0) throw invalid(`unknown setting(s) ${extra.map((k) => `'${k}'`).join(', ')}; known: ${KEYS.join(', ')}.`, 'config');
  const connection = parseLdapConnection(raw);
  const filter = raw.filter === undefined || raw.filter === null || raw.filter === '' ? null : raw.filter;
  if (filter !== null && (typeof filter !== 'string' || !looksLikeFilter(filter.trim())))
    throw invalid("'config.filter' must be an LDAP filter in parentheses, such as '(departmentNumber=42)'.", 'config.filter');
  const mapping = raw.mapping === undefined ? { ...DEFAULT_SOURCE_MAPPING } : raw.mapping;
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping))
    throw invalid("'config.mapping' is an object of SCIM path -> JSONata expression.", 'config.mapping');
  if (!Object.keys(mapping).includes('userName')) throw invalid("'config.mapping' must map 'userName'.", 'config.mapping');
  new InboundLdapMapping('User', mapping as Record<string, string>, 'config.mapping');
  const name = (value: unknown, field: string, fallback: string) => {
    const out = value ?? fallback;
    if (typeof out !== 'string' || !/^[A-Za-z][A-Za-z0-9-]*$/.test(out))
      throw invalid(`'${field}' must be an attribute or class name.`, field);
    return out;
  };
  if (raw.firstSignIn !== undefined) {
    const settings = raw.firstSignIn as { lookupBy?: unknown; attribute?: unknown } | null;
    if (
      typeof settings !== 'object' ||
      settings === null ||
      !['subject', 'email', 'userName', undefined].includes(settings.lookupBy as never)
    )
      throw invalid("'config.firstSignIn.lookupBy' is subject, email or userName.", 'config.firstSignIn');
    if (
      settings.attribute !== undefined &&
      (typeof settings.attribute !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,99}$/.test(settings.attribute))
    )
      throw invalid("'config.firstSignIn.attribute' is an LDAP attribute name, such as 'mail'.", 'config.firstSignIn');
  }
  readLdapSecrets(secrets);
  return {
    ...connection,
    filter: filter === null ? null : (filter as string).trim(),
    objectClass: name(raw.objectClass, 'config.objectClass', 'inetOrgPerson'),
    idAttribute: name(raw.idAttribute, 'config.idAttribute', 'entryUUID'),
    mapping: mapping as Record<string, string>,
  };
}

/**
 * Reads an office's LDAP directory for the hub (core's {@link SourceReader}):
 * a paged subtree search below `baseDn` for the object class and the
 * source's filter, everything or what changed since the cursor
 * (`modifyTimestamp>=`), each entry mapped to a SCIM User. The cursor is the
 * newest `modifyTimestamp` read; an entry changed in the same second is read
 * again next time, which changes nothing.
 */
export class LdapSourceReader implements SourceLookupReader {
  constructor(private readonly connectAddress: ConnectAddress) {}

  /**
   * One person for a first sign-in (issue 16, use case 2.4.4): the entry in
   * the source's scope whose attribute equals the value (escaped, RFC 4515).
   * None: undefined (the sign-in is refused). Several: a `CONFLICT`, since
   * the hub cannot tell which person signed in.
   */
  async lookup(
    source: InboundSource,
    secrets: Record<string, string>,
    query: { attribute: string; value: string },
  ): Promise<SourceEntry | undefined> {
    const config = parseLdapSourceConfig(source.config, secrets);
    const attribute = query.attribute === 'externalId' ? config.idAttribute : (LOOKUP_LDAP_ATTRIBUTE[query.attribute] ?? query.attribute);
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(attribute))
      throw invalid(`'${query.attribute}' is not an LDAP attribute a first sign-in can look up.`, 'config.firstSignIn');
    const filter = `(&(objectClass=${config.objectClass})${config.filter ?? ''}(${attribute}=${escapeFilterValue(query.value)}))`;
    const connection = new LdapConnection(config, readLdapSecrets(secrets), this.connectAddress);
    const found: LdapEntry[] = [];
    try {
      for await (const entry of connection.search(
        config.baseDn,
        { scope: 'sub', filter, attributes: ['*', config.idAttribute] },
        'error',
      )) {
        found.push(entry);
        if (found.length > 1) break;
      }
    } finally {
      await connection.close();
    }
    if (found.length > 1)
      throw new MeridianError(
        'CONFLICT',
        `More than one entry of the office's directory has ${attribute}=${query.value}; the sign-in cannot tell which.`,
        {
          field: 'config.firstSignIn',
        },
      );
    const entry = found[0];
    const remoteId = entry?.attributes[config.idAttribute.toLowerCase()]?.[0];
    if (!entry || !remoteId) return undefined;
    const mapping = new InboundLdapMapping('User', config.mapping, 'config.mapping');
    return { remoteId, location: entry.dn, attributes: await mapping.map(entry) };
  }

  async read(
    source: InboundSource,
    secrets: Record<string, string>,
    since: string | null,
    onProgress?: (read: number) => void,
  ): Promise<SourceRead> {
    const config = parseLdapSourceConfig(source.config, secrets);
    const connection = new LdapConnection(config, readLdapSecrets(secrets), this.connectAddress);
    const mapping = new InboundLdapMapping('User', config.mapping, 'config.mapping');
    const clauses = [`(objectClass=${config.objectClass})`, config.filter ?? '', since ? `(modifyTimestamp>=${since})` : ''];
    const filter = `(&${clauses.join('')})`;
    const entries: SourceEntry[] = [];
    let cursor = since;
    const idKey = config.idAttribute.toLowerCase();
    try {
      for await (const entry of connection.search(
        config.baseDn,
        {
          scope: 'sub',
          filter,
          attributes: ['*', config.idAttribute, 'modifyTimestamp'],
        },
        'error',
      )) {
        const remoteId = entry.attributes[idKey]?.[0];
        if (!remoteId) continue;
        const modified = entry.attributes.modifytimestamp?.[0];
        if (modified && (cursor === null || modified > cursor)) cursor = modified;
        entries.push({ remoteId, location: entry.dn, attributes: await mapping.map(entry) });
        if (entries.length % 500 === 0) onProgress?.(entries.length);
      }
    } finally {
      await connection.close();
    }
    onProgress?.(entries.length);
    return { entries, cursor };
  }
}
