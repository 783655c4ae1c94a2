import { MeridianError } from '../errors/meridian-error.js';

/**
 * The outbound request policy (docs/security.md, "Outbound requests"): which
 * addresses the hub may connect to when it makes a request on behalf of a
 * tenant or a community (replication targets, directory exports, JWKS).
 * Pure: the IO side (packages/replication/src/outbound) resolves names and
 * asks these functions about every address before it connects.
 */

/** What an IP address is, as far as the policy cares. */
export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'unique-local'
  | 'site-local'
  | 'translated';

/** The classification of one address: its class and the range that decided it. */
export interface AddressClassification {
  /** The address in canonical form (dotted IPv4; lower-case, compressed IPv6). */
  address: string;
  version: 4 | 6;
  class: AddressClass;
  /** The CIDR range that decided the class (`127.0.0.0/8`), or `2000::/3` for public IPv6. */
  range: string;
  /** For IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4): that address. */
  embedded?: string;
}

/** A parsed IP address: 4 or 16 bytes. */
export interface IpAddress {
  version: 4 | 6;
  bytes: number[];
}

/** One entry of the operator's allow-list (`MERIDIAN_OUTBOUND_ALLOW`). */
export type AllowEntry =
  | { type: 'host'; host: string }
  | { type: 'suffix'; suffix: string }
  | { type: 'range'; network: IpAddress; prefix: number; text: string };

/** The operator's allow-list: host names, `*.suffix` names, IPs and CIDR ranges. */
export interface OutboundAllowList {
  entries: readonly AllowEntry[];
}

/** The verdict on one destination. */
export type OutboundVerdict =
  | { allowed: true; via: 'public' | 'allow-list' }
  | { allowed: false; class: AddressClass | 'scheme' | 'name'; range?: string; reason: string };

/** An empty allow-list: only public unicast addresses are reachable. */
export const NO_ALLOWED_DESTINATIONS: OutboundAllowList = { entries: [] };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

/** Parses a dotted-quad IPv4 address (decimal, no leading zeros); undefined otherwise. */
function parseIpv4(text: string): number[] | undefined {
  if (!IPV4.test(text)) return undefined;
  return text.split('.').map(Number);
}

/** Parses an IPv6 address (with `::` and an optional dotted IPv4 tail); undefined otherwise. */
function parseIpv6(text: string): number[] | undefined {
  const lastColon = text.lastIndexOf(':');
  if (text.length > 45 || lastColon < 0) return undefined;
  let tail: number[] = [];
  let head = text;
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    tail = v4;
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const wanted = tail.length > 0 ? 6 : 8;
  const double = head.indexOf('::');
  if (double !== head.lastIndexOf('::')) return undefined;
  let groups: string[];
  if (double >= 0) {
    const left = head.slice(0, double) === '' ? [] : head.slice(0, double).split(':');
    const right = head.slice(double + 2) === '' ? [] : head.slice(double + 2).split(':');
    const missing = wanted - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    groups = head === '' ? [] : head.split(':');
  }
  if (groups.length !== wanted || !groups.every((g) => HEX_GROUP.test(g))) return undefined;
  const bytes: number[] = [];
  for (const group of groups) {
    const value = Number.parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  return [...bytes, ...tail];
}

/**
 * Parses an IP address literal: dotted IPv4, or IPv6 with or without
 * brackets. A zone (`%eth0`) is refused: zoned addresses are link-local.
 *
 * @example
 * parseIpAddress('[::1]') // { version: 6, bytes: [0, …, 1] }
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIpv4(bare);
  if (v4) return { version: 4, bytes: v4 };
  if (bare.includes('%')) return undefined;
  const v6 = parseIpv6(bare);
  return v6 ? { version: 6, bytes: v6 } : undefined;
}

/** The canonical text of an address (RFC 5952 for IPv6). */
export function formatIpAddress(ip: IpAddress): string {
  if (ip.version === 4) return ip.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function inRange(bytes: readonly number[], network: readonly number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    const index = bit / 8;
    if (((bytes[index] ?? 0) & mask) !== ((network[index] ?? 0) & mask)) return false;
  }
  return true;
}

type Range = [network: number[], prefix: number, cls: AddressClass, text: string];

function range(text: string, cls: AddressClass): Range {
  const [address, prefix] = text.split('/') as [string, string];
  const parsed = parseIpAddress(address);
  if (!parsed) throw new TypeError(`bad built-in range ${text}`);
  return [parsed.bytes, Number(prefix), cls, text];
}

// IANA IPv4 Special-Purpose Address Registry (RFC 6890 and successors). Broadcast first: it lies inside 240.0.0.0/4.
const IPV4_RANGES: Range[] = [
  range('255.255.255.255/32', 'broadcast'),
  range('0.0.0.0/8', 'unspecified'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', 'reserved'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'),
];

// IPv6 ranges that are refused outright. Forms that carry an IPv4 address are handled before these.
const IPV6_RANGES: Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('64:ff9b:1::/48', 'translated'),
  range('100::/64', 'reserved'),
  range('2001:db8::/32', 'documentation'),
  range('2001::/23', 'reserved'),
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'reserved'),
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local'),
  range('ff00::/8', 'multicast'),
];

