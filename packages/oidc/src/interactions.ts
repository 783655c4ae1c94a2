import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONSOLE_CLIENT_ID, claimsOfScopes, consentedClaims, consentItems, officeOfEmail, SSO_SCOPES } from '@meridian/core';
import { JIT_PROMPT, provisioningFailedPage, runJitPrompt } from './jit.js';
import { consentPage, errorPage, loginPage, type RenderedPage } from './pages.js';
import type { LoginAccount, OidcRequestContext } from './ports.js';
import {
  ACCOUNT_CLIENT_ID,
  CONSOLE_GRANT_TTL,
  CONSOLE_SESSION_MODEL,
  CONSOLE_SIGN_IN_MODEL,
  type CommunityProvider,
  type CommunityProviders,
  consoleUrls,
  OFFICE_RESULT,
  type OfficeSignIn,
  originsOf,
  SESSION_TTL,
} from './provider.js';
import { UpstreamSignIn } from './upstream.js';

/** What the sign-in page says after a failure: the same words for an unknown user name and a wrong password. */
const FAILURE_MESSAGES = {
  unknown_account: 'The user name or password is wrong.',
  bad_password: 'The user name or password is wrong.',
  inactive: 'This account is not active.',
  not_in_directory: 'Your account cannot sign in yet: the community directory has not placed it. Try again in a minute.',
} as const;

/** What an interaction step answers: a page to show, or where to send the browser (303). */
export type InteractionOutcome = { page: RenderedPage } | { redirect: string };

/** A submitted form: each field's values. */
export type FormFields = Record<string, string | string[] | undefined>;

const first = (value: string | string[] | undefined): string => (Array.isArray(value) ? (value[0] ?? '') : (value ?? ''));
const all = (value: string | string[] | undefined): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

type Details = Awaited<ReturnType<CommunityProvider['provider']['interactionDetails']>>;

/** Sign-in and consent (issue 15): the pages of oidc-provider's interactions, and what their forms do. */
export class Interactions {
  /** An argon2id hash of a random string, verified when no account matches, so that timing does not tell. */
  private dummyHash: Promise<string> | undefined;

  private readonly upstream: UpstreamSignIn;

  constructor(private readonly providers: CommunityProviders) {
    this.upstream = new UpstreamSignIn(providers);
  }

  /** Links to the offices' upstream identity providers, for the sign-in page. */
  private async upstreamLinks(found: CommunityProvider, action: string): Promise<{ name: string; href: string }[]> {
    const offices = (await this.providers.options.upstreams?.upstreamOffices(found.community.id)) ?? [];
    return offices.map((o) => ({ name: o.name, href: `${action}/upstream?office=${encodeURIComponent(o.slug)}` }));
  }

