import { TrustedIssuerService } from '@meridian/core';
import type { Runtime } from '../runtime/runtime.js';
import { createJwtAuthenticator, type JwtVerifier } from './jwt-authenticator.js';

/** Trusted JWT issuers of one process: their service (CLI, GraphQL) and the JWT verifier (HTTP). */
export interface TrustedIssuers {
  service: TrustedIssuerService;
  verifyJwt: JwtVerifier;
}

/** Builds the trusted-issuer service and JWT verifier on a runtime's issuer store. */
export function openTrustedIssuers(runtime: Pick<Runtime, 'issuerStore' | 'adminStore' | 'admin' | 'outbound'>): TrustedIssuers {
  const store = runtime.issuerStore;
  return {
    // The JWKS URI answers to the outbound request policy when an issuer is added and on every fetch; https only unless the allow-list opens the host.
    service: new TrustedIssuerService(store, runtime.admin, {
      checkUrl: (url, field) => runtime.outbound.checkUrl(url, field, { httpsOnly: true }),
    }),
    verifyJwt: createJwtAuthenticator({
      issuers: store,
      tenants: runtime.adminStore,
      fetch: runtime.outbound.fetchFor({ httpsOnly: true }),
    }),
  };
}
