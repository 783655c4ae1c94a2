import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONSOLE_ACCOUNT_CLAIM, CONSOLE_CLIENT_ID, CONSOLE_TENANT_CLAIM, claimsByScope, SSO_SCOPES, type SsoClaim } from '@meridian/core';
import Provider, { type Configuration, errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { adapterFor } from './adapter.js';
import { type FirstSignInSource, type JitProvisioning, jitInteractionPolicy } from './jit.js';
import { type CommunityKeys, communityKeys } from './keys.js';
import { errorPage, escapeHtml, type PageTheme, renderPage } from './pages.js';
import type {
  OidcAccounts,
  OidcClients,
  OidcCommunity,
  OidcRequestContext,
  OidcStorage,
  OidcUpstreams,
  PasswordVerifier,
} from './ports.js';
import { releaseClaims } from './release.js';

/** Sign-in throttling: at most `perAccount` failures per account and `perAddress` per client address within `windowMs`. */
export interface ThrottleLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
}

/** Defaults: 5 failures per account and 50 per address in 15 minutes. */
export const DEFAULT_THROTTLE: ThrottleLimits = { perAccount: 5, perAddress: 50, windowMs: 15 * 60_000 };

/** Options of {@link CommunityProviders}. */
export interface CommunityProvidersOptions {
  /** `MERIDIAN_PUBLIC_URL`: issuers are `{publicUrl}/oidc/{community slug}`. */
  publicUrl: string;
  storage: OidcStorage;
  clients: OidcClients;
  accounts: OidcAccounts;
  passwords: PasswordVerifier;
  /** Offices' upstream identity providers; without it, people sign in with their passwords only. */
  upstreams?: OidcUpstreams;
  findCommunity(slug: string): Promise<OidcCommunity | undefined>;
  /**
   * The page theme of a community (docs/sso.md; default: its name and Meridian's blue). Read whenever a page is
   * rendered, so that a change made through any hub process or the CLI shows on the next page everywhere.
   */
  theme?(community: OidcCommunity): Promise<PageTheme | undefined>;
  /** The fetch of the outbound request policy, for back-channel logout and upstream providers. */
  fetch?: typeof globalThis.fetch;
  throttle?: Partial<ThrottleLimits>;
  /** Called when a release could not be written to the ledger (the release itself was refused). */
  onError?(error: unknown): void;
  /** Just-in-time provisioning of relying parties linked to targets "on first sign-in" (issue 16); absent: none. */
  jit?: JitProvisioning;
  /** Accounts pulled from an office's inbound source when a person first signs in upstream (issue 16); absent: none. */
  sourcePull?: FirstSignInSource;
}

/** One community's provider and what its pages need. */
export interface CommunityProvider {
  community: OidcCommunity;
  provider: Provider;
  issuer: string;
  /** The issuer's path (`/oidc/{slug}`, under the public URL's own path). */
  issuerPath: string;
  /** The community's theme when the provider was made; {@link CommunityProviders.forPages} reads the current one. */
  theme: PageTheme;
  /** The `sub` a relying party knows a person by: the person's id, or the pairwise one when it asked for that. */
  subjectFor(clientId: string, personId: string): Promise<string>;
  /** The anti-forgery token of the account page's forms for one session. */
  accountToken(sessionId: string): string;
  /** The provider's request handler, made once (Koa composes its middleware on every `callback()`). */
  handler: ReturnType<Provider['callback']>;
}

/** Meridian's blue: the accent of a community without a theme. */
const DEFAULT_COLOUR = '#1f4e8c';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The client of the account page (`{issuer}/account`): Meridian's own, configured in the provider, never in the database. */
export const ACCOUNT_CLIENT_ID = 'meridian-account';
const SWEEP_EVERY_MS = 10 * 60_000;

/** The payload model that keeps which office account a console sign-in was made with, by its grant (ADR 0034). */
export const CONSOLE_SIGN_IN_MODEL = 'ConsoleSignIn';

/**
 * The payload model that keeps which office account the person last signed in to the console with, by the
 * provider's session (ADR 0034): a later console authorization in the same session needs no password again.
 */
export const CONSOLE_SESSION_MODEL = 'ConsoleSession';

/** A console sign-in's grant lives one hour: each sign-in makes its own, and its access tokens live ten minutes. */
export const CONSOLE_GRANT_TTL = 3600;

