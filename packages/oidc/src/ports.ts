import type { RelyingParty } from '@meridian/core';

// What a community's OpenID Provider needs from the hub. The store implements
// them (packages/store/src/sso); this package never touches PostgreSQL itself.

/** A stored oidc-provider payload; `consumed` is set once a code or token was used. */
export type OidcPayload = Record<string, unknown> & { consumed?: number };

/** oidc-provider's storage for one community at a time (sessions, interactions, codes, tokens, grants) and the key material. */
export interface OidcStorage {
  upsert(communityId: string, model: string, id: string, payload: OidcPayload, expiresIn: number | undefined): Promise<void>;
  find(communityId: string, model: string, id: string): Promise<OidcPayload | undefined>;
  findByUid(communityId: string, model: string, uid: string): Promise<OidcPayload | undefined>;
  findByUserCode(communityId: string, model: string, userCode: string): Promise<OidcPayload | undefined>;
  consume(communityId: string, model: string, id: string): Promise<void>;
  destroy(communityId: string, model: string, id: string): Promise<void>;
  revokeByGrantId(communityId: string, grantId: string): Promise<void>;
  /** Deletes expired payloads of a community; how many went. */
  sweep(communityId: string, limit?: number): Promise<number>;
  /** The community's key material of one kind, made by `make` on first use and sealed at rest. */
  key(communityId: string, kind: 'signing' | 'cookies' | 'pairwise', make: () => Promise<string>): Promise<string>;
}

/** A registration with the SHA-256 (hex) of its client secret. */
export type OidcClientRecord = RelyingParty & { secretHash: string | null };

/** The community's relying parties. */
export interface OidcClients {
  findClient(communityId: string, clientId: string): Promise<OidcClientRecord | undefined>;
}

/** An office account found by its userName. */
export interface LoginAccount {
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
  userId: string;
  userName: string;
  passwordHash: string | null;
  active: boolean;
  personId: string | null;
}

/** Why a sign-in failed, for the audit log. */
export type LoginFailureReason = 'unknown_account' | 'bad_password' | 'inactive' | 'throttled' | 'not_in_directory';

/** Who did something, for the audit log. */
export interface OidcRequestContext {
  actor: { type: 'token' | 'cli' | 'system'; id: string };
  requestId: string;
  sourceAddress?: string;
}

/** People and offices of the community, the release ledger and sign-in throttling. */
export interface OidcAccounts {
  loginAccounts(communityId: string, userName: string, tenantSlug?: string): Promise<LoginAccount[]>;
  offices(communityId: string): Promise<{ slug: string; name: string }[]>;
  person(
    communityId: string,
    personId: string,
  ): Promise<{ personId: string; active: boolean; values: Record<string, string>; tenantId: string | null } | undefined>;
  recordRelease(
    communityId: string,
    release: { clientId: string; personId: string; tenantId: string | null; claims: string[]; maxCacheSeconds: number; use: string },
    context: OidcRequestContext,
  ): Promise<void>;
  recordConsent(
    communityId: string,
    consent: { clientId: string; personId: string; tenantId: string | null; claims: string[]; refused: string[] },
    context: OidcRequestContext,
  ): Promise<void>;
  failures(communityId: string, keys: string[], windowMs: number): Promise<number[]>;
  recordLoginFailure(
    communityId: string,
    failure: { keys: string[]; reason: LoginFailureReason; tenantId: string | null; userId: string | null; userName: string },
    windowMs: number,
    context: OidcRequestContext,
  ): Promise<void>;
  clearFailures(communityId: string, keys: string[]): Promise<void>;
  /** The grants people gave one relying party: whose, and the claims each consented to. */
  grantsOfClient(communityId: string, clientId: string): Promise<{ personId: string; claims: string[] }[]>;
  /** The grants one person gave, for the account page. */
  grantsOfPerson(
    communityId: string,
    personId: string,
  ): Promise<{ id: string; clientId: string; relyingPartyName: string; claims: string[]; createdAt: Date }[]>;
  /** Removes a grant and every token issued under it; false when there was none. Audited. */
  revokeGrant(communityId: string, grantId: string, context: OidcRequestContext): Promise<boolean>;
}

/** Verifies a password against its stored argon2id hash (and hashes one, for the timing of unknown accounts). */
export interface PasswordVerifier {
  verify(hash: string, password: string): Promise<boolean>;
  hash(password: string): Promise<string>;
}

/** A community as the provider needs it, with its page theme. */
export interface OidcCommunity {
  id: string;
  slug: string;
  name: string;
}

/** An office's upstream identity provider with Meridian's client secret there, for a sign-in. */
export interface UpstreamLogin {
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  userNameClaim: string;
}

/** Offices' upstream identity providers and the links of upstream subjects to office accounts. */
export interface OidcUpstreams {
  upstreamOffices(communityId: string): Promise<{ slug: string; name: string }[]>;
  /** The offices of the community with `domain` among their email domains (docs/sso.md); absent: no inference. */
  officeDomains?(communityId: string, domain: string): Promise<{ slug: string; domains: string[] }[]>;
  upstreamFor(communityId: string, tenantSlug: string): Promise<UpstreamLogin | undefined>;
  linkedAccount(communityId: string, tenantId: string, issuer: string, subject: string): Promise<LoginAccount | undefined>;
  link(
    communityId: string,
    link: { tenantId: string; issuer: string; subject: string; userId: string },
    context: OidcRequestContext,
  ): Promise<void>;
}
