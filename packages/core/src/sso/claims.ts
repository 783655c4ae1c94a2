import { MeridianError } from '../errors/meridian-error.js';

/**
 * The claims a relying party may be released (OpenID Connect Core 1.0 §5.1
 * standard claims, and the organisation claims of the global directory).
 * `sub` is not in the list: it is always released, it is how the relying
 * party knows the person.
 */
export type SsoClaim =
  | 'preferred_username'
  | 'name'
  | 'given_name'
  | 'family_name'
  | 'email'
  | 'phone_number'
  | 'title'
  | 'department'
  | 'organization'
  | 'division'
  | 'cost_center'
  | 'employee_number'
  | 'office';

/** One claim of the catalogue: the scope that asks for it, what the consent page calls it, the SCIM paths that name it. */
export interface SsoClaimDefinition {
  claim: SsoClaim;
  /** The OpenID Connect scope whose request asks for it (§5.4; `organization` is Meridian's). */
  scope: 'profile' | 'email' | 'phone' | 'organization';
  /** Plain words for the consent page and the docs. */
  description: string;
  /** SCIM attribute paths that name the same value (RFC 7643 §4.1, §4.3), accepted in a registration. */
  scimPaths: readonly string[];
}

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:';

/** Every claim Meridian can release, in the order the consent page lists them. */
export const SSO_CLAIMS: readonly SsoClaimDefinition[] = [
  { claim: 'preferred_username', scope: 'profile', description: 'your user name in your office', scimPaths: ['userName'] },
  { claim: 'name', scope: 'profile', description: 'your full name', scimPaths: ['displayName', 'name.formatted'] },
  { claim: 'given_name', scope: 'profile', description: 'your first name', scimPaths: ['name.givenName'] },
  { claim: 'family_name', scope: 'profile', description: 'your last name', scimPaths: ['name.familyName'] },
  { claim: 'email', scope: 'email', description: 'your email address', scimPaths: ['emails', 'emails.value'] },
  { claim: 'phone_number', scope: 'phone', description: 'your phone number', scimPaths: ['phoneNumbers', 'phoneNumbers.value'] },
  { claim: 'title', scope: 'organization', description: 'your job title', scimPaths: ['title'] },
  { claim: 'department', scope: 'organization', description: 'your department', scimPaths: [`${ENTERPRISE}department`, 'department'] },
  {
    claim: 'organization',
    scope: 'organization',
    description: 'your organisation',
    scimPaths: [`${ENTERPRISE}organization`],
  },
  { claim: 'division', scope: 'organization', description: 'your division', scimPaths: [`${ENTERPRISE}division`, 'division'] },
  {
    claim: 'cost_center',
    scope: 'organization',
    description: 'your cost centre',
    scimPaths: [`${ENTERPRISE}costCenter`, 'costCenter'],
  },
  {
    claim: 'employee_number',
    scope: 'organization',
    description: 'your employee number',
    scimPaths: [`${ENTERPRISE}employeeNumber`, 'employeeNumber'],
  },
  { claim: 'office', scope: 'organization', description: 'the office you signed in with', scimPaths: [] },
];

const BY_NAME = new Map<string, SsoClaim>();
for (const definition of SSO_CLAIMS) {
  BY_NAME.set(definition.claim, definition.claim);
  for (const path of definition.scimPaths) BY_NAME.set(path.toLowerCase(), definition.claim);
}

/** The scopes a relying party can ask for: OpenID Connect's, `organization`, and `offline_access` for refresh tokens. */
export const SSO_SCOPES: readonly string[] = ['openid', 'offline_access', 'profile', 'email', 'phone', 'organization'];

/**
 * The claims a registration names, canonical and de-duplicated, in catalogue
 * order. Each entry is a claim name or a SCIM attribute path
 * (case-insensitive); anything else is INVALID_INPUT naming it.
 *
 * @example
 * parseSsoClaims('email, name.givenName') // ['given_name', 'email']
 */
