import { MeridianError } from '../errors/meridian-error.js';
import { parseSsoClaims, type SsoClaim } from './claims.js';

/** Whether a person is asked before attributes go to the relying party, or (first-party applications) not. */
export type ConsentMode = 'required' | 'implicit';

/** `public`: one `sub` per person for every relying party; `pairwise`: a different one per relying party (OIDC Core §8). */
export type SubjectType = 'public' | 'pairwise';

/** `confidential`: has a client secret; `public`: a browser or native app, PKCE only (RFC 7636, RFC 8252). */
export type ClientType = 'confidential' | 'public';

/** A relying party registered in one community: an OpenID Connect client of that community's issuer. */
export interface RelyingParty {
  id: string;
  communityId: string;
  clientId: string;
  name: string;
  clientType: ClientType;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** The claims it may receive; `optionalClaims` is the part of them a person may refuse. */
  claims: SsoClaim[];
  optionalClaims: SsoClaim[];
  /** How long it may keep released attributes (use case 3.5), in seconds. */
  maxCacheSeconds: number;
  consent: ConsentMode;
  subjectType: SubjectType;
  /** Whether it may get tokens for itself (client credentials, RFC 6749 §4.4); confidential clients only. */
  clientCredentials: boolean;
  /** Where the issuer posts logout tokens (OpenID Connect Back-Channel Logout 1.0), if anywhere. */
  backchannelLogoutUri: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What an admin gives to register a relying party. */
export interface RelyingPartyInput {
  /** Slug or id of the community. */
  community: string;
  name: string;
  redirectUris: readonly string[];
  postLogoutRedirectUris?: readonly string[] | null;
  claims: string | readonly string[];
  optionalClaims?: string | readonly string[] | null;
  maxCacheSeconds?: number | null;
  consent?: string | null;
  subjectType?: string | null;
  clientType?: string | null;
  clientCredentials?: boolean | null;
  backchannelLogoutUri?: string | null;
}

/** What may change in a registration; absent fields keep their value. */
export type RelyingPartyChanges = Partial<Omit<RelyingPartyInput, 'community' | 'clientType'>>;

/** A registration's values as the store writes them. */
export type RelyingPartyValues = Omit<RelyingParty, 'id' | 'clientId' | 'createdAt' | 'updatedAt'>;

/** The default cache period: one day. */
export const DEFAULT_MAX_CACHE_SECONDS = 86_400;
const MAX_CACHE_LIMIT = 31_536_000;
// Core does no IO and has no URL parser: https with a host, or http on the loopback interface (RFC 8252 §7.3); no
// credentials, no fragment (RFC 6749 §3.1.2).
const HTTPS_URI = /^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?][^\s#]*)?$/;
const LOOPBACK_URI = /^http:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?(?:[/?][^\s#]*)?$/;

function invalid(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_INPUT', message, { field });
}

/**
 * A redirect URI a relying party may register: absolute, without a fragment
 * or credentials (RFC 6749 §3.1.2), https, or http on a loopback host (RFC 8252 §7.3).
 */
export function parseRedirectUri(value: string, field = 'redirectUris'): string {
  const text = value.trim();
  if (text.includes('#')) throw invalid('A redirect URI may not have a fragment (RFC 6749 §3.1.2).', field);
  if (text.length > 2000 || !(HTTPS_URI.test(text) || LOOPBACK_URI.test(text))) {
    throw invalid(`'${text.slice(0, 100)}' must be an absolute https URL (http only on localhost, RFC 8252 §7.3).`, field);
  }
  return text;
}

function parseUris(values: readonly string[] | null | undefined, field: string, required: boolean): string[] {
  const list = [...new Set((values ?? []).map((v) => parseRedirectUri(v, field)))];
  if (required && list.length === 0) throw invalid('Give at least one redirect URI.', field);
  if (list.length > 20) throw invalid('At most 20 URIs.', field);
  return list;
}

function parseName(name: string): string {
  const text = name.trim();
  if (text === '' || text.length > 200) throw invalid('The name is 1 to 200 characters.', 'name');
  return text;
}

function parseMaxCache(value: number | null | undefined): number {
  if (value === undefined || value === null) return DEFAULT_MAX_CACHE_SECONDS;
  if (!Number.isInteger(value) || value < 0 || value > MAX_CACHE_LIMIT) {
    throw invalid(`maxCacheSeconds is a whole number of seconds from 0 to ${MAX_CACHE_LIMIT}.`, 'maxCacheSeconds');
  }
  return value;
}

function parseChoice<T extends string>(value: string | null | undefined, choices: readonly T[], fallback: T, field: string): T {
  if (value === undefined || value === null || value.trim() === '') return fallback;
  const v = value.trim().toLowerCase();
  if (!(choices as readonly string[]).includes(v)) throw invalid(`${field} is one of ${choices.join(', ')}.`, field);
  return v as T;
}

function parseOptional(claims: SsoClaim[], optional: string | readonly string[] | null | undefined): SsoClaim[] {
  const list = optional === undefined || optional === null ? [] : parseSsoClaims(optional, 'optionalClaims');
  const outside = list.filter((c) => !claims.includes(c));
  if (outside.length > 0) throw invalid(`Optional claims must be among the claims: ${outside.join(', ')}.`, 'optionalClaims');
  return list;
}

function parseBackchannel(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value.trim() === '') return null;
  return parseRedirectUri(value, 'backchannelLogoutUri');
}

/** The host of an absolute http(s) URI already checked by {@link parseRedirectUri}. */
function hostOf(uri: string): string {
  return /^https?:\/\/([^/?:]+)/.exec(uri)?.[1]?.toLowerCase() ?? uri;
}

/** Validates a registration; INVALID_INPUT names the first field that is wrong. */
export function parseRelyingParty(input: RelyingPartyInput, communityId: string): RelyingPartyValues {
  const values = parseRegistration(input, communityId);
  // OpenID Connect Core §8.1: without a sector_identifier_uri, the pairwise sector is the redirect URIs' one host.
  if (values.subjectType === 'pairwise' && new Set(values.redirectUris.map(hostOf)).size > 1) {
    throw invalid('A pairwise relying party needs all its redirect URIs on one host.', 'redirectUris');
  }
  return values;
}

function parseRegistration(input: RelyingPartyInput, communityId: string): RelyingPartyValues {
  const clientType = parseChoice<ClientType>(input.clientType, ['confidential', 'public'], 'confidential', 'clientType');
  const claims = parseSsoClaims(input.claims);
  const clientCredentials = input.clientCredentials ?? false;
  if (clientCredentials && clientType === 'public') {
    throw invalid('A public client has no secret, so it cannot use client credentials.', 'clientCredentials');
  }
  return {
    communityId,
    name: parseName(input.name),
    clientType,
    redirectUris: parseUris(input.redirectUris, 'redirectUris', true),
    postLogoutRedirectUris: parseUris(input.postLogoutRedirectUris, 'postLogoutRedirectUris', false),
    claims,
    optionalClaims: parseOptional(claims, input.optionalClaims),
    maxCacheSeconds: parseMaxCache(input.maxCacheSeconds),
    consent: parseChoice<ConsentMode>(input.consent, ['required', 'implicit'], 'required', 'consent'),
    subjectType: parseChoice<SubjectType>(input.subjectType, ['public', 'pairwise'], 'public', 'subjectType'),
    clientCredentials,
    backchannelLogoutUri: parseBackchannel(input.backchannelLogoutUri),
  };
}

/** Applies changes to a registration and validates the result like a new one. */
export function applyRelyingPartyChanges(current: RelyingParty, changes: RelyingPartyChanges): RelyingPartyValues {
  const claims = changes.claims ?? current.claims;
  return parseRelyingParty(
    {
      community: current.communityId,
      name: changes.name ?? current.name,
      clientType: current.clientType,
      redirectUris: changes.redirectUris ?? current.redirectUris,
      postLogoutRedirectUris: changes.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
      claims,
      // Narrowing the claims drops optional ones that are no longer claims.
      optionalClaims: changes.optionalClaims ?? current.optionalClaims.filter((c) => parseSsoClaims(claims).includes(c)),
      maxCacheSeconds: changes.maxCacheSeconds ?? current.maxCacheSeconds,
      consent: changes.consent ?? current.consent,
      subjectType: changes.subjectType ?? current.subjectType,
      clientCredentials: changes.clientCredentials ?? current.clientCredentials,
      backchannelLogoutUri: changes.backchannelLogoutUri === undefined ? current.backchannelLogoutUri : changes.backchannelLogoutUri,
    },
    current.communityId,
  );
}