/** IPv4-mapped IPv6 (`::ffff:0:0/96`). */
const MAPPED = range('::ffff:0:0/96', 'reserved');

/** IPv6 forms that carry an IPv4 address, and where it sits. */
const EMBEDDING: [network: number[], prefix: number, offset: number, text: string][] = [
  [range('::ffff:0:0/96', 'reserved')[0], 96, 12, '::ffff:0:0/96'], // IPv4-mapped
  [range('::ffff:0:0:0/96', 'reserved')[0], 96, 12, '::ffff:0:0:0/96'], // IPv4-translated (RFC 2765)
  [range('64:ff9b::/96', 'reserved')[0], 96, 12, '64:ff9b::/96'], // NAT64 well-known prefix (RFC 6052)
  [range('2002::/16', 'reserved')[0], 16, 2, '2002::/16'], // 6to4 (RFC 3056)
  [range('::/96', 'reserved')[0], 96, 12, '::/96'], // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
];

function classifyIpv4(bytes: readonly number[]): { cls: AddressClass; range: string } {
  for (const [network, prefix, cls, text] of IPV4_RANGES) if (inRange(bytes, network, prefix)) return { cls, range: text };
  return { cls: 'public', range: '0.0.0.0/0' };
}

/**
 * Classifies an IP address. IPv6 forms that carry an IPv4 address
 * (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`)
 * take the class of that IPv4 address; IPv6 outside global unicast
 * (`2000::/3`) is `reserved`. Undefined when `text` is no IP address.
 *
 * @example
 * classifyAddress('::ffff:7f00:1')?.class // 'loopback'
 */
export function classifyAddress(text: string): AddressClassification | undefined {
  const ip = parseIpAddress(text);
  if (!ip) return undefined;
  const address = formatIpAddress(ip);
  if (ip.version === 4) {
    const { cls, range: decided } = classifyIpv4(ip.bytes);
    return { address, version: 4, class: cls, range: decided };
  }
  for (const [network, prefix, cls, decided] of IPV6_RANGES.slice(0, 2)) {
    if (inRange(ip.bytes, network, prefix)) return { address, version: 6, class: cls, range: decided };
  }
  for (const [network, prefix, offset, decided] of EMBEDDING) {
    if (!inRange(ip.bytes, network, prefix)) continue;
    const v4 = ip.bytes.slice(offset, offset + 4);
    const inner = classifyIpv4(v4);
    const embedded = v4.join('.');
    return { address, version: 6, class: inner.cls, range: inner.cls === 'public' ? decided : `${decided} (${inner.range})`, embedded };
  }
  for (const [network, prefix, cls, decided] of IPV6_RANGES) {
    if (inRange(ip.bytes, network, prefix)) return { address, version: 6, class: cls, range: decided };
  }
  if (((ip.bytes[0] ?? 0) & 0xe0) !== 0x20) return { address, version: 6, class: 'reserved', range: 'outside 2000::/3' };
  return { address, version: 6, class: 'public', range: '2000::/3' };
}

