import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminStore, Principal } from '@meridian/core';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Resolves `Authorization: Bearer <token>` (RFC 6750 §2.1) to a principal:
 * the configured platform admin token, or a stored API token.
 */
export function createAuthenticator(store: AdminStore, adminToken: string | undefined) {
  const adminDigest = adminToken === undefined ? undefined : digest(adminToken);
  return async (authorization: string | undefined): Promise<Principal | undefined> => {
    const match = authorization === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
    const secret = match?.[1];
    if (!secret) return undefined;
    if (adminDigest && timingSafeEqual(digest(secret), adminDigest)) {
      return { kind: 'platform', tokenId: 'env:MERIDIAN_ADMIN_TOKEN', scopes: ['admin'] };
    }
    const token = await store.authenticate(secret);
    if (!token) return undefined;
    return token.tenantId === null
      ? { kind: 'platform', tokenId: token.id, scopes: token.scopes }
      : {
          kind: 'tenant',
          tokenId: token.id,
          tenantId: token.tenantId,
          scopes: token.scopes,
          ...(token.userId ? { userId: token.userId } : {}),
        };
  };
}
