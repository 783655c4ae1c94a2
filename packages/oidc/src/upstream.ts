import * as client from 'openid-client';
import { continuePage, errorPage } from './pages.js';
import type { LoginAccount, OidcRequestContext, UpstreamLogin } from './ports.js';
import type { CommunityProvider, CommunityProviders } from './provider.js';

/** What the hub keeps while the person is at the upstream provider (an `UpstreamState` payload, 10 minutes). */
interface UpstreamState {
  uid: string;
  office: string;
  verifier: string;
  nonce: string;
  [key: string]: unknown;
}

const STATE_TTL_SECONDS = 600;
const STATE = /^[A-Za-z0-9_-]{16,128}$/;

/** Where an interaction step sends the browser, or the page it shows instead. */
export type UpstreamOutcome = { redirect: string } | { page: ReturnType<typeof errorPage> };

/** The account the upstream subject signs in as, or why none. */
export type UpstreamAccount = { account: LoginAccount } | { refused: string };

/**
 * Sign-in at an office's upstream OpenID Provider (issue 15), as a relying
 * party of it with openid-client: authorization code with PKCE, state and
 * nonce; every request through the hub's outbound request policy; the client
 * secret sent only to a token endpoint on the issuer's own origin. The first
 * sign-in links the upstream subject to the office account whose userName is
 * the configured claim; later ones follow the link.
 */
export class UpstreamSignIn {
  constructor(private readonly providers: CommunityProviders) {}

  /** The redirect URI Meridian is registered with at every upstream provider of the community. */
  static callbackOf(found: CommunityProvider): string {
    return `${found.issuer}/upstream/callback`;
  }

  private async configuration(upstream: UpstreamLogin): Promise<client.Configuration> {
    const fetch = this.providers.options.fetch;
    const options: client.DiscoveryRequestOptions = {
      ...(upstream.issuer.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : {}),
      ...(fetch ? { [client.customFetch]: (url: string, init: client.CustomFetchOptions) => fetch(url, init as RequestInit) } : {}),
    };
    const config = await client.discovery(
      new URL(upstream.issuer),
      upstream.clientId,
      undefined,
      client.ClientSecretBasic(upstream.clientSecret),
      options,
    );
    // DESIGN: a stored secret is bound to the origin it was given for.
    const token = config.serverMetadata().token_endpoint;
    if (!token || new URL(token).origin !== new URL(upstream.issuer).origin) {
      throw new Error(`The token endpoint of ${upstream.issuer} is not on its origin; the client secret is not sent there.`);
    }
    if (fetch) config[client.customFetch] = (url, init) => fetch(url, init as RequestInit);
    return config;
  }

  /** `GET …/interaction/{uid}/upstream?office=…`: sends the person to the office's upstream provider. */
  async start(found: CommunityProvider, uid: string, office: string): Promise<UpstreamOutcome> {
    const upstream = await this.providers.options.upstreams?.upstreamFor(found.community.id, office);
    if (!upstream) return { page: errorPage(found.theme, 'This office has no identity provider to sign in with.', 404) };
    let config: client.Configuration;
    try {
      config = await this.configuration(upstream);
    } catch (error) {
      this.providers.options.onError?.(error);
      return { page: errorPage(found.theme, `The identity provider of ${upstream.tenantName} cannot be reached. Try again later.`, 502) };
    }
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const saved: UpstreamState = { uid, office, verifier, nonce };
    await this.providers.options.storage.upsert(found.community.id, 'UpstreamState', state, saved, STATE_TTL_SECONDS);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: UpstreamSignIn.callbackOf(found),
      scope: `openid ${upstream.userNameClaim === 'email' ? 'email' : 'profile email'}`,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { redirect: url.href };
  }

  /**
   * `GET /oidc/{slug}/upstream/callback`: the one redirect URI registered
   * upstream. It sends the browser on to the interaction's own path, where
   * its cookie is sent, with the upstream's answer unchanged: by a page, not
   * a redirect, so that the upstream's `form-action` does not reach the
   * relying party at the end of the sign-in ({@link continuePage}).
   */
  async bounce(found: CommunityProvider, query: string): Promise<UpstreamOutcome> {
    const state = new URLSearchParams(query).get('state') ?? '';
    const saved = STATE.test(state) ? await this.providers.options.storage.find(found.community.id, 'UpstreamState', state) : undefined;
    if (!saved) return { page: errorPage(found.theme, 'This sign-in has expired. Go back to the application and start again.', 400) };
    return { page: continuePage(found.theme, `${found.issuerPath}/interaction/${String(saved.uid)}/upstream/done?${query}`) };
  }

