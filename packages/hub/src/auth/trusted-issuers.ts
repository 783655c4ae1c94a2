import { systemClock, TrustedIssuerService } from '@meridian/core';
import { PostgresIssuerStore } from '@meridian/store';
import type { Runtime } from '../runtime/runtime.js';
import { createJwtAuthenticator, type JwtVerifier } from './jwt-authenticator.js';

/** Trusted JWT issuers of one process: their service (CLI, GraphQL) and the JWT verifier (HTTP). */
export interface TrustedIssuers {
  service: TrustedIssuerService;
  verifyJwt: JwtVerifier;
}

/** Builds the trusted-issuer service and JWT verifier on a runtime's database. */
export function openTrustedIssuers(runtime: Pick<Runtime, 'orm' | 'adminStore' | 'admin'>): TrustedIssuers {
  const store = new PostgresIssuerStore(runtime.orm, systemClock);
  return {
    service: new TrustedIssuerService(store, runtime.admin),
    verifyJwt: createJwtAuthenticator({ issuers: store, tenants: runtime.adminStore }),
  };
}
