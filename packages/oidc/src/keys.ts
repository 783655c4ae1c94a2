import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { OidcStorage } from './ports.js';

/** The key material of one community's provider. */
export interface CommunityKeys {
  /** The private signing JWK (RS256); its public part is published in the JWKS. */
  signing: Record<string, unknown>;
  /** Keys that sign the provider's cookies (Keygrip: the first signs, all verify). */
  cookies: string[];
  /** The secret behind pairwise subject identifiers (OpenID Connect Core §8.1). */
  pairwise: string;
}

async function newSigningKey(): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  return JSON.stringify({ ...jwk, alg: 'RS256', use: 'sig', kid: randomBytes(12).toString('base64url') });
}

/** Reads the community's keys, generating each on first use (ADR 0021: sealed with the hub's SecretBox). */
export async function communityKeys(storage: OidcStorage, communityId: string): Promise<CommunityKeys> {
  const [signing, cookies, pairwise] = await Promise.all([
    storage.key(communityId, 'signing', newSigningKey),
    storage.key(communityId, 'cookies', async () => JSON.stringify([randomBytes(32).toString('base64url')])),
    storage.key(communityId, 'pairwise', async () => randomBytes(32).toString('base64url')),
  ]);
  return { signing: JSON.parse(signing) as Record<string, unknown>, cookies: JSON.parse(cookies) as string[], pairwise };
}
