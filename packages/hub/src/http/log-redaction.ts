import type { FastifyRequest } from 'fastify';

/** Keys whose values are secrets wherever they appear in a logged object. */
const SECRET_KEY = /^pass$|passw(?:or)?d|secret|token|credential|authorization|cookie|api[-_]?key/i;
/** Attribute names that make a PATCH `value` or a filter literal secret. */
const SECRET_NAME = /password|secret|token|credential/i;
/**
 * A quoted literal compared with, or assigned to, a secret attribute in free
 * text: `password eq "x"` (SCIM filters), `"password":"x"` (JSON), and the
 * same with escaped quotes inside a GraphQL query string.
 */
const SECRET_LITERAL = /\b(password|secret|token|credential)("?\s*(?::|\s(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s)\s*\\?)"(?:[^"\\]|\\.)*?\\?"/gi;
const CENSOR = '[REDACTED]';
const MAX_DEPTH = 12;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Replaces secret literals in free text (URLs, filters, GraphQL query text). */
export function scrubText(text: string): string {
  return SECRET_NAME.test(text) ? text.replace(SECRET_LITERAL, `$1$2"${CENSOR}"`) : text;
}

/**
 * A copy of a logged value with secrets censored, however deep: values of
 * secret-looking keys, the `value` of a PATCH operation on a secret path, and
 * secret literals in strings. Only plain objects and arrays are walked;
 * requests, replies and errors go to their serializers untouched.
 */
export function scrubLogValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => scrubLogValue(v, depth + 1));
  if (!isPlainObject(value)) return value;
  const secretPath = typeof value.path === 'string' && SECRET_NAME.test(value.path);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) || (secretPath && key.toLowerCase() === 'value') ? CENSOR : scrubLogValue(inner, depth + 1);
  }
  return out;
}

/**
 * A request URL fit for the logs: query parameters named like credentials
 * (RFC 6750 §2.3 `access_token`) censored, and secret literals in the others
 * (`filter=password eq "..."`) too. Unchanged URLs stay byte for byte.
 */
export function scrubUrl(url: string): string {
  const cut = url.indexOf('?');
  if (cut < 0) return url;
  const params = new URLSearchParams(url.slice(cut + 1));
  let changed = false;
  for (const [key, value] of [...params]) {
    const scrubbed = SECRET_KEY.test(key) ? CENSOR : scrubText(value);
    if (scrubbed !== value) {
      params.set(key, scrubbed);
      changed = true;
    }
  }
  return changed ? `${url.slice(0, cut)}?${params.toString()}` : url;
}

/** Query parameters whose values a request line keeps: they name attributes, pages and sort order, never a person. */
const KEPT_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  'attributes',
  'excludedAttributes',
  'startIndex',
  'count',
  'sortBy',
  'sortOrder',
  'cursor',
]);
/** What a kept value may look like (attribute paths and URNs, numbers, opaque cursors); anything else is censored too. */
const KEPT_VALUE = /^[\w:.,\-+/=$ ]{0,512}$/;
/** What a parameter name may look like to be logged; an odd one may be data sent as a name. */
const PARAMETER_NAME = /^[\w.\-[\]]{1,64}$/;

function decodeQueryPart(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * A request URL for the request log line: every query value is `[REDACTED]`
 * (a `filter` carries names and addresses, a GraphQL GET its query) except
 * those of `attributes`, `excludedAttributes`, `startIndex`, `count`,
 * `sortBy`, `sortOrder` and `cursor`. A parameter whose name does not look
 * like one is censored whole.
 */
export function redactQueryValues(url: string): string {
  const cut = url.indexOf('?');
  if (cut < 0 || cut === url.length - 1) return url;
  const pairs = url
    .slice(cut + 1)
    .split('&')
    .map((pair) => {
      if (pair === '') return pair;
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      const name = decodeQueryPart(rawName);
      if (!PARAMETER_NAME.test(name)) return CENSOR;
      if (eq < 0) return rawName;
      return KEPT_QUERY_PARAMETERS.has(name) && KEPT_VALUE.test(decodeQueryPart(pair.slice(eq + 1))) ? pair : `${rawName}=${CENSOR}`;
    });
  return `${url.slice(0, cut)}?${pairs.join('&')}`;
}

/** pino options that keep secrets out of the logs; `createHubLogger` (runtime/logger.ts) adds them to the hub's logger. */
export const LOG_REDACTION = {
  // Fast path for the places credentials are known to sit.
  redact: {
    paths: [
      'req.headers.authorization',
      'req.headers.cookie',
      'req.headers["proxy-authorization"]',
      'res.headers["set-cookie"]',
      'headers.authorization',
      'headers.cookie',
    ],
    censor: CENSOR,
  },
  formatters: {
    log: (object: Record<string, unknown>) => scrubLogValue(object) as Record<string, unknown>,
  },
  serializers: {
    // Fastify's request serializer, with the URL scrubbed.
    req: (request: FastifyRequest) => ({
      method: request.method,
      url: typeof request.url === 'string' ? scrubUrl(request.url) : request.url,
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    }),
  },
};