/** The provider's session lifetime, in seconds (eight hours); the console's record of a session lives as long. */
export const SESSION_TTL = 8 * 3600;

/** What the interaction result of a sign-in carries besides oidc-provider's `login`: the office account signed in with. */
export const OFFICE_RESULT = 'meridian_office';

/** The office account a sign-in was made with. */
export interface OfficeSignIn {
  tenantId: string;
  userId: string;
}

/** The admin console's URLs and the GraphQL API's resource indicator (RFC 8707), from `MERIDIAN_PUBLIC_URL` (ADR 0034). */
export function consoleUrls(publicUrl: string): { redirectUri: string; postLogoutRedirectUri: string; resource: string } {
  const base = publicUrl.replace(/\/+$/, '');
  return { redirectUri: `${base}/console/callback`, postLogoutRedirectUri: `${base}/console/`, resource: `${base}/graphql` };
}

/** The audit context of a request to the provider; the hub puts its own request id in `x-request-id`. */
export function oidcContext(ctx: { ip?: string; get?(name: string): string } | undefined, actor = 'oidc'): OidcRequestContext {
  const requestId = ctx?.get?.('x-request-id') || `oidc-${Date.now().toString(36)}`;
  return { actor: { type: 'system', id: actor }, requestId: requestId.slice(0, 128), ...(ctx?.ip ? { sourceAddress: ctx.ip } : {}) };
}

/** The origins a form may post or redirect to on a client's behalf (CSP `form-action` applies to redirects too). */
export function originsOf(uris: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const uri of uris) if (URL.canParse(uri)) origins.add(new URL(uri).origin);
  return [...origins];
}

/**
 * The communities' OpenID Providers (issue 15): one oidc-provider instance
 * per community, made on first use and kept; every one stores in PostgreSQL,
 * so any hub process serves any step of a flow.
 */
export class CommunityProviders {
  readonly #made = new Map<string, Promise<CommunityProvider | undefined>>();
  readonly #sweeper: NodeJS.Timeout;
  readonly throttle: ThrottleLimits;

  constructor(readonly options: CommunityProvidersOptions) {
    this.throttle = { ...DEFAULT_THROTTLE, ...options.throttle };
    this.#sweeper = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.#sweeper.unref();
  }

  /** The provider of a community by slug; undefined when there is no such community. */
  async get(slug: string): Promise<CommunityProvider | undefined> {
    if (!SLUG.test(slug)) return undefined;
    let made = this.#made.get(slug);
    if (!made) {
      made = this.#make(slug);
      this.#made.set(slug, made);
      // A community created later, or a failure (the database was away), is looked up again next time.
      made.then(
        (found) => found ?? this.#made.delete(slug),
        () => this.#made.delete(slug),
      );
    }
    return made;
  }

  /** The provider of a community with its current page theme, for rendering a page; undefined when there is no such community. */
  async forPages(slug: string): Promise<CommunityProvider | undefined> {
    const found = await this.get(slug);
    return found && { ...found, theme: await this.themeOf(found.community) };
  }

  /** A community's current page theme; its name and Meridian's blue when it has none, or the theme cannot be read. */
  async themeOf(community: OidcCommunity): Promise<PageTheme> {
    const fallback: PageTheme = { name: community.name, colour: DEFAULT_COLOUR };
    if (!this.options.theme) return fallback;
    try {
      return (await this.options.theme(community)) ?? fallback;
    } catch (error) {
      // A page still shows (unthemed) when the theme cannot be read: signing in matters more than its look.
      this.options.onError?.(error);
      return fallback;
    }
  }

