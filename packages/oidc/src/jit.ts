import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FirstSignInPullResult, JitAdmissionKey, JitOutcome, JitStore, UpstreamPerson } from '@meridian/core';
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { escapeHtml, type PageTheme, type RenderedPage, renderPage } from './pages.js';
import type { LoginAccount, OidcAccounts, OidcRequestContext } from './ports.js';

/**
 * Just-in-time provisioning at sign-in (issue 16, use case 2.3.4, ADR 0030):
 * a relying party linked to replication targets "on first sign-in" gets its
 * code only once the person's account reached those targets.
 */
export interface JitProvisioning {
  /** The person's accounts the relying party's JIT targets do not hold yet (empty: nothing to do). */
  owed(communityId: string, clientId: string, personId: string): Promise<JitAdmissionKey[]>;
  /** Admits and pushes them, waiting (bounded) for the deliveries. */
  provision(communityId: string, clientId: string, personId: string, context: OidcRequestContext): Promise<JitOutcome>;
}

/** The name of the prompt that provisions, after login and consent. */
export const JIT_PROMPT = 'provision';

/**
 * oidc-provider's default policy (login, consent) and a last prompt that
 * asks for provisioning while the person is owed to one of the relying
 * party's JIT targets. It runs on every authorization, so a person with a
 * session and a grant from before the link is provisioned too.
 */
export function jitInteractionPolicy(communityId: string, jit: JitProvisioning): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  policy.add(
    new interactionPolicy.Prompt(
      { name: JIT_PROMPT, requestable: false },
      new interactionPolicy.Check(
        'jit_provisioning',
        "the person's account has not reached the relying party's targets yet",
        'interaction_required',
        async (ctx: KoaContextWithOIDC) => {
          const accountId = ctx.oidc.session?.accountId;
          const clientId = ctx.oidc.client?.clientId;
          if (!accountId || !clientId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
          const owed = await jit.owed(communityId, clientId, accountId);
          return owed.length > 0 ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
        },
      ),
    ),
  );
  return policy;
}

/** The page after a failed or timed-out push: what happened, and the way back to the application (with an OAuth error). */
export function provisioningFailedPage(
  theme: PageTheme,
  appName: string,
  outcome: Exclude<JitOutcome, { ok: true }>,
  back: string,
): RenderedPage {
  const what =
    outcome.reason === 'timeout'
      ? `Your account could not be set up at ${appName} in time: ${outcome.target} did not confirm it.`
      : `Your account could not be set up at ${appName}: ${outcome.target} refused it.`;
  return renderPage(
    theme,
    'Sign-in stopped',
    `<p class="error" role="alert">${escapeHtml(what)}</p>
<p>You are not signed in. Try again in a few minutes; if it keeps failing, tell your office's administrator (the attempt is recorded).</p>
<p><a href="${escapeHtml(back)}">Back to ${escapeHtml(appName)}</a></p>`,
    502,
  );
}

/** Runs the provisioning prompt of one interaction: on success the sign-in goes on; on failure a page and an OAuth error. */
export async function runJitPrompt(
  jit: JitProvisioning,
  communityId: string,
  clientId: string,
  accountId: string,
  provider: {
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: object,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
  },
  req: IncomingMessage,
  res: ServerResponse,
  context: OidcRequestContext,
): Promise<{ redirect: string } | { failed: Exclude<JitOutcome, { ok: true }>; back: string }> {
  const outcome = await jit.provision(communityId, clientId, accountId, context);
  if (outcome.ok) {
    return { redirect: await provider.interactionResult(req, res, {}, { mergeWithLastSubmission: true }) };
  }
  // RFC 6749 §4.1.2.1: the relying party learns that the sign-in did not complete, and may try again later.
  const back = await provider.interactionResult(req, res, {
    error: 'temporarily_unavailable',
    error_description: 'The account could not be provisioned at the application.',
  });
  return { failed: outcome, back };
}

/** Options of {@link JitProvisioner}. */
export interface JitProvisionerOptions {
  store: JitStore;
  /** Queues the account's push to the target (replication's job, as for any change). */
  push(key: JitAdmissionKey, requestId: string): Promise<void>;
  /** The longest a sign-in waits for its pushes (`MERIDIAN_JIT_WAIT_MS`). */
  waitMs: number;
  /** How often the link table is read while waiting. */
  pollMs?: number;
}