export function parseSsoClaims(input: string | readonly string[], field = 'claims'): SsoClaim[] {
  const items = (typeof input === 'string' ? input.split(',') : input).map((s) => s.trim()).filter((s) => s !== '');
  const found = new Set<SsoClaim>();
  for (const item of items) {
    const claim = BY_NAME.get(item) ?? BY_NAME.get(item.toLowerCase());
    if (!claim) {
      throw new MeridianError(
        'INVALID_INPUT',
        `Unknown claim '${item.slice(0, 100)}'. Known claims: ${SSO_CLAIMS.map((c) => c.claim).join(', ')} (or their SCIM attribute paths).`,
        { field },
      );
    }
    found.add(claim);
  }
  return SSO_CLAIMS.map((c) => c.claim).filter((c) => found.has(c));
}

/** The claims the given scopes ask for (§5.4), in catalogue order. */
export function claimsOfScopes(scopes: Iterable<string>): SsoClaim[] {
  const asked = new Set(scopes);
  return SSO_CLAIMS.filter((c) => asked.has(c.scope)).map((c) => c.claim);
}

/** The scope → claims table oidc-provider is configured with (`claims`). */
export function claimsByScope(): Record<string, string[]> {
  const table: Record<string, string[]> = { openid: ['sub'] };
  for (const c of SSO_CLAIMS) table[c.scope] = [...(table[c.scope] ?? []), c.claim];
  // The cache period is announced with every release (docs/sso.md, "How long you may keep what you get").
  table.openid?.push('meridian_max_cache');
  return table;
}

/** The plain-words description of a claim. */
export function describeSsoClaim(claim: SsoClaim): string {
  return SSO_CLAIMS.find((c) => c.claim === claim)?.description ?? claim;
}

/** What the relying party registered: the claims it may receive and which of them a person may refuse. */
export interface ClaimRegistration {
  claims: readonly SsoClaim[];
  optionalClaims: readonly SsoClaim[];
}

/** One line of the consent page: a claim asked and allowed, and whether the person may refuse it. */
export interface ConsentItem {
  claim: SsoClaim;
  description: string;
  optional: boolean;
}

/**
 * What the consent page asks about: the claims the relying party asks for
 * that its registration allows, each marked optional when the registration
 * says so. Claims asked but not registered are never shown (and never released).
 */
export function consentItems(asked: Iterable<string>, registration: ClaimRegistration): ConsentItem[] {
  const wanted = new Set(asked);
  const optional = new Set(registration.optionalClaims);
  return registration.claims
    .filter((claim) => wanted.has(claim))
    .map((claim) => ({ claim, description: describeSsoClaim(claim), optional: optional.has(claim) }));
}

/**
 * The claims a person consented to, from what the consent form sent: every
 * required item, and the optional items they kept. Refusing a required claim
 * is not possible (the form has no box for it): such a request is INVALID_INPUT.
 */
export function consentedClaims(items: readonly ConsentItem[], keptOptional: Iterable<string>, refusedRequired = false): SsoClaim[] {
  if (refusedRequired) throw new MeridianError('INVALID_INPUT', 'A required attribute cannot be refused.', { field: 'claims' });
  const kept = new Set(keptOptional);
  return items.filter((item) => !item.optional || kept.has(item.claim)).map((item) => item.claim);
}

/**
 * Use case 3.5 of the SCIM use-cases draft: what is released is exactly what
 * the relying party asked for, its registration allows, the person consented
 * to, and the person has a value for.
 */
export function releasedClaims(release: {
  asked: Iterable<string>;
  allowed: Iterable<string>;
  consented: Iterable<string>;
  values: Readonly<Record<string, unknown>>;
}): SsoClaim[] {
  const asked = new Set(release.asked);
  const allowed = new Set(release.allowed);
  const consented = new Set(release.consented);
  return SSO_CLAIMS.map((c) => c.claim).filter((claim) => {
    const value = release.values[claim];
    return asked.has(claim) && allowed.has(claim) && consented.has(claim) && value !== undefined && value !== null && value !== '';
  });
}
