// The minimal server's half of the audit hash. The hub hashes an entry as SHA-256 over
// its canonical JSON (RFC 8785; store/src/audit/audit-hash.ts). Two of the hashed
// values, the previous entry's hash and the seq, are known only under the chain's
// lock, inside PostgreSQL: the server writes the canonical text with two holes and
// the create function (minimal-sql.ts) fills them and hashes, in the same round trip.

/** The fields of an audit entry its hash covers, less the two PostgreSQL fills in. */
interface MinimalAuditEntry {
  chain: string;
  tenantId: string;
  actorType: string;
  actorId: string;
  action: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  sourceAddress: string | null;
  diff: unknown;
  createdAt: string;
}

/**
 * RFC 8785 for the JSON this server writes: object keys sorted by UTF-16 code units
 * (what `Array.prototype.sort` compares), no whitespace, strings and numbers as
 * ECMAScript serialises them (§3.2.2), undefined members left out.
 */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(',')}}`;
}

const SECRET_KEYS = /password|secret|token|credential/i;

/** What the hub's redactSecrets does to a diff before it is stored and hashed. */
export function redactDiff(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactDiff);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) out[key] = SECRET_KEYS.test(key) ? '[REDACTED]' : redactDiff(inner);
  return out;
}

const PREV = '@prev-hash@';
const PREV_MEMBER = `"prevHash":"${PREV}"`;
const SEQ_MEMBER = '"seq":-1';

/**
 * The canonical JSON of `entry` in three parts: `head + prevHash + middle + seq + tail`
 * is the text the hub's hashAuditEntry hashes. Both holes come after `diff` in key
 * order, and between them are only strings, whose quotes JSON escapes: the last
 * occurrence of each marker is the entry's own.
 */
export function auditHashParts(entry: MinimalAuditEntry): { head: string; middle: string; tail: string } {
  const text = canonicalJson({ ...entry, prevHash: PREV, seq: -1 });
  const prev = text.lastIndexOf(PREV_MEMBER);
  const seq = text.lastIndexOf(SEQ_MEMBER);
  if (prev < 0 || seq < prev) throw new TypeError('The audit entry has no place for the previous hash and the seq.');
  const prevAt = prev + PREV_MEMBER.length - PREV.length - 1;
  const seqAt = seq + SEQ_MEMBER.length - 2;
  return { head: text.slice(0, prevAt), middle: text.slice(prevAt + PREV.length, seqAt), tail: text.slice(seqAt + 2) };
}