/**
 * Admits a person's accounts to the relying party's JIT targets and waits,
 * bounded, until the replication links say they (and their groups) arrived.
 * The admission row is unique per (target, user): of two concurrent first
 * sign-ins, one queues the push and both wait for the same delivery.
 */
export class JitProvisioner implements JitProvisioning {
  constructor(private readonly options: JitProvisionerOptions) {}

  owed(communityId: string, clientId: string, personId: string): Promise<JitAdmissionKey[]> {
    return this.options.store.owed(communityId, clientId, personId);
  }

  async provision(communityId: string, clientId: string, personId: string, context: OidcRequestContext): Promise<JitOutcome> {
    const { store, waitMs } = this.options;
    const pollMs = this.options.pollMs ?? 50;
    const started = Date.now();
    const keys = await store.owed(communityId, clientId, personId);
    const requestId = context.requestId;
    for (const key of keys) {
      const admitted = await store.admit(key, clientId, context);
      // A failed earlier attempt is pushed again (its job may have been dead-lettered); a pending one is under way.
      if (!admitted.first && admitted.status === 'failed') await store.settle(key, { status: 'pending', error: null }, context);
      if (admitted.first || admitted.status === 'failed') await this.options.push(key, requestId);
    }
    let pushed = 0;
    for (const key of keys) {
      for (;;) {
        const state = await store.deliveryState(key);
        if (state.status === 'delivered') {
          await store.settle(key, { status: 'delivered', error: null }, context);
          pushed++;
          break;
        }
        if (state.status === 'failed') {
          await store.settle(key, { status: 'failed', error: state.error }, context);
          return { ok: false, reason: 'failed', target: key.targetName, error: state.error };
        }
        if (Date.now() - started >= waitMs) {
          const error = `No confirmation within ${waitMs} ms${state.error ? `: ${state.error}` : ''}`;
          await store.settle(key, { status: 'failed', error }, context);
          return { ok: false, reason: 'timeout', target: key.targetName, error };
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    }
    return { ok: true, pushed };
  }
}

/** Pull from the office's inbound source at first sign-in (issue 16, use case 2.4.4): an account for an upstream person the office lacks. */
export interface FirstSignInSource {
  /** The account created from the office's source; `refused` when the source has no such person or cannot be reached; undefined without a source. */
  pull(
    communityId: string,
    office: { tenantId: string; tenantSlug: string; tenantName: string },
    person: { subject: string; email?: string | undefined; userName?: string | undefined },
    context: OidcRequestContext,
  ): Promise<{ account: LoginAccount } | { refused: string } | undefined>;
}

/** Options of {@link SourcePullSignIn}. */
export interface SourcePullSignInOptions {
  /** Core's FirstSignInPull: looks the person up at the office's source and creates the account. */
  pull(tenantId: string, person: UpstreamPerson, context: OidcRequestContext): Promise<FirstSignInPullResult>;
  accounts: Pick<OidcAccounts, 'loginAccounts'>;
  /** The longest the sign-in waits for the global directory to place the new account (`MERIDIAN_JIT_WAIT_MS`). */
  waitMs: number;
  onError?(error: unknown): void;
}

/**
 * Creates the account of a person who signs in upstream and whom the office
 * does not know yet, from the office's inbound source, and waits (bounded)
 * until the community's global directory has placed it, so the sign-in goes on.
 */
export class SourcePullSignIn implements FirstSignInSource {
  constructor(private readonly options: SourcePullSignInOptions) {}

  async pull(
    communityId: string,
    office: { tenantId: string; tenantSlug: string; tenantName: string },
    person: UpstreamPerson,
    context: OidcRequestContext,
  ): Promise<{ account: LoginAccount } | { refused: string } | undefined> {
    let result: FirstSignInPullResult;
    try {
      result = await this.options.pull(office.tenantId, person, context);
    } catch (error) {
      this.options.onError?.(error);
      return { refused: `The directory of ${office.tenantName} could not be reached to set up your account. Try again in a few minutes.` };
    }
    if (result.status === 'no_source') return undefined;
    if (result.status === 'not_found') {
      return { refused: `${office.tenantName} has no account for the person you signed in as: ask your office to add you.` };
    }
    const started = Date.now();
    for (;;) {
      const [account] = await this.options.accounts.loginAccounts(communityId, result.userName, office.tenantSlug);
      if (account && (account.personId !== null || Date.now() - started >= this.options.waitMs)) return { account };
      if (!account && Date.now() - started >= this.options.waitMs) {
        return { refused: 'Your account was created but cannot sign in yet. Try again in a minute.' };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
