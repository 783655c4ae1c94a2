import type { RequestContext } from '../tenancy/model.js';
import type { RelyingParty, RelyingPartyValues } from './relying-party.js';

/** A registration with its client secret, returned once when the secret is made (create, rotate). */
export interface RelyingPartyWithSecret {
  relyingParty: RelyingParty;
  /** Null for a public client. The store keeps only its SHA-256. */
  clientSecret: string | null;
}

/** What a person granted a relying party, as the person and the admins see it. */
export interface SsoGrant {
  id: string;
  communityId: string;
  clientId: string;
  relyingPartyName: string;
  /** The person in the community's global directory. */
  personId: string;
  scopes: string[];
  /** The claims the person consented to. */
  claims: string[];
  createdAt: Date;
  expiresAt: Date | null;
}

/** Relying parties of the communities; every write is audited (platform chain). */
export interface RelyingPartyStore {
  /** Stores a registration with a fresh client id and, for a confidential client, a fresh secret. */
  create(values: RelyingPartyValues, context: RequestContext): Promise<RelyingPartyWithSecret>;
  list(communityId: string): Promise<RelyingParty[]>;
  /** The registration with this client id in this community; another community's client is not found. */
  find(communityId: string, clientId: string): Promise<RelyingParty | undefined>;
  update(current: RelyingParty, values: RelyingPartyValues, context: RequestContext): Promise<RelyingParty>;
  /** Removes a registration with its grants and tokens. */
  delete(current: RelyingParty, context: RequestContext): Promise<void>;
  rotateSecret(current: RelyingParty, context: RequestContext): Promise<RelyingPartyWithSecret>;
}

/** The grants people gave relying parties (kept by the OpenID Provider's storage). */
export interface SsoGrantStore {
  /** The person an office account belongs to in its community's global directory, if projected. */
  personOfAccount(tenantId: string, userId: string): Promise<{ communityId: string; personId: string } | undefined>;
  grantsOfPerson(communityId: string, personId: string): Promise<SsoGrant[]>;
  grantsOfClient(communityId: string, clientId: string): Promise<SsoGrant[]>;
  /** Removes a grant and every token issued under it; false when there was none. Audited. */
  revokeGrant(communityId: string, grantId: string, context: RequestContext): Promise<boolean>;
}
