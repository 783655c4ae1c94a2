import { claimsOfScopes, releasedClaims, type SsoClaim } from '@meridian/core';
import type { OidcClientRecord } from './ports.js';

/**
 * The claims released in one answer (an ID token, a userinfo response):
 * asked (the token's scopes and the `claims` request parameter, OpenID Connect
 * Core §5.4, §5.5) ∩ allowed by the registration ∩ consented (not among the
 * grant's rejected claims) ∩ present in the person's values.
 */
export function releaseClaims(input: {
  rp: Pick<OidcClientRecord, 'claims'>;
  scope: string;
  claimsParameter: Record<string, unknown> | undefined;
  rejected: readonly string[];
  values: Record<string, string>;
}): SsoClaim[] {
  const asked = new Set<string>(claimsOfScopes(input.scope.split(' ')));
  for (const claim of Object.keys(input.claimsParameter ?? {})) asked.add(claim);
  const rejected = new Set(input.rejected);
  return releasedClaims({
    asked,
    allowed: input.rp.claims,
    consented: [...asked].filter((c) => !rejected.has(c)),
    values: input.values,
  });
}
