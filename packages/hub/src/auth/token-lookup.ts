import { createHash } from 'node:crypto';
import { type AdminStore, type CachedTokenLookup, type Clock, cacheTokenLookups, systemClock } from '@meridian/core';

// API tokens looked up at most once a second per process (ADR 0022), and forgotten at once when this process revokes one.

/** Options of {@link tokenLookupOf}. */
export interface TokenLookupOptions {
  /** How long a looked-up API token is trusted, in ms (1,000 by default; 0: every request is looked up). */
  tokenCacheMs?: number;
  clock?: Clock;
}

/**
 * The hub's API token look-up (ADR 0022): each live token is trusted for `tokenCacheMs`, remembered by the SHA-256
 * of its secret; `forget()` when this process revokes one.
 */
export function tokenLookupOf(store: Pick<AdminStore, 'authenticateToken'>, options: TokenLookupOptions = {}): CachedTokenLookup {
  return cacheTokenLookups((secret) => store.authenticateToken(secret), options.clock ?? systemClock, {
    ...(options.tokenCacheMs !== undefined ? { ttlMs: options.tokenCacheMs } : {}),
    keyOf: (secret) => createHash('sha256').update(secret).digest('base64url'),
  });
}

/**
 * The admin store, forgetting the remembered tokens of `lookup` whenever a token is revoked through it, so that a
 * revocation takes effect at once in this process (other processes: within their cache period).
 */
export function forgettingOnRevoke<S extends Pick<AdminStore, 'revokeToken'>>(store: S, lookup: CachedTokenLookup): S {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property === 'revokeToken') {
        return async (...args: Parameters<AdminStore['revokeToken']>) => {
          try {
            return await target.revokeToken(...args);
          } finally {
            lookup.forget();
          }
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