  /** Deletes expired payloads of the communities this process serves. */
  async sweep(): Promise<void> {
    for (const made of this.#made.values()) {
      const found = await made.catch(() => undefined);
      if (found) await this.options.storage.sweep(found.community.id).catch((error) => this.options.onError?.(error));
    }
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  /**
   * Hands a request for `/oidc/{slug}/…` to the community's provider: the
   * path below the issuer goes to oidc-provider, which builds its URLs from
   * the public URL (never from the request's Host).
   */
  async handle(slug: string, rest: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const found = await this.get(slug);
    if (!found) return false;
    const publicUrl = new URL(this.options.publicUrl);
    const url = rest.startsWith('/') ? rest : `/${rest}`;
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = `${found.issuerPath}${url}`;
    req.url = url;
    req.headers['x-forwarded-proto'] = publicUrl.protocol.slice(0, -1);
    req.headers['x-forwarded-host'] = publicUrl.host;
    // The hub trusts no proxy header from clients (trustProxy is off): the address is the socket's.
    delete req.headers['x-forwarded-for'];
    await found.handler(req, res);
    return true;
  }

  async #make(slug: string): Promise<CommunityProvider | undefined> {
    const community = await this.options.findCommunity(slug);
    if (!community || community.slug !== slug) return undefined;
    const keys = await communityKeys(this.options.storage, community.id);
    const issuer = `${this.options.publicUrl.replace(/\/+$/, '')}/oidc/${community.slug}`;
    const issuerPath = new URL(issuer).pathname;
    const theme = await this.themeOf(community);
    const provider = new Provider(issuer, this.#configuration(community, keys, issuer, issuerPath));
    provider.proxy = true;
    hashClientSecrets(provider);
    provider.on('server_error', (_ctx, error) => this.options.onError?.(error));
    // Use case 3.5: a userinfo answer says how long the relying party may keep it (RFC 9111 §5.2.2.1), privately.
    provider.use(async (ctx, next) => {
      await next();
      const rp = ctx.oidc?.route === 'userinfo' && ctx.status === 200 ? registrationOf(ctx.oidc.client) : undefined;
      if (rp) ctx.set('cache-control', `private, max-age=${rp.maxCacheSeconds}`);
    });
    const subjectFor = async (clientId: string, personId: string): Promise<string> => {
      const client = await provider.Client.find(clientId);
      if (client?.subjectType !== 'pairwise') return personId;
      return pairwiseSubject(keys.pairwise, String(client.sectorIdentifier ?? client.clientId), personId);
    };
    const accountToken = (sessionId: string) =>
      createHmac('sha256', keys.cookies[0] ?? keys.pairwise)
        .update(`account:${sessionId}`)
        .digest('base64url');
    return { community, provider, issuer, issuerPath, theme, subjectFor, accountToken, handler: provider.callback() };
  }

  #configuration(community: OidcCommunity, keys: CommunityKeys, issuer: string, issuerPath: string): Configuration {
    const { storage, clients, accounts } = this.options;
    const onError = this.options.onError;
    const consoleAt = consoleUrls(this.options.publicUrl);
    return {
      adapter: adapterFor(community.id, storage, clients),
      // The account page signs people in like any application, as a public client with PKCE.
      clients: [
        {
          client_id: ACCOUNT_CLIENT_ID,
          client_name: 'your account',
          token_endpoint_auth_method: 'none',
          redirect_uris: [`${issuer}/account/callback`],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          id_token_signed_response_alg: 'RS256',
        },
        // The admin console (ADR 0034): a public client with PKCE, first party, the only one that gets the GraphQL API as a resource.
        {
          client_id: CONSOLE_CLIENT_ID,
          client_name: 'Meridian console',
          token_endpoint_auth_method: 'none',
          redirect_uris: [consoleAt.redirectUri],
          post_logout_redirect_uris: [consoleAt.postLogoutRedirectUri],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          scope: 'openid profile',
          id_token_signed_response_alg: 'RS256',
        },
      ],
      // `amr` (RFC 8176: `pwd`, or `fed` through an office's upstream provider) comes from the session, not the person.
      claims: { ...claimsByScope(), openid: [...(claimsByScope().openid ?? []), 'amr'] },
      scopes: [...SSO_SCOPES],
      // Released claims go into the ID token too (issue 15: the relying party checks them against the JWKS).
      conformIdTokenClaims: false,
      responseTypes: ['code'],
      // A registration's release settings travel with its client metadata (adapter.ts).
      extraClientMetadata: { properties: ['meridian_claims', 'meridian_max_cache'] },
      subjectTypes: ['public', 'pairwise'],
      // OpenID Connect Core §8.1: the same person gets a different, stable sub per sector.
      pairwiseIdentifier: async (_ctx, accountId, client) =>
        pairwiseSubject(keys.pairwise, String(client.sectorIdentifier ?? client.clientId), accountId),
      // RFC 7636 with S256 only (oidc-provider 9 knows no other method), for every client: OAuth 2.0 Security BCP §2.1.1.
      pkce: { required: () => true },
      jwks: { keys: [keys.signing as never] },
      cookies: {
        keys: keys.cookies,
        names: { session: `_meridian_session`, interaction: `_meridian_interaction`, resume: `_meridian_resume` },
        long: { httpOnly: true, sameSite: 'lax', path: issuerPath },
        short: { httpOnly: true, sameSite: 'lax', path: issuerPath },
      },
      ttl: {
        AccessToken: 600,
        Grant: (_ctx, grant) => (grant.clientId === CONSOLE_CLIENT_ID ? CONSOLE_GRANT_TTL : 90 * 86_400),
        AuthorizationCode: 60,
        ClientCredentials: 600,
        IdToken: 600,
        Interaction: 3600,
        Session: SESSION_TTL,
        RefreshToken: 14 * 86_400,
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // A relying party learns about, and revokes, its own tokens only: never another client's (RFC 7662 §4, RFC 7009 §2.1).
        introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
        revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
        userinfo: { enabled: true },
        backchannelLogout: { enabled: true },
        // RFC 8707: the console, and only the console, may ask for the GraphQL API as a resource, and gets an RFC 9068 JWT for it.
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => undefined,
          useGrantedResource: async () => false,
          getResourceServerInfo: async (_ctx, resource, client) => {
            if (client.clientId !== CONSOLE_CLIENT_ID || resource !== consoleAt.resource) {
              throw new errors.InvalidTarget('this resource is not available to this client');
            }
            return {
              scope: '',
              audience: consoleAt.resource,
              accessTokenTTL: 600,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (ctx, form) => {
            const theme = await this.themeOf(community);
            const page = renderPage(
              theme,
              'Sign out',
              `<h2>Sign out of ${escapeHtml(theme.name)}?</h2>${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
              200,
              originsOf(ctx.oidc.client?.postLogoutRedirectUris ?? []),
            );
            send(ctx, page);
          },
          postLogoutSuccessSource: async (ctx) =>
            send(ctx, renderPage(await this.themeOf(community), 'Signed out', '<p>You are signed out.</p>')),
        },
      },
      interactions: {
        url: async (_ctx, interaction) => `${issuerPath}/interaction/${interaction.uid}`,
        // A last prompt provisions the person at the relying party's JIT targets before the code is issued (ADR 0030).
        policy: consoleSignInPolicy(
          this.options.jit ? jitInteractionPolicy(community.id, this.options.jit) : interactionPolicy.base(),
          async (sessionUid, accountId) => (await storage.find(community.id, CONSOLE_SESSION_MODEL, sessionUid))?.accountId === accountId,
        ),
      },
      // ADR 0034: each console sign-in makes its own grant (it names the office account signed in with), never reusing the session's.
      loadExistingGrant: async (ctx) => {
        const clientId = ctx.oidc.client?.clientId;
        const grantId =
          ctx.oidc.result?.consent?.grantId ??
          (clientId === undefined || clientId === CONSOLE_CLIENT_ID ? undefined : ctx.oidc.session?.grantIdFor(clientId));
        return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
      },
      // ADR 0034 (RFC 9068): the console's access token for the GraphQL API names the office account it signed in with.
      extraTokenClaims: async (_ctx, token) => {
        if (token.kind !== 'AccessToken' || token.clientId !== CONSOLE_CLIENT_ID || token.aud !== consoleAt.resource) return undefined;
        const grantId = (token as { grantId?: string }).grantId;
        const signIn = grantId ? await storage.find(community.id, CONSOLE_SIGN_IN_MODEL, grantId) : undefined;
        if (typeof signIn?.tenantId !== 'string' || typeof signIn.userId !== 'string' || signIn.accountId !== token.accountId) {
          throw new errors.InvalidGrant('the console sign-in is not known: sign in again');
        }
        return { [CONSOLE_TENANT_CLAIM]: signIn.tenantId, [CONSOLE_ACCOUNT_CLAIM]: signIn.userId };
      },
      clientBasedCORS: (_ctx, origin, client) => originsOf(client.redirectUris ?? []).includes(origin),
      renderError: async (ctx, out) => {
        const message = typeof out.error_description === 'string' ? out.error_description : 'The request could not be completed.';
        send(ctx, errorPage(await this.themeOf(community), `${out.error}: ${message}`, Math.max(ctx.status, 400)));
      },
      findAccount: async (ctx, sub) => {
        const person = await accounts.person(community.id, sub);
        // An account that left, or was suspended, signs in nowhere and refreshes nothing.
        if (!person?.active) return undefined;
        return {
          accountId: sub,
          claims: async (use, scope, claimsParameter, rejected) => {
            // The registration came with the client's metadata (adapter.ts): no second look-up per answer.
            const rp = registrationOf(ctx.oidc.client);
            if (!rp) return { sub };
            const released = releaseClaims({ rp, scope, claimsParameter, rejected, values: person.values });
            if (released.length > 0) {
              await accounts
                .recordRelease(
                  community.id,
                  {
                    clientId: rp.clientId,
                    personId: sub,
                    tenantId: person.tenantId,
                    claims: released,
                    maxCacheSeconds: rp.maxCacheSeconds,
                    use,
                  },
                  oidcContext(ctx, `client:${rp.clientId}`),
                )
                .catch((error) => {
                  onError?.(error);
                  throw error;
                });
            }
            return {
              sub,
              ...Object.fromEntries(released.map((claim) => [claim, person.values[claim]])),
              // docs/sso.md: how long the relying party may keep what it was given (use case 3.5).
              meridian_max_cache: rp.maxCacheSeconds,
            };
          },
        };
      },
      ...(this.options.fetch ? { fetch: this.options.fetch as never } : {}),
    } as Configuration;
  }
}

/**
 * Adds to the login prompt the console's own check (ADR 0034): a session
 * knows only the person, and the console must know which office account
 * they signed in with. A console authorization asks for the password unless
 * this sign-in just gave it, or the session was signed in to the console
 * before by the same person (`knownSession`).
 */
function consoleSignInPolicy(
  policy: interactionPolicy.Prompt[],
  knownSession: (sessionUid: string, accountId: string) => Promise<boolean>,
): interactionPolicy.Prompt[] {
  const login = (policy as unknown as { get(name: string): interactionPolicy.Prompt | undefined }).get('login');
  login?.checks.add(
    new interactionPolicy.Check(
      'console_sign_in',
      'the console needs the office account the person signs in with',
      'login_required',
      async (ctx: KoaContextWithOIDC) => {
        if (ctx.oidc.client?.clientId !== CONSOLE_CLIENT_ID) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        if ((ctx.oidc.result as Record<string, unknown> | undefined)?.[OFFICE_RESULT]) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const { uid, accountId } = ctx.oidc.session ?? {};
        if (!uid || !accountId) return interactionPolicy.Check.REQUEST_PROMPT;
        return (await knownSession(uid, accountId)) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );
  return policy;
}

/** What a client's metadata says of its registration (`meridian_*`, adapter.ts); undefined for Meridian's own account client. */
function registrationOf(client: { clientId: string; metadata(): Record<string, unknown> } | undefined) {
  const metadata = client?.metadata();
  const claims = metadata?.meridian_claims;
  const maxCacheSeconds = metadata?.meridian_max_cache;
  if (!client || !Array.isArray(claims) || typeof maxCacheSeconds !== 'number') return undefined;
  return { clientId: client.clientId, claims: claims as SsoClaim[], maxCacheSeconds };
}

/** OpenID Connect Core §8.1: a stable sub per person and sector, which another sector cannot link to it. */
function pairwiseSubject(secret: string, sector: string, personId: string): string {
  return createHmac('sha256', secret).update(`${sector}:${personId}`).digest('base64url');
}

/** Writes a page (status, headers, body) through oidc-provider's Koa context. */
function send(ctx: KoaContextWithOIDC, page: { status: number; html: string; headers: Record<string, string> }): void {
  ctx.status = page.status;
  for (const [name, value] of Object.entries(page.headers)) ctx.set(name, value);
  ctx.body = page.html;
}

/**
 * ADR 0021: a registration keeps only the SHA-256 of its client secret, and
 * the provider's client metadata carries that hash as `client_secret`. The
 * client presents the secret itself (client_secret_basic), so the comparison
 * hashes what was presented first and compares the hashes in constant time.
 * Symmetric uses of the secret (HS* signatures, client_secret_jwt) are never
 * configured, so the hash is used for nothing else.
 */
function hashClientSecrets(provider: Provider): void {
  const Client = provider.Client as unknown as {
    prototype: { clientSecret?: string; compareClientSecret(actual: string): Promise<boolean> };
  };
  Client.prototype.compareClientSecret = async function compareHashed(this: { clientSecret?: string }, actual: string) {
    const stored = this.clientSecret;
    if (typeof stored !== 'string' || typeof actual !== 'string' || actual === '') return false;
    const presented = createHash('sha256').update(actual, 'utf8').digest();
    const expected = Buffer.from(stored, 'hex');
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  };
}