  /** `GET …/interaction/{uid}/upstream/done?code=…&state=…`: the code exchange, and the office account it signs in as. */
  async finish(found: CommunityProvider, uid: string, query: string, context: OidcRequestContext): Promise<UpstreamAccount> {
    const { storage, upstreams, accounts } = this.providers.options;
    const params = new URLSearchParams(query);
    const state = params.get('state') ?? '';
    const saved = STATE.test(state)
      ? ((await storage.find(found.community.id, 'UpstreamState', state)) as UpstreamState | undefined)
      : undefined;
    // One use only: a replayed answer finds no state.
    if (STATE.test(state)) await storage.destroy(found.community.id, 'UpstreamState', state);
    if (!saved || saved.uid !== uid) return { refused: 'This sign-in has expired. Go back to the application and start again.' };
    if (params.has('error')) return { refused: 'The identity provider did not sign you in.' };
    const upstream = await upstreams?.upstreamFor(found.community.id, saved.office);
    if (!upstream) return { refused: 'This office has no identity provider to sign in with.' };
    let claims: client.IDToken;
    try {
      const config = await this.configuration(upstream);
      const callback = new URL(UpstreamSignIn.callbackOf(found));
      callback.search = query;
      const tokens = await client.authorizationCodeGrant(
        config,
        callback,
        { pkceCodeVerifier: saved.verifier, expectedState: state, expectedNonce: saved.nonce, idTokenExpected: true },
        { redirect_uri: UpstreamSignIn.callbackOf(found) },
      );
      claims = tokens.claims() as client.IDToken;
    } catch (error) {
      this.providers.options.onError?.(error);
      return { refused: 'The identity provider’s answer could not be verified.' };
    }
    const linked = await upstreams?.linkedAccount(found.community.id, upstream.tenantId, upstream.issuer, claims.sub);
    if (linked) return { account: linked };
    const userName = claims[upstream.userNameClaim];
    const candidates = typeof userName === 'string' ? await accounts.loginAccounts(found.community.id, userName, upstream.tenantSlug) : [];
    let [account] = candidates;
    if (candidates.length === 0 && this.providers.options.sourcePull) {
      // Issue 16 (use case 2.4.4): the office does not know the person yet; its inbound source may.
      const email = typeof claims.email === 'string' ? claims.email : undefined;
      const pulled = await this.providers.options.sourcePull.pull(
        found.community.id,
        { tenantId: upstream.tenantId, tenantSlug: upstream.tenantSlug, tenantName: upstream.tenantName },
        { subject: claims.sub, email, userName: typeof userName === 'string' ? userName : undefined },
        context,
      );
      if (pulled && 'refused' in pulled) {
        await accounts.recordLoginFailure(
          found.community.id,
          {
            keys: [],
            reason: 'unknown_account',
            tenantId: upstream.tenantId,
            userId: null,
            userName: typeof userName === 'string' ? userName : claims.sub,
          },
          this.providers.throttle.windowMs,
          context,
        );
        return { refused: pulled.refused };
      }
      if (pulled) account = pulled.account;
    }
    if (!account || candidates.length > 1) {
      await accounts.recordLoginFailure(
        found.community.id,
        {
          keys: [],
          reason: 'unknown_account',
          tenantId: upstream.tenantId,
          userId: null,
          userName: typeof userName === 'string' ? userName : claims.sub,
        },
        this.providers.throttle.windowMs,
        context,
      );
      return { refused: `No account of ${upstream.tenantName} matches the one you signed in with.` };
    }
    await upstreams?.link(
      found.community.id,
      { tenantId: upstream.tenantId, issuer: upstream.issuer, subject: claims.sub, userId: account.userId },
      context,
    );
    return { account };
  }
}