/** Lower-cased, without a trailing dot or brackets. */
export function normalizeHost(host: string): string {
  const lower = host.trim().toLowerCase();
  const unbracketed = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return unbracketed.endsWith('.') ? unbracketed.slice(0, -1) : unbracketed;
}

/**
 * Parses `MERIDIAN_OUTBOUND_ALLOW`: comma-separated host names (`scim.internal`),
 * `*.suffix` names (any name below `suffix`), IP addresses and CIDR ranges, IPv4
 * and IPv6. Throws `INVALID_CONFIG` naming the first entry it cannot read.
 *
 * @example
 * parseOutboundAllowList('127.0.0.1, 10.0.0.0/8, ::1, scim.internal').entries.length // 4
 */
export function parseOutboundAllowList(text: string | undefined): OutboundAllowList {
  const entries: AllowEntry[] = [];
  for (const raw of (text ?? '').split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const bad = (why: string) =>
      new MeridianError('INVALID_CONFIG', `MERIDIAN_OUTBOUND_ALLOW: '${item}' ${why}.`, { field: 'MERIDIAN_OUTBOUND_ALLOW' });
    const slash = item.indexOf('/');
    if (slash >= 0) {
      const ip = parseIpAddress(item.slice(0, slash));
      const prefixText = item.slice(slash + 1);
      if (!ip || !/^\d{1,3}$/.test(prefixText)) throw bad('is not a CIDR range (address/prefix)');
      const prefix = Number(prefixText);
      if (prefix > (ip.version === 4 ? 32 : 128)) throw bad(`has a prefix longer than ${ip.version === 4 ? 32 : 128}`);
      entries.push({ type: 'range', network: ip, prefix, text: `${formatIpAddress(ip)}/${prefix}` });
      continue;
    }
    const ip = parseIpAddress(item);
    if (ip) {
      entries.push({ type: 'range', network: ip, prefix: ip.version === 4 ? 32 : 128, text: formatIpAddress(ip) });
      continue;
    }
    const host = normalizeHost(item);
    if (host.startsWith('*.') && HOST_NAME.test(host.slice(2))) {
      entries.push({ type: 'suffix', suffix: host.slice(2) });
      continue;
    }
    if (!HOST_NAME.test(host)) throw bad('is neither a host name, an IP address nor a CIDR range (no scheme, port or path)');
    entries.push({ type: 'host', host });
  }
  return { entries };
}

/** True when the allow-list opens this host name (exactly, or below a `*.suffix` entry). */
export function allowListOpensHost(list: OutboundAllowList, host: string): boolean {
  const name = normalizeHost(host);
  if (parseIpAddress(name)) return allowListOpensAddress(list, name);
  return list.entries.some((e) => (e.type === 'host' && e.host === name) || (e.type === 'suffix' && name.endsWith(`.${e.suffix}`)));
}

/** True when the allow-list opens this IP address (an IP entry or a range holding it; IPv4-mapped IPv6 counts as its IPv4). */
export function allowListOpensAddress(list: OutboundAllowList, address: string): boolean {
  const ip = parseIpAddress(address);
  if (!ip) return false;
  const mapped =
    ip.version === 6 && inRange(ip.bytes, MAPPED[0], MAPPED[1]) ? { version: 4 as const, bytes: ip.bytes.slice(12) } : undefined;
  return list.entries.some(
    (e) =>
      e.type === 'range' &&
      [ip, mapped].some(
        (candidate) =>
          candidate !== undefined && candidate.version === e.network.version && inRange(candidate.bytes, e.network.bytes, e.prefix),
      ),
  );
}

const DESCRIBE: Record<AddressClass, string> = {
  public: 'a public address',
  unspecified: 'the unspecified address',
  loopback: 'a loopback address',
  private: 'a private address',
  shared: 'a carrier-grade NAT address',
  'link-local': 'a link-local address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  documentation: 'a documentation address',
  benchmarking: 'a benchmarking address',
  reserved: 'a reserved address',
  'unique-local': 'a unique-local address',
  'site-local': 'a site-local address',
  translated: 'a local-use NAT64 address',
};

/** The words the policy uses when it refuses; every refusal names the policy and the way to open it. */
export const OUTBOUND_POLICY_NAME = "the hub's outbound request policy";

