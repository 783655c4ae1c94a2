/** Options of {@link startRelyingParty} (see server.mjs). */
export interface RelyingPartyOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  publicUrl?: string;
  port?: number;
  host?: string;
  pull?: 'access-token' | 'client-credentials';
  openid?: unknown;
}

/** An account the application created on a first sign-in. */
export interface LocalAccount {
  sub: string;
  userName: string | null;
  displayName: string | null;
  email: string | null;
  createdAt: string;
}

/** Starts the example relying party. */
export function startRelyingParty(options: RelyingPartyOptions): Promise<{
  url: string;
  accounts: Map<string, LocalAccount>;
  pulls: string[];
  close(): Promise<void>;
}>;
