// Sign-in to the console: the OAuth 2.0 authorization code flow with PKCE
// (RFC 6749 §4.1, RFC 7636 S256) against the community's own OpenID Provider,
// with a resource indicator for the hub's GraphQL API (RFC 8707) and
// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). The protocol
// is oauth4webapi's; this module only keeps the state between redirects.
import * as oauth from 'oauth4webapi';

/** The console's public client, registered by the hub in every community. */
const CLIENT: oauth.Client = { client_id: 'meridian-console' };
const COMMUNITY_KEY = 'meridian.console.community';
const SESSION_KEY = 'meridian.console.session';
const PENDING_KEY = 'meridian.console.pending';
/** What the user chose in the header (acting role, office): kept across silent sign-ins of the same person. */
const CHOICES = ['meridian.console.role', 'meridian.console.office'];

/** What the console holds after signing in; kept in sessionStorage (gone with the tab), never in localStorage. */
export interface Session {
  community: string;
  /** The ID token's subject: who signed in. */
  subject: string;
  accessToken: string;
  idToken?: string;
  /** Epoch milliseconds at which the access token expires. */
  expiresAt: number;
}

interface Pending {
  community: string;
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
}

const redirectUri = () => `${location.origin}/console/callback`;
const resource = () => `${location.origin}/graphql`;
/** The hub serves the console and its provider from one origin: plain HTTP only when the page itself is (a local hub). */
const insecure = () => ({ [oauth.allowInsecureRequests]: location.protocol === 'http:' });

/** The community remembered from the last sign-in, or given as `?community=`. */
export function rememberedCommunity(): string {
  const given = new URLSearchParams(location.search).get('community');
  return given ?? localStorage.getItem(COMMUNITY_KEY) ?? '';
}

/** The session of this tab, if its access token is still valid for at least a few seconds. */
export function currentSession(): Session | undefined {
  const raw = sessionStorage.getItem(SESSION_KEY);
  if (!raw) return undefined;
  const session = JSON.parse(raw) as Session;
  return session.expiresAt - 5_000 > Date.now() ? session : undefined;
}

/** The community of the tab's last session, valid or not (to sign in again without asking). */
export function lastCommunity(): string | undefined {
  const raw = sessionStorage.getItem(SESSION_KEY);
  return raw ? (JSON.parse(raw) as Session).community : undefined;
}

async function discover(community: string): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(`${location.origin}/oidc/${encodeURIComponent(community)}`);
  const response = await oauth.discoveryRequest(issuer, insecure());
  return oauth.processDiscoveryResponse(issuer, response);
}

/**
 * Sends the browser to the community's authorization endpoint. When the
 * provider already has a session for the user, it comes straight back.
 */
export async function signIn(community: string, returnTo = location.pathname + location.search): Promise<void> {
  const as = await discover(community);
  if (!as.authorization_endpoint) throw new Error(`The provider of ${community} names no authorization endpoint.`);
  localStorage.setItem(COMMUNITY_KEY, community);
  const pending: Pending = {
    community,
    verifier: oauth.generateRandomCodeVerifier(),
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    returnTo: returnTo.startsWith('/console') && !returnTo.startsWith('/console/callback') ? returnTo : '/console/',
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', CLIENT.client_id);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid profile');
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(pending.verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', pending.state);
  url.searchParams.set('nonce', pending.nonce);
  url.searchParams.set('resource', resource());
  location.assign(url.href);
}

/**
 * Completes the flow at `/console/callback`: checks the response against the
 * pending request, redeems the code with the PKCE verifier and keeps the
 * tokens. Returns where the user was going.
 */
export async function completeSignIn(): Promise<string> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  if (!raw) throw new Error('This sign-in was not started from this tab. Open the console again to sign in.');
  sessionStorage.removeItem(PENDING_KEY);
  const pending = JSON.parse(raw) as Pending;
  const as = await discover(pending.community);
  const params = oauth.validateAuthResponse(as, CLIENT, new URL(location.href), pending.state);
  const response = await oauth.authorizationCodeGrantRequest(as, CLIENT, oauth.None(), params, redirectUri(), pending.verifier, {
    additionalParameters: { resource: resource() },
    ...insecure(),
  });
  const result = await oauth.processAuthorizationCodeResponse(as, CLIENT, response, { expectedNonce: pending.nonce, requireIdToken: true });
  const subject = oauth.getValidatedIdTokenClaims(result)?.sub ?? '';
  const previous = sessionStorage.getItem(SESSION_KEY);
  // Someone else signed in in this tab: the role and office chosen before were theirs.
  if (!previous || (JSON.parse(previous) as Session).subject !== subject) {
    for (const key of CHOICES) sessionStorage.removeItem(key);
  }
  const session: Session = {
    community: pending.community,
    subject,
    accessToken: result.access_token,
    ...(result.id_token ? { idToken: result.id_token } : {}),
    expiresAt: Date.now() + (result.expires_in ?? 600) * 1000,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return pending.returnTo;
}

/** Forgets the tab's tokens and ends the provider's session (RP-initiated logout), coming back to the console's first page. */
export async function signOut(): Promise<void> {
  const raw = sessionStorage.getItem(SESSION_KEY);
  for (const key of [SESSION_KEY, ...CHOICES]) sessionStorage.removeItem(key);
  if (!raw) return location.assign('/console/');
  const session = JSON.parse(raw) as Session;
  const as = await discover(session.community);
  if (!as.end_session_endpoint) return location.assign('/console/');
  const url = new URL(as.end_session_endpoint);
  url.searchParams.set('client_id', CLIENT.client_id);
  url.searchParams.set('post_logout_redirect_uri', `${location.origin}/console/`);
  if (session.idToken) url.searchParams.set('id_token_hint', session.idToken);
  location.assign(url.href);
}

/** Signs in again (silently when the provider's session lives) and comes back to the current page. */
export function reauthenticate(): void {
  // Several requests can fail at once: one redirect is enough.
  if (redirecting) return;
  redirecting = true;
  const community = lastCommunity() ?? rememberedCommunity();
  if (community) void signIn(community);
  else location.assign('/console/');
}

let redirecting = false;
