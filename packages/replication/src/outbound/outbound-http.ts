import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  checkOutboundAddress,
  checkOutboundTarget,
  MeridianError,
  NO_ALLOWED_DESTINATIONS,
  normalizeHost,
  type OutboundAllowList,
  OutboundRefusedError,
  type OutboundVerdict,
  parseOutboundAllowList,
} from '@meridian/core';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

/** Resolves a host name to every address it has (tests substitute one to play DNS). */
export type HostResolver = (hostname: string) => Promise<string[]>;

/** Options of {@link OutboundHttp}. */
export interface OutboundHttpOptions {
  /** `MERIDIAN_OUTBOUND_ALLOW` (parsed or as text); empty: only public addresses. */
  allow?: OutboundAllowList | string | undefined;
  /** Name resolution; `dns.lookup` with every address by default. */
  resolve?: HostResolver;
  /** TCP and TLS connect timeout. Default 10 seconds. */
  connectTimeoutMs?: number;
  /** How long a check at create time waits for name resolution before it leaves the decision to connect time. Default 5 seconds. */
  resolveTimeoutMs?: number;
}

const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

type Refused = Extract<OutboundVerdict, { allowed: false }>;

/**
 * Every HTTP request the hub makes on behalf of a tenant or a community
 * (replication targets, connector tests, directory exports, JWKS) goes
 * through {@link OutboundHttp.fetch}: the outbound request policy
 * (docs/security.md, "Outbound requests"; ADR 0017).
 *
 * - Only `http:` and `https:` URLs.
 * - The address is checked when the socket is opened: a literal address as
 *   it is, a host name once resolved, every address it resolves to; the
 *   connection then goes to the checked address, with the name kept for the
 *   `Host` header and TLS (SNI and certificate check). A name that is
 *   re-pointed between a check and the request cannot slip through.
 * - Allowed: public unicast addresses, and what `MERIDIAN_OUTBOUND_ALLOW` opens.
 * - Redirects are never followed (`redirect: 'manual'`): a 3xx comes back as it is.
 *
 * A refusal rejects with core's {@link OutboundRefusedError}; no connection was made.
 */
export class OutboundHttp {
  readonly allowList: OutboundAllowList;
  /** The one `fetch` the hub hands out for tenant and community requests. */
  readonly fetch: typeof globalThis.fetch;
  readonly #resolve: HostResolver;
  readonly #resolveTimeoutMs: number;
  readonly #agent: Agent;

  constructor(options: OutboundHttpOptions = {}) {
    this.allowList = typeof options.allow === 'string' ? parseOutboundAllowList(options.allow) : (options.allow ?? NO_ALLOWED_DESTINATIONS);
    this.#resolve = options.resolve ?? systemResolver;
    this.#resolveTimeoutMs = options.resolveTimeoutMs ?? 5_000;
    const connect = buildConnector({ timeout: options.connectTimeoutMs ?? 10_000 });
    this.#agent = new Agent({
      connect: (target, callback) => {
        this.#addressFor(target.hostname).then(
          (address) =>
            connect(
              {
                ...target,
                hostname: address,
                // The certificate is checked against the name, not the address.
                ...(isIP(target.hostname) === 0 ? { servername: target.servername || target.hostname } : {}),
              },
              callback,
            ),
          (error: Error) => callback(error, null),
        );
      },
    });
    this.fetch = this.fetchFor();
  }

  /** The policy's `fetch` with extra rules: `httpsOnly` refuses plain http unless the allow-list opens the host (JWKS). */
  fetchFor(options: { httpsOnly?: boolean } = {}): typeof globalThis.fetch {
    return (input, init) => this.#fetch(input, init, options);
  }

  /**
   * The policy for a connection that is not HTTP (LDAP targets and sources,
   * issue 18): the address to open a socket to for `hostname`, after every
   * address it resolves to was checked; an `OutboundRefusedError` otherwise.
   */
  connectAddress(hostname: string): Promise<string> {
    return this.#addressFor(hostname);
  }

  /** The address to connect to for `hostname`, after the policy checked every address it resolves to. */
  async #addressFor(hostname: string): Promise<string> {
    const host = normalizeHost(hostname);
    if (isIP(host) !== 0) {
      const verdict = checkOutboundAddress(this.allowList, host, host);
      if (!verdict.allowed) throw new OutboundRefusedError(host, verdict, host);
      return host;
    }
    const addresses = await this.#resolve(host);
    if (addresses.length === 0) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    for (const address of addresses) {
      const verdict = checkOutboundAddress(this.allowList, host, address);
      if (!verdict.allowed) throw new OutboundRefusedError(host, verdict, address);
    }
    return addresses[0] as string;
  }

  async #fetch(
    input: Parameters<typeof globalThis.fetch>[0],
    init: RequestInit | undefined,
    options: { httpsOnly?: boolean },
  ): Promise<Response> {
    if (typeof input !== 'string' && !(input instanceof URL)) {
      throw new TypeError('The outbound fetch takes a URL (a string or a URL object), not a Request.');
    }
    const url = new URL(input);
    const verdict = checkOutboundTarget(this.allowList, url, options);
    if (!verdict.allowed) throw new OutboundRefusedError(normalizeHost(url.hostname), verdict);
    try {
      const response = await undiciFetch(url, {
        ...(init as Parameters<typeof undiciFetch>[1]),
        redirect: 'manual',
        dispatcher: this.#agent,
      });
      return response as unknown as Response;
    } catch (error) {
      // undici wraps connector errors in TypeError('fetch failed'); a refusal is the real story.
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof OutboundRefusedError) throw cause;
      throw error;
    }
  }

  /**
   * The check at create and update time of a URL an admin gives (a target's
   * `baseUrl`, an export's, an issuer's `jwksUri`): the scheme, a literal
   * address, and the addresses the name resolves to now. Throws
   * `INVALID_CONFIG` naming `field`. A name that does not resolve now is
   * accepted: connect time checks it again, and every time.
   */
  async checkUrl(url: string, field: string, options: { httpsOnly?: boolean } = {}): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new MeridianError('INVALID_CONFIG', `'${field}' must be an absolute URL.`, { field });
    }
    const refuse = (verdict: Refused): never => {
      throw new MeridianError('INVALID_CONFIG', `'${field}': ${verdict.reason}`, { field });
    };
    // An LDAP URL (issue 18) is held to the same address rules; its socket goes through connectAddress.
    const ldap = parsed.protocol === 'ldap:' || parsed.protocol === 'ldaps:';
    const verdict = checkOutboundTarget(this.allowList, ldap ? { protocol: 'https:', hostname: parsed.hostname } : parsed, options);
    if (!verdict.allowed) return refuse(verdict);
    const host = normalizeHost(parsed.hostname);
    if (verdict.via === 'allow-list' || isIP(host) !== 0) return;
    let addresses: string[];
    try {
      addresses = await withTimeout(this.#resolve(host), this.#resolveTimeoutMs);
    } catch {
      return;
    }
    for (const address of addresses) {
      const checked = checkOutboundAddress(this.allowList, host, address);
      if (!checked.allowed) return refuse(checked);
    }
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
