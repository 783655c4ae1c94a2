import { isIP, connect as netConnect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { ConnectorError, type ConnectorErrorCode, type ConnectorErrorKind } from '@meridian/connector-sdk';
import { findOutboundRefusal } from '@meridian/core';
import { Client, type Entry, ResultCodeError, type SearchOptions } from 'ldapts';
import type { LdapConnectionConfig, LdapSecrets } from '../config.js';

/**
 * The hub's outbound request policy for a socket: resolves `host`, checks
 * every address it has, and answers the one to connect to; rejects with
 * core's `OutboundRefusedError` otherwise. The hub builds it from the same
 * policy its `fetch` enforces (`MERIDIAN_OUTBOUND_ALLOW`).
 */
export type ConnectAddress = (host: string) => Promise<string>;

/** An LDAP entry as the connector reads it: attribute names in lower case, values as strings. */
export interface LdapEntry {
  dn: string;
  attributes: Record<string, string[]>;
}

/** What an operation was, for error records and counting (never a value of a secret). */
export interface LdapOperation {
  method: 'bind' | 'search' | 'add' | 'modify' | 'modifyDN' | 'delete' | 'extended' | 'compare' | 'members';
  dn: string;
  body?: unknown;
}

// RFC 4511 §4.1.9 result codes and what the engine should do about them.
const RESULT_CODES: Record<number, { kind: ConnectorErrorKind; code?: ConnectorErrorCode }> = {
  3: { kind: 'transient' }, // timeLimitExceeded
  7: { kind: 'permanent', code: 'UNSUPPORTED' }, // authMethodNotSupported
  8: { kind: 'permanent', code: 'UNSUPPORTED' }, // strongerAuthRequired
  12: { kind: 'permanent', code: 'UNSUPPORTED' }, // unavailableCriticalExtension
  13: { kind: 'permanent', code: 'UNSUPPORTED' }, // confidentialityRequired
  32: { kind: 'permanent', code: 'NOT_FOUND' }, // noSuchObject
  48: { kind: 'permanent', code: 'UNAUTHORIZED' }, // inappropriateAuthentication
  49: { kind: 'permanent', code: 'UNAUTHORIZED' }, // invalidCredentials
  50: { kind: 'permanent', code: 'UNAUTHORIZED' }, // insufficientAccessRights
  51: { kind: 'transient' }, // busy
  52: { kind: 'transient' }, // unavailable
  68: { kind: 'permanent', code: 'CONFLICT' }, // entryAlreadyExists
  80: { kind: 'transient' }, // other
};

// RFC 4511 §4.1.9 names, for messages: servers often send an empty diagnostic (slapd does for a wrong
// password and a missing base), and ldapts then says only "Code: 0x31".
const RESULT_NAMES: Record<number, string> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  4: 'sizeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  11: 'adminLimitExceeded',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  16: 'noSuchAttribute',
  17: 'undefinedAttributeType',
  18: 'inappropriateMatching',
  19: 'constraintViolation',
  20: 'attributeOrValueExists',
  21: 'invalidAttributeSyntax',
  32: 'noSuchObject: the entry does not exist',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials: wrong bind DN or password',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  64: 'namingViolation',
  65: 'objectClassViolation',
  66: 'notAllowedOnNonLeaf',
  67: 'notAllowedOnRDN',
  68: 'entryAlreadyExists',
  69: 'objectClassModsProhibited',
  80: 'other',
};

/** The server's diagnostic without ldapts's " Code: 0x.." suffix, and the result code's name, e.g. `invalidCredentials`. */
function describeResult(error: ResultCodeError): string {
  const diagnostic = error.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  const name = RESULT_NAMES[error.code];
  if (!name) return diagnostic || 'error';
  return diagnostic ? `${name.split(':')[0]}: ${diagnostic}` : name;
}

const TLS_FAILURE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME/;

/**
 * Turns whatever an LDAP call threw into the engine's `ConnectorError`:
 * result codes by RFC 4511, refusals of the outbound policy and certificate
 * failures as permanent, socket trouble as transient. The request record
 * names the operation and DN, never a password.
 */