  /** `GET …/interaction/{uid}/upstream?office=…`: off to the office's upstream identity provider. */
  async upstreamStart(slug: string, uid: string, office: string, req: IncomingMessage, res: ServerResponse): Promise<InteractionOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    const details = await this.details(found, uid, req, res);
    if (details?.prompt.name !== 'login') {
      return { page: errorPage(found.theme, 'This sign-in has expired. Go back to the application and start again.', 400) };
    }
    return this.upstream.start(found, details.uid, office.slice(0, 100));
  }

  /** `GET /oidc/{slug}/upstream/callback`: back from an upstream provider, on to the interaction. */
  async upstreamCallback(slug: string, query: string): Promise<InteractionOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    return this.upstream.bounce(found, query);
  }

  /** `GET …/interaction/{uid}/upstream/done`: the upstream's answer checked, the person signed in as the linked office account. */
  async upstreamDone(
    slug: string,
    uid: string,
    query: string,
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<InteractionOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    const details = await this.details(found, uid, req, res);
    if (details?.prompt.name !== 'login') {
      return { page: errorPage(found.theme, 'This sign-in has expired. Go back to the application and start again.', 400) };
    }
    const result = await this.upstream.finish(found, details.uid, query, context);
    if ('refused' in result) return { page: errorPage(found.theme, result.refused, 401) };
    const done = await this.complete(found, result.account, ['fed'], req, res);
    if ('refused' in done) {
      await this.providers.options.accounts.recordLoginFailure(
        found.community.id,
        {
          keys: [],
          reason: done.refused,
          tenantId: result.account.tenantId,
          userId: result.account.userId,
          userName: result.account.userName,
        },
        this.providers.throttle.windowMs,
        context,
      );
      return { page: errorPage(found.theme, FAILURE_MESSAGES[done.refused], 403) };
    }
    return done;
  }

  /** Signs the person in as an authenticated office account, unless it may not (inactive, not yet in the directory). */
  private async complete(
    found: CommunityProvider,
    account: LoginAccount,
    amr: string[],
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ redirect: string } | { refused: 'inactive' | 'not_in_directory' }> {
    if (!account.active) return { refused: 'inactive' };
    if (account.personId === null) return { refused: 'not_in_directory' };
    const person = await this.providers.options.accounts.person(found.community.id, account.personId);
    if (!person?.active) return { refused: 'inactive' };
    // The office account signed in with travels in the result too: the console's grant records it (ADR 0034).
    const office: OfficeSignIn = { tenantId: account.tenantId, userId: account.userId };
    const returnTo = await found.provider.interactionResult(req, res, {
      login: { accountId: account.personId, amr, remember: false },
      [OFFICE_RESULT]: office,
    });
    return { redirect: returnTo };
  }

  /** `GET /oidc/{slug}/interaction/{uid}`: the page the interaction needs. */
  async show(
    slug: string,
    uid: string,
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<InteractionOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    const details = await this.details(found, uid, req, res);
    if (!details) return { page: errorPage(found.theme, 'This sign-in has expired. Go back to the application and start again.', 400) };
    const rp = await this.client(found, details);
    if (!rp) return { page: errorPage(found.theme, 'The application is not registered here.', 400) };
    const action = `${found.issuerPath}/interaction/${details.uid}`;
    if (details.prompt.name === JIT_PROMPT) return this.provision(found, details, rp, req, res, context);
    if (details.prompt.name === 'login') {
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      const upstreams = await this.upstreamLinks(found, action);
      return { page: loginPage(found.theme, { action, clientName: rp.name, userName: hint, upstreams }, originsOf(rp.redirectUris)) };
    }
    if (rp.consent === 'implicit')
      return this.consent(found, details, rp, { decision: 'allow', claim: [...rp.optionalClaims] }, req, res, context);
    return {
      page: consentPage(
        found.theme,
        { action, clientName: rp.name, items: consentItems(this.asked(details), rp), maxCacheSeconds: rp.maxCacheSeconds },
        originsOf(rp.redirectUris),
      ),
    };
  }

  /** `POST /oidc/{slug}/interaction/{uid}`: the sign-in or consent form. */
  async submit(
    slug: string,
    uid: string,
    form: FormFields,
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<InteractionOutcome> {
    const found = await this.providers.forPages(slug);
    if (!found) return { page: errorPage({ name: 'Meridian', colour: '#1f4e8c' }, 'There is no such community.', 404) };
    const details = await this.details(found, uid, req, res);
    if (!details) return { page: errorPage(found.theme, 'This sign-in has expired. Go back to the application and start again.', 400) };
    const rp = await this.client(found, details);
    if (!rp) return { page: errorPage(found.theme, 'The application is not registered here.', 400) };
    const step = first(form.step);
    if (step === 'login' && details.prompt.name === 'login') return this.login(found, details, rp, form, req, res, context);
    if (step === 'consent' && details.prompt.name === 'consent') return this.consent(found, details, rp, form, req, res, context);
    return { page: errorPage(found.theme, 'This step is not expected now. Go back to the application and start again.', 400) };
  }

  /** The provisioning prompt (issue 16): push to the relying party's JIT targets, then on to the code. */
  private async provision(
    found: CommunityProvider,
    details: Details,
    rp: { clientId: string; name: string },
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<InteractionOutcome> {
    const { jit } = this.providers.options;
    const accountId = details.session?.accountId;
    if (!jit || !accountId)
      return { page: errorPage(found.theme, 'You are not signed in. Go back to the application and start again.', 400) };
    const done = await runJitPrompt(jit, found.community.id, rp.clientId, accountId, found.provider, req, res, context);
    if ('redirect' in done) return done;
    return { page: provisioningFailedPage(found.theme, rp.name, done.failed, done.back) };
  }

  private async details(found: CommunityProvider, uid: string, req: IncomingMessage, res: ServerResponse): Promise<Details | undefined> {
    try {
      const details = await found.provider.interactionDetails(req, res);
      return details.uid === uid ? details : undefined;
    } catch {
      // No interaction cookie, or an expired interaction: the person starts again at the relying party.
      return undefined;
    }
  }

  private async client(found: CommunityProvider, details: Details) {
    const clientId = typeof details.params.client_id === 'string' ? details.params.client_id : '';
    // The account page asks for nothing but who the person is: no consent to ask for.
    if (clientId === ACCOUNT_CLIENT_ID) {
      return {
        clientId,
        name: 'your account',
        redirectUris: [found.issuer],
        consent: 'implicit' as const,
        claims: [],
        optionalClaims: [],
        maxCacheSeconds: 0,
      };
    }
    // The admin console (ADR 0034): first party, nothing released but who signed in.
    if (clientId === CONSOLE_CLIENT_ID) {
      const urls = consoleUrls(this.providers.options.publicUrl);
      return {
        clientId,
        name: 'the Meridian console',
        redirectUris: [urls.redirectUri],
        consent: 'implicit' as const,
        claims: [],
        optionalClaims: [],
        maxCacheSeconds: 0,
      };
    }
    return this.providers.options.clients.findClient(found.community.id, clientId);
  }

  /**
   * The console's consent (ADR 0034): implicit, and a grant of its own for
   * each sign-in, with the office account signed in with kept beside it, so
   * that the access token can name the account whose roles it acts with.
   */
  private async consoleConsent(
    found: CommunityProvider,
    details: Details,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<InteractionOutcome> {
    const { provider, community } = found;
    const { storage } = this.providers.options;
    const accountId = details.session?.accountId;
    const sessionUid = details.session?.uid;
    // The office account of this sign-in, else of the session's earlier console sign-in by the same person.
    const fresh = (details.lastSubmission as Record<string, unknown> | undefined)?.[OFFICE_RESULT] as Partial<OfficeSignIn> | undefined;
    const earlier = !fresh && sessionUid ? await storage.find(community.id, CONSOLE_SESSION_MODEL, sessionUid) : undefined;
    const office = fresh ?? (earlier?.accountId === accountId ? (earlier as Partial<OfficeSignIn>) : undefined);
    if (!accountId || typeof office?.tenantId !== 'string' || typeof office.userId !== 'string') {
      return { page: errorPage(found.theme, 'You are not signed in. Go back to the console and start again.', 400) };
    }
    const signedIn = { accountId, tenantId: office.tenantId, userId: office.userId };
    if (fresh && sessionUid) await storage.upsert(community.id, CONSOLE_SESSION_MODEL, sessionUid, signedIn, SESSION_TTL);
    const grant = new provider.Grant({ accountId, clientId: CONSOLE_CLIENT_ID });
    const scopes = (typeof details.params.scope === 'string' ? details.params.scope.split(' ') : []).filter((s) => SSO_SCOPES.includes(s));
    grant.addOIDCScope(scopes.join(' '));
    const resource = details.params.resource;
    const { resource: graphql } = consoleUrls(this.providers.options.publicUrl);
    if (resource === graphql || (Array.isArray(resource) && resource.includes(graphql))) grant.addResourceScope(graphql, '');
    const grantId = await grant.save();
    await storage.upsert(community.id, CONSOLE_SIGN_IN_MODEL, grantId, { grantId, ...signedIn }, CONSOLE_GRANT_TTL);
    const returnTo = await provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return { redirect: returnTo };
  }

  private asked(details: Details): string[] {
    const scope = typeof details.params.scope === 'string' ? details.params.scope.split(' ') : [];
    const asked = new Set<string>(claimsOfScopes(scope));
    if (typeof details.params.claims === 'string') {
      try {
        const parameter = JSON.parse(details.params.claims) as { userinfo?: object; id_token?: object };
        for (const claim of [...Object.keys(parameter.userinfo ?? {}), ...Object.keys(parameter.id_token ?? {})]) asked.add(claim);
      } catch {
        // oidc-provider has already refused a malformed claims parameter.
      }
    }
    return [...asked];
  }

  private async login(
    found: CommunityProvider,
    details: Details,
    rp: { name: string; redirectUris: string[] },
    form: FormFields,
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<InteractionOutcome> {
    const { accounts, passwords } = this.providers.options;
    const limits = this.providers.throttle;
    const communityId = found.community.id;
    const userName = first(form.username).trim().slice(0, 1024);
    const office = first(form.office).trim() || undefined;
    const action = `${found.issuerPath}/interaction/${details.uid}`;
    const upstreams = await this.upstreamLinks(found, action);
    const again = (error: string | undefined, offices?: { slug: string; name: string }[], status?: number): InteractionOutcome => {
      const page = loginPage(
        found.theme,
        {
          action,
          clientName: rp.name,
          userName,
          upstreams,
          ...(offices ? { offices } : {}),
          ...(office ? { office } : {}),
          ...(error ? { error } : {}),
        },
        originsOf(rp.redirectUris),
      );
      return { page: status ? { ...page, status } : page };
    };
    const addressKey = `address:${context.sourceAddress ?? 'unknown'}`;
    const accountKey = `account:${userName.toLowerCase()}`;
    const [accountFailures = 0, addressFailures = 0] = await accounts.failures(communityId, [accountKey, addressKey], limits.windowMs);
    if (accountFailures >= limits.perAccount || addressFailures >= limits.perAddress) {
      await accounts.recordLoginFailure(
        communityId,
        { keys: [], reason: 'throttled', tenantId: null, userId: null, userName },
        limits.windowMs,
        context,
      );
      return again('Too many failed attempts. Wait a few minutes and try again.', undefined, 429);
    }
    const fail = async (reason: 'unknown_account' | 'bad_password' | 'inactive' | 'not_in_directory', account?: LoginAccount) => {
      // Only a wrong password or user name counts towards throttling; the others had the right password.
      const counted = reason === 'unknown_account' || reason === 'bad_password';
      await accounts.recordLoginFailure(
        communityId,
        {
          keys: counted ? [accountKey, addressKey] : [],
          reason,
          tenantId: account?.tenantId ?? null,
          userId: account?.userId ?? null,
          userName,
        },
        limits.windowMs,
        context,
      );
      return again(FAILURE_MESSAGES[reason]);
    };
    if (userName === '') return again('Enter your user name and password.');
    let candidates = await accounts.loginAccounts(communityId, userName, office);
    if (candidates.length > 1 && office === undefined) {
      // The user name is an email address whose domain is exactly one office's: that office (docs/sso.md).
      const at = userName.lastIndexOf('@');
      const domainOffices =
        at > 0 ? await this.providers.options.upstreams?.officeDomains?.(communityId, userName.slice(at + 1)) : undefined;
      const inferred = domainOffices ? officeOfEmail(userName, domainOffices) : undefined;
      if (candidates.some((c) => c.tenantSlug === inferred)) candidates = candidates.filter((c) => c.tenantSlug === inferred);
    }
    if (candidates.length > 1) {
      // The user name exists in several offices: the person says which one (the password is asked again).
      return again(
        undefined,
        candidates.map((c) => ({ slug: c.tenantSlug, name: c.tenantName })),
      );
    }
    const [account] = candidates;
    const password = first(form.password);
    if (!account) {
      // Spend the same time as a wrong password, so that response times do not tell which accounts exist.
      this.dummyHash ??= passwords.hash(randomBytes(16).toString('base64url'));
      await passwords.verify(await this.dummyHash, password);
      return fail('unknown_account');
    }
    if (account.passwordHash === null || !(await passwords.verify(account.passwordHash, password))) return fail('bad_password', account);
    const done = await this.complete(found, account, ['pwd'], req, res);
    if ('refused' in done) return fail(done.refused, account);
    await accounts.clearFailures(communityId, [accountKey]);
    return done;
  }

  private async consent(
    found: CommunityProvider,
    details: Details,
    rp: { clientId: string; claims: string[]; optionalClaims: string[] },
    form: FormFields,
    req: IncomingMessage,
    res: ServerResponse,
    context: OidcRequestContext,
  ): Promise<InteractionOutcome> {
    if (rp.clientId === CONSOLE_CLIENT_ID) return this.consoleConsent(found, details, req, res);
    const { provider, community } = found;
    const accountId = details.session?.accountId;
    if (!accountId) return { page: errorPage(found.theme, 'You are not signed in. Go back to the application and start again.', 400) };
    if (first(form.decision) !== 'allow') {
      const returnTo = await provider.interactionResult(req, res, {
        error: 'access_denied',
        error_description: 'The person did not allow the release.',
      });
      return { redirect: returnTo };
    }
    const asked = this.asked(details);
    const items = consentItems(asked, { claims: rp.claims as never, optionalClaims: rp.optionalClaims as never });
    const consented = consentedClaims(items, all(form.claim));
    // Everything asked that was not consented (refused, or not allowed by the registration) is rejected in the grant.
    const rejected = asked.filter((claim) => !consented.includes(claim as never));
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId: rp.clientId }))
      : new provider.Grant({ accountId, clientId: rp.clientId });
    const scopes = (typeof details.params.scope === 'string' ? details.params.scope.split(' ') : []).filter((s) => SSO_SCOPES.includes(s));
    grant.addOIDCScope(scopes.join(' '));
    if (consented.length > 0) grant.addOIDCClaims(consented);
    if (rejected.length > 0) grant.rejectOIDCClaims(rejected);
    const grantId = await grant.save();
    const person = await this.providers.options.accounts.person(community.id, accountId);
    if (rp.clientId !== ACCOUNT_CLIENT_ID)
      await this.providers.options.accounts.recordConsent(
        community.id,
        {
          clientId: rp.clientId,
          personId: accountId,
          tenantId: person?.tenantId ?? null,
          claims: consented,
          refused: items.filter((i) => !consented.includes(i.claim)).map((i) => i.claim),
        },
        context,
      );
    const returnTo = await provider.interactionResult(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return { redirect: returnTo };
  }
}
