import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONSOLE_CLIENT_ID, describeSsoClaim, type SsoClaim } from '@meridian/core';
import * as client from 'openid-client';
import { errorPage, escapeHtml, type RenderedPage, renderPage } from './pages.js';
import type { OidcRequestContext } from './ports.js';
import { ACCOUNT_CLIENT_ID, type CommunityProvider, type CommunityProviders } from './provider.js';

/** What the account page answers: a page, or where to send the browser. */
export type AccountOutcome = { page: RenderedPage } | { redirect: string };

type Session = Awaited<ReturnType<CommunityProvider['provider']['Session']['get']>>;

/**
 * The account page (`{issuer}/account`, issue 15): the grants a person gave
 * relying parties, in plain words, each with a button that withdraws it. The
 * person signs in through the provider like at any application (the
 * provider's own public client, PKCE); the page reads the provider's session.
 */
export class AccountPage {
  constructor(private readonly providers: CommunityProviders) {}

  private async session(found: CommunityProvider, req: IncomingMessage, res: ServerResponse): Promise<Session | undefined> {
    const { provider } = found;
    const session = await provider.Session.get(provider.createContext(req, res));
    return session.accountId ? session : undefined;
  }

  /** An authorization request of the account page's own client: the person signs in, then comes back here. */
  private async signIn(found: CommunityProvider): Promise<AccountOutcome> {
    const url = new URL(`${found.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${found.issuer}/account/callback`,
      state: randomBytes(16).toString('base64url'),
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    return { redirect: url.href };
  }

  /** `GET {issuer}/account`. */
  async show(slug: string, req: IncomingMessage, res: ServerResponse, notice?: string): Promise<AccountOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    const session = await this.session(found, req, res);
    if (!session?.accountId) return this.signIn(found);
    const grants = (await this.providers.options.accounts.grantsOfPerson(found.community.id, session.accountId)).filter(
      (g) => g.clientId !== ACCOUNT_CLIENT_ID && g.clientId !== CONSOLE_CLIENT_ID,
    );
    const token = found.accountToken(session.jti);
    const items = grants
      .map((g) => {
        const claims = g.claims.map((c) => escapeHtml(describeSsoClaim(c as SsoClaim))).join(', ') || 'only your identifier';
        return `<li><h3>${escapeHtml(g.relyingPartyName)}</h3>
<p>Since ${escapeHtml(g.createdAt.toISOString().slice(0, 10))}: ${claims}.</p>
<form method="post" action="${escapeHtml(found.issuerPath)}/account">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="grant" value="${escapeHtml(g.id)}">
<button type="submit">Withdraw from ${escapeHtml(g.relyingPartyName)}</button>
</form></li>`;
      })
      .join('\n');
    const body = `<h2>What you share</h2>
${notice ? `<p role="status">${escapeHtml(notice)}</p>` : ''}
${grants.length > 0 ? `<ul class="claims">\n${items}\n</ul>` : '<p>You share nothing with any application.</p>'}`;
    return { page: renderPage(found.theme, 'Your account', body) };
  }

  /** `GET {issuer}/account/callback`: back from signing in; the session is what counts, the code is not used. */
  async callback(slug: string, query: string): Promise<AccountOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    if (new URLSearchParams(query).has('error')) return { page: errorPage(found.theme, 'You are not signed in.', 401) };
    return { redirect: `${found.issuerPath}/account` };
  }

  /** `POST {issuer}/account`: withdraws one of the signed-in person's grants. */
  async withdraw(
    slug: string,
    form: { token?: string; grant?: string },
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<AccountOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    const session = await this.session(found, req, res);
    if (!session?.accountId) return { page: errorPage(found.theme, 'You are not signed in.', 401) };
    const expected = Buffer.from(found.accountToken(session.jti));
    const given = Buffer.from(typeof form.token === 'string' ? form.token : '');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { page: errorPage(found.theme, 'This form has expired. Open your account page again.', 403) };
    }
    const { accounts } = this.providers.options;
    const mine = await accounts.grantsOfPerson(found.community.id, session.accountId);
    const grant = mine.find((g) => g.id === form.grant && g.clientId !== ACCOUNT_CLIENT_ID && g.clientId !== CONSOLE_CLIENT_ID);
    if (!grant) return { page: errorPage(found.theme, 'There is no such grant.', 404) };
    await accounts.revokeGrant(found.community.id, grant.id, { ...context, actor: { type: 'system', id: `person:${session.accountId}` } });
    return this.show(slug, req, res, `You no longer share anything with ${grant.relyingPartyName}.`);
  }
}
