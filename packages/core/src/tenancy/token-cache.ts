import type { TokenAuthentication } from '../ports/admin.js';
import type { Clock } from '../ports/clock.js';

// API token look-ups, remembered for a short while (ADR 0022). Every SCIM and
// GraphQL request carries a bearer token; looking it up in the database cost a
// transaction of its own per request. A live token is remembered for at most
// `ttlMs` (1 s by default) in each hub process, so a revocation, an expiry or a
// suspended User's token is refused on every process within that time; the
// token's own expiry is checked at every use. Refusals are never remembered,
// nor end users' tokens (`scim:me`), which a suspension of their User ends at
// once.

/** Options of {@link cacheTokenLookups}. */
export interface TokenCacheOptions {
  /** How long a live token is trusted without a new look-up; 1,000 ms by default. 0 turns the cache off. */
  ttlMs?: number;
  /** How many tokens are remembered at most; the oldest go first. 10,000 by default. */
  maxEntries?: number;
  /**
   * What a secret is remembered by: a digest (the hub passes SHA-256), so that no secret is kept in clear.
   * The secret itself when absent (tests).
   */
  keyOf?: (secret: string) => string;
}

interface Entry {
  until: number;
  outcome: Promise<TokenAuthentication>;
}

/** Looks a bearer secret up: the admin store's `authenticateToken`. */
export type TokenLookup = (secret: string) => Promise<TokenAuthentication>;

/** A {@link TokenLookup} that remembers live tokens; `forget()` drops them all (this process revoked a token). */
export type CachedTokenLookup = TokenLookup & { forget(): void };

/**
 * Wraps a token look-up so that a live token is looked up at most once per
 * `ttlMs` per process, and concurrent look-ups of one secret share one query.
 * Secrets are remembered by `options.keyOf`.
 */
export function cacheTokenLookups(lookup: TokenLookup, clock: Clock, options: TokenCacheOptions = {}): CachedTokenLookup {
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  const keyOf = options.keyOf ?? ((secret: string) => secret);
  const entries = new Map<string, Entry>();
  const forget = () => entries.clear();
  if (ttlMs <= 0) return Object.assign((secret: string) => lookup(secret), { forget });
  const cached = (secret: string): Promise<TokenAuthentication> => {
    const key = keyOf(secret);
    const now = clock.now().getTime();
    const cached = entries.get(key);
    if (cached && cached.until > now) return cached.outcome.then((outcome) => stillLive(outcome, clock.now()));
    const outcome = lookup(secret);
    const entry: Entry = { until: now + ttlMs, outcome };
    if (cached) entries.delete(key);
    entries.set(key, entry);
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
    // Only a live token not bound to a User stays: a refusal, or a failed look-up, is asked again at the next request,
    // and an end user's token lives only as long as its User is active, which any SCIM write may change.
    outcome.then(
      (result) => {
        if ((!result.ok || result.token.userId !== null) && entries.get(key) === entry) entries.delete(key);
      },
      () => {
        if (entries.get(key) === entry) entries.delete(key);
      },
    );
    return outcome;
  };
  return Object.assign(cached, { forget });
}

/** A remembered live token, refused once its own expiry has passed. */
function stillLive(outcome: TokenAuthentication, now: Date): TokenAuthentication {
  if (!outcome.ok) return outcome;
  const { expiresAt } = outcome.token;
  if (expiresAt !== null && expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired', token: outcome.token };
  return outcome;
}