function toConnectorError(error: unknown, url: string, operation: LdapOperation): ConnectorError {
  const request = { method: `LDAP ${operation.method}`, url: `${url}/${encodeURIComponent(operation.dn)}`, body: operation.body };
  const refusal = findOutboundRefusal(error);
  if (refusal) return new ConnectorError('permanent', refusal.message, { code: 'OUTBOUND_REFUSED', request, cause: error });
  if (error instanceof ResultCodeError) {
    const known = RESULT_CODES[error.code] ?? { kind: 'permanent' as const };
    return new ConnectorError(
      known.kind,
      `LDAP ${operation.method} of '${operation.dn}' failed: ${describeResult(error)} (result ${error.code})`,
      {
        ...(known.code ? { code: known.code } : {}),
        status: error.code,
        request,
        response: { status: error.code, body: error.message },
        cause: error,
      },
    );
  }
  const code = String((error as { code?: unknown }).code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  if (TLS_FAILURE.test(code) || /certificate/i.test(message)) {
    return new ConnectorError('permanent', `TLS to ${url} failed: ${message}`, { code: 'UNAUTHORIZED', request, cause: error });
  }
  return new ConnectorError('transient', `LDAP ${operation.method} to ${url} failed: ${message}`, { request, cause: error });
}

function lowerCaseEntry(entry: Entry): LdapEntry {
  const attributes: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const values = Array.isArray(value) ? value : [value];
    attributes[name.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }
  return { dn: entry.dn, attributes };
}

/**
 * One bound connection to one LDAP server, opened on first use through the
 * outbound policy, with TLS as configured (certificate checked against the
 * host name unless `tlsVerify` is off). A socket failure drops it; the next
 * call connects and binds again.
 */
export class LdapConnection {
  /** Operations sent, by method (what the delta tests and the benchmark count); `members` counts membership changes, whose modifies and compares count apart. */
  readonly counts: Record<LdapOperation['method'], number> = {
    bind: 0,
    search: 0,
    add: 0,
    modify: 0,
    modifyDN: 0,
    delete: 0,
    extended: 0,
    compare: 0,
    members: 0,
  };
  #client: Promise<Client> | undefined;

  constructor(
    readonly config: LdapConnectionConfig,
    private readonly secrets: LdapSecrets,
    private readonly connectAddress: ConnectAddress,
  ) {}

  private tlsOptions(hostname: string): ConnectionOptions {
    return {
      ...(this.config.caCertificate ? { ca: this.config.caCertificate } : {}),
      rejectUnauthorized: this.config.tlsVerify,
      minVersion: 'TLSv1.2',
      // The certificate is checked against the name the admin gave, not the address it resolved to.
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
    };
  }

  private async open(): Promise<Client> {
    const url = new URL(this.config.url);
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const secure = url.protocol === 'ldaps:';
    const address = await this.connectAddress(hostname);
    const tlsOptions = this.tlsOptions(hostname);
    const secureConnection = ((first: unknown, _host: unknown, options: ConnectionOptions | undefined) =>
      typeof first === 'number'
        ? tlsConnect({ ...options, ...tlsOptions, port: first, host: address })
        : // StartTLS: the upgrade of the socket already connected to the checked address.
          tlsConnect({ ...(first as ConnectionOptions), ...tlsOptions, host: hostname })) as unknown as typeof tlsConnect;
    const client = new Client({
      url: this.config.url,
      timeout: this.config.timeoutMs,
      connectTimeout: Math.min(this.config.timeoutMs, 10_000),
      // ldapts takes any tlsOptions as a wish for ldaps://; StartTLS gets them at the upgrade.
      ...(secure ? { tlsOptions } : {}),
      strictDN: false,
      createConnection: ((p: number) => netConnect(p, address)) as unknown as typeof netConnect,
      createSecureConnection: secureConnection,
      autoRebind: !this.config.startTls,
    });
    try {
      if (this.config.startTls) await client.startTLS(tlsOptions);
      this.counts.bind++;
      await client.bind(this.config.bindDn, this.secrets.bindPassword);
      return client;
    } catch (error) {
      await client.unbind().catch(() => undefined);
      throw error;
    }
  }

  /** Runs `work` on the bound client; every failure becomes a `ConnectorError`. */
  async run<T>(operation: LdapOperation, work: (client: Client) => Promise<T>): Promise<T> {
    let client: Client;
    try {
      this.#client ??= this.open();
      client = await this.#client;
    } catch (error) {
      this.#client = undefined;
      throw toConnectorError(error, this.config.url, { method: 'bind', dn: this.config.bindDn });
    }
    this.counts[operation.method]++;
    try {
      return await work(client);
    } catch (error) {
      if (!(error instanceof ResultCodeError)) {
        this.#client = undefined;
        await client.unbind().catch(() => undefined);
      }
      throw toConnectorError(error, this.config.url, operation);
    }
  }

  /**
   * Every entry a search finds, page by page (RFC 2696). A missing base finds nothing (a target's
   * container not made yet), unless `missingBase` is `'error'`: for a source, a base DN that does not
   * exist is a mistake to report, not an empty directory whose accounts a full sync would delete.
   */
  async *search(base: string, options: SearchOptions, missingBase: 'empty' | 'error' = 'empty'): AsyncGenerator<LdapEntry> {
    const operation: LdapOperation = { method: 'search', dn: base, body: { filter: String(options.filter ?? '(objectClass=*)') } };
    const pages = await this.run(operation, async (client) =>
      client.searchPaginated(base, { ...options, paged: { pageSize: this.config.pageSize } }),
    );
    while (true) {
      let next: IteratorResult<{ searchEntries: Entry[] }>;
      try {
        next = await pages.next();
      } catch (error) {
        if (error instanceof ResultCodeError && error.code === 32) {
          if (missingBase === 'empty') return;
          throw new ConnectorError('permanent', `LDAP base DN '${base}' does not exist at ${this.config.url} (noSuchObject, result 32).`, {
            code: 'NOT_FOUND',
            status: 32,
            request: { method: 'LDAP search', url: `${this.config.url}/${encodeURIComponent(base)}`, body: operation.body },
            cause: error,
          });
        }
        throw toConnectorError(error, this.config.url, operation);
      }
      if (next.done) return;
      for (const entry of next.value.searchEntries) yield lowerCaseEntry(entry);
    }
  }

  /** The entries of one search, in one array (small results only). */
  async searchAll(base: string, options: SearchOptions): Promise<LdapEntry[]> {
    const out: LdapEntry[] = [];
    for await (const entry of this.search(base, options)) out.push(entry);
    return out;
  }

  /** One entry by DN, or undefined when there is none. */
  async read(dn: string, attributes: string[]): Promise<LdapEntry | undefined> {
    try {
      const found = await this.run({ method: 'search', dn }, (client) => client.search(dn, { scope: 'base', attributes }));
      const entry = found.searchEntries[0];
      return entry ? lowerCaseEntry(entry) : undefined;
    } catch (error) {
      if (error instanceof ConnectorError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** Closes the connection (an unbind, RFC 4511 §4.3). */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await (await client.catch(() => undefined))?.unbind().catch(() => undefined);
  }
}
