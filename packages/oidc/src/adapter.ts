import type { OidcClientRecord, OidcClients, OidcPayload, OidcStorage } from './ports.js';

/** The client metadata oidc-provider gets for a registration (RFC 7591 §2, OpenID Connect Registration §2). */
export function clientMetadataOf(rp: OidcClientRecord): Record<string, unknown> {
  const confidential = rp.clientType === 'confidential' && rp.secretHash !== null;
  return {
    client_id: rp.clientId,
    client_name: rp.name,
    // ADR 0021: the stored value is the SHA-256 of the secret; the provider compares the hash of what the client presents.
    ...(confidential ? { client_secret: rp.secretHash } : {}),
    token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
    redirect_uris: rp.redirectUris,
    post_logout_redirect_uris: rp.postLogoutRedirectUris,
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', ...(confidential && rp.clientCredentials ? ['client_credentials'] : [])],
    subject_type: rp.subjectType,
    id_token_signed_response_alg: 'RS256',
    // What the release needs of the registration, so that an answer looks the client up once (provider.ts).
    meridian_claims: [...rp.claims],
    meridian_max_cache: rp.maxCacheSeconds,
    ...(rp.backchannelLogoutUri ? { backchannel_logout_uri: rp.backchannelLogoutUri, backchannel_logout_session_required: false } : {}),
  };
}

/**
 * The oidc-provider adapter class of one community: every model in
 * PostgreSQL through {@link OidcStorage}, except `Client`, which is read from
 * the community's relying parties (a client of another community is not found).
 */
export function adapterFor(communityId: string, storage: OidcStorage, clients: OidcClients) {
  return class PostgresOidcAdapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void> {
      if (this.model === 'Client') throw new TypeError('Clients are registered through Meridian, not by the provider.');
      await storage.upsert(communityId, this.model, id, payload, expiresIn);
    }

    async find(id: string): Promise<OidcPayload | undefined> {
      if (this.model === 'Client') {
        const rp = await clients.findClient(communityId, id);
        return rp ? clientMetadataOf(rp) : undefined;
      }
      return storage.find(communityId, this.model, id);
    }

    findByUid(uid: string): Promise<OidcPayload | undefined> {
      return storage.findByUid(communityId, this.model, uid);
    }

    findByUserCode(userCode: string): Promise<OidcPayload | undefined> {
      return storage.findByUserCode(communityId, this.model, userCode);
    }

    consume(id: string): Promise<void> {
      return storage.consume(communityId, this.model, id);
    }

    destroy(id: string): Promise<void> {
      return storage.destroy(communityId, this.model, id);
    }

    revokeByGrantId(grantId: string): Promise<void> {
      return storage.revokeByGrantId(communityId, grantId);
    }
  };
}