/**
 * Decides whether the hub may connect to `address`, reached through the name
 * `host` (the URL's host; the address itself for an IP literal). Allowed:
 * a public unicast address, or a host or address the allow-list opens.
 *
 * @example
 * checkOutboundAddress(NO_ALLOWED_DESTINATIONS, 'localhost', '127.0.0.1').allowed // false
 */
export function checkOutboundAddress(list: OutboundAllowList, host: string, address: string): OutboundVerdict {
  const classified = classifyAddress(address);
  if (!classified) {
    return { allowed: false, class: 'reserved', reason: `Refused by ${OUTBOUND_POLICY_NAME}: '${address}' is not an IP address.` };
  }
  if (allowListOpensHost(list, host) || allowListOpensAddress(list, classified.address)) return { allowed: true, via: 'allow-list' };
  if (classified.class === 'public') return { allowed: true, via: 'public' };
  const name = normalizeHost(host);
  const through = name === classified.address ? `${classified.address}` : `${name} (${classified.address})`;
  return {
    allowed: false,
    class: classified.class,
    range: classified.range,
    reason: `Refused by ${OUTBOUND_POLICY_NAME}: ${through} is ${DESCRIBE[classified.class]} (${classified.range}); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.`,
  };
}

/** True for `localhost` and names below it (RFC 6761 §6.3: they always mean the loopback interface). */
export function isLocalhostName(host: string): boolean {
  const name = normalizeHost(host);
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * The checks that need no name resolution, on a URL's parts: the scheme
 * (`http:` or `https:`; `https:` only when `httpsOnly`, unless the allow-list
 * opens the host), a literal address, and `localhost` names. A name that
 * passes must still be checked once resolved, at connect time.
 */
export function checkOutboundTarget(
  list: OutboundAllowList,
  target: { protocol: string; hostname: string },
  options: { httpsOnly?: boolean } = {},
): OutboundVerdict {
  const host = normalizeHost(target.hostname);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    return { allowed: false, class: 'scheme', reason: `Refused by ${OUTBOUND_POLICY_NAME}: only http and https URLs are requested.` };
  }
  const opened = allowListOpensHost(list, host);
  if (options.httpsOnly && target.protocol !== 'https:' && !opened) {
    return {
      allowed: false,
      class: 'scheme',
      reason: `Refused by ${OUTBOUND_POLICY_NAME}: this URL must use https (plain http only for a host MERIDIAN_OUTBOUND_ALLOW opens).`,
    };
  }
  if (parseIpAddress(host)) return checkOutboundAddress(list, host, host);
  if (opened) return { allowed: true, via: 'allow-list' };
  if (isLocalhostName(host)) {
    return {
      allowed: false,
      class: 'loopback',
      range: 'localhost',
      reason: `Refused by ${OUTBOUND_POLICY_NAME}: ${host} names the loopback interface; only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.`,
    };
  }
  if (!HOST_NAME.test(host)) {
    return { allowed: false, class: 'name', reason: `Refused by ${OUTBOUND_POLICY_NAME}: '${host}' is not a valid host name.` };
  }
  return { allowed: true, via: 'public' };
}

/**
 * Thrown by the hub's outbound `fetch` when the policy refuses a
 * destination. It never carries a response: no connection was made.
 * Connectors and the engine find it in an error's `cause` chain
 * ({@link findOutboundRefusal}) and treat it as permanent.
 */
export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError';
  readonly host: string;
  readonly address: string | undefined;
  readonly addressClass: AddressClass | 'scheme' | 'name';

  constructor(host: string, verdict: Extract<OutboundVerdict, { allowed: false }>, address?: string) {
    super(verdict.reason);
    this.host = host;
    this.address = address;
    this.addressClass = verdict.class;
  }
}

/** The {@link OutboundRefusedError} in `error` or its `cause` chain (also across package copies), if any. */
export function findOutboundRefusal(error: unknown): OutboundRefusedError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (current instanceof OutboundRefusedError) return current;
    if (current instanceof Error && current.name === 'OutboundRefusedError' && 'addressClass' in current)
      return current as OutboundRefusedError;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
