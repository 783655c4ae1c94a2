import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { eventually, FakeScimTarget } from '@meridian/test-utils';
import { gql, type Json, scimClient } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildConsoleIfStale, visited, watchConsole } from './console-harness.js';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 21: the main journeys of each role, in a real browser signed in through the community's OpenID Provider:
// an office admin finds an account, edits it and sees the change in the audit log, and replays a dead letter once
// the target is fixed; an HR (community) admin resolves a directory conflict; an auditor verifies the chain.
// Every page visited is checked with axe-core and screenshotted.

const PASSWORD = 'correct horse battery staple 21';
const system = { actor: { type: 'system' as const, id: 'test' }, requestId: 'console-journeys' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
let cloud: FakeScimTarget;
let amerToken: string;
const scim = scimClient(() => hub.app);
const users: Record<string, string> = {};

async function createUser(token: string, body: Json): Promise<string> {
  const res = await scim('POST', '/Users', { token, body: { schemas: [SCHEMA.user, SCHEMA.enterpriseUser], password: PASSWORD, ...body } });
  expect({ userName: body.userName, status: res.status }).toEqual({ userName: body.userName, status: 201 });
  users[String(body.userName)] = String(res.body.id);
  return String(res.body.id);
}

async function grant(tenant: string, user: string, role: string): Promise<void> {
  const res = await gql(
    hub.app,
    hub.adminToken,
    'mutation($input: GrantConsoleRoleInput!) { grantConsoleRole(input: $input) { id role } }',
    {
      input: { tenant, user, role },
    },
  );
  expect(res.body.errors).toBeUndefined();
}

beforeAll(async () => {
  buildConsoleIfStale();
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  await hub.runtime.admin.createTenant(platform, { slug: 'amer', name: 'AMER', community: 'coi' }, system);
  amerToken = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', scopes: ['scim:read', 'scim:write'] }, system)).token;
  const emea = hub.tenants.emea.token;
  await createUser(emea, {
    userName: 'olivia@emea.example',
    displayName: 'Olivia Office',
    name: { givenName: 'Olivia', familyName: 'Office' },
  });
  await createUser(emea, { userName: 'hazel@emea.example', displayName: 'Hazel HR' });
  await createUser(emea, { userName: 'audrey@emea.example', displayName: 'Audrey Auditor' });
  await createUser(emea, {
    userName: 'ada@emea.example',
    displayName: 'Ada Lovelace',
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    title: 'Analyst',
    [SCHEMA.enterpriseUser]: { employeeNumber: '1815', department: 'Engines' },
  });
  // The same person in AMER with another title: the global directory cannot settle the title (a conflict).
  await createUser(amerToken, {
    userName: 'alovelace@amer.example',
    displayName: 'Ada Lovelace',
    title: 'Countess',
    [SCHEMA.enterpriseUser]: { employeeNumber: '1815' },
  });
  await grant('coi/emea', 'olivia@emea.example', 'office_admin');
  await grant('coi/emea', 'hazel@emea.example', 'community_admin');
  await grant('coi/emea', 'audrey@emea.example', 'auditor');

  // A SCIM cloud that refuses the next user it is sent: that change is dead-lettered at once (one attempt).
  cloud = await FakeScimTarget.start({ token: 'cloud-token' });
  await hub.runtime.replication.targets.create(
    hub.tenants.emea.id,
    { name: 'cloud', kind: 'scim', config: { baseUrl: cloud.url }, secrets: { token: 'cloud-token' }, maxAttempts: 1 },
    system,
  );
  await hub.runtime.replication.start();

  ({ app, origin } = await listeningHub(hub));
  browser = await launchChromium();
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await cloud?.close();
  await hub?.close();
});

/** A browser tab of 1280×800 that fails the test on any error or CSP violation it reports. */
async function tab(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

/** Opens the console as a new user would: the community, then the provider's sign-in form, then back at Home. */
async function signIn(page: Page, userName: string): Promise<void> {
  await page.goto(`${origin}/console/`);
  await page.getByRole('textbox', { name: 'Community' }).fill('coi');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page
    .getByRole('heading', { name: 'Home', level: 1 })
    .waitFor()
    .catch(async (error: unknown) => {
      // Say where the sign-in stopped: the page's address and text.
      throw new Error(`${String(error)}\nat ${page.url()}: ${((await page.locator('body').textContent()) ?? '').slice(0, 600)}`);
    });
}

/** Goes to a page through the navigation and waits for its heading. */
async function navigate(page: Page, link: string, heading = link): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

describe('an office admin', () => {
  it('finds an account, edits it, and sees the change in the audit log', async () => {
    const { context, page, problems } = await tab();
    await signIn(page, 'olivia@emea.example');
    await page.getByText('acting as Office admin').waitFor();
    await visited(page, 'office-admin-home');
    // Keyboard: the first stop skips to the page's content, with a visible focus ring.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    // What an office admin may not do is not shown: the community's global directory.
    const nav = page.getByRole('navigation', { name: 'Pages' });
    expect(await nav.getByRole('link', { name: 'Global directory' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Accounts' }).count()).toBe(1);

    await navigate(page, 'Accounts');
    await page.getByRole('searchbox', { name: 'Search' }).fill('lovel');
    // Search as you type: the others leave the list.
    await page.getByRole('link', { name: 'olivia@emea.example' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'ada@emea.example' }).waitFor();
    await visited(page, 'accounts-search');
    await page.getByRole('link', { name: 'ada@emea.example' }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    await visited(page, 'account');

    // The server's validation message, at the field it names.
    await page.getByRole('textbox', { name: 'User name', exact: true }).fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText("'userName' cannot be removed.").waitFor();
    expect(await page.getByRole('textbox', { name: 'User name', exact: true }).getAttribute('aria-invalid')).toBe('true');
    await visited(page, 'account-invalid');

    await page.getByRole('textbox', { name: 'User name', exact: true }).fill('ada@emea.example');
    await page.getByRole('textbox', { name: 'Title', exact: true }).fill('Lead Analyst');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Title', exact: true }).inputValue()).toBe('Lead Analyst');

    await page.getByRole('link', { name: 'This account in the audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    const entry = page.getByRole('row').filter({ hasText: 'user.updated' }).first();
    await entry.waitFor();
    await entry.getByRole('button', { name: 'Show' }).click();
    await page.getByText('Lead Analyst').first().waitFor();
    await visited(page, 'audit-account');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('replays a dead letter after the target is fixed, and sees it delivered without a reload', async () => {
    // The cloud refuses the next user: a permanent error, dead-lettered at the first attempt.
    cloud.failNext({ type: 'status', status: 400, detail: 'badge number required' }, { match: { method: 'POST', path: '/Users' } });
    await createUser(hub.tenants.emea.token, { userName: 'grace@emea.example', displayName: 'Grace Hopper' });
    await eventually('the dead letter of grace', async () => {
      const letters = await hub.runtime.replication.deadLetters(hub.tenants.emea.id, { target: 'cloud' });
      return letters.find((l) => l.localId === users['grace@emea.example']) ?? undefined;
    });

    const { context, page, problems } = await tab();
    await signIn(page, 'olivia@emea.example');
    await navigate(page, 'Replication targets');
    await page.getByRole('link', { name: 'cloud' }).click();
    await page.getByRole('heading', { name: 'Target cloud', level: 1 }).waitFor();
    const letter = page.getByRole('row').filter({ hasText: users['grace@emea.example'] });
    await letter.getByRole('button', { name: 'Inspect' }).click();
    await page.getByLabel('Response of the target').filter({ hasText: 'badge number required' }).waitFor();
    await visited(page, 'target-dead-letter');

    // The target is fixed (the fault is spent); the connection test says so, then the replay delivers.
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByRole('status').filter({ hasText: 'Connection works' }).waitFor();
    await letter.getByRole('button', { name: 'Replay' }).click();
    await page.getByRole('status').filter({ hasText: 'queued for delivery again' }).waitFor();
    await eventually('grace at the cloud', () => cloud.users.find((u) => u.userName === 'grace@emea.example'));
    // The page refreshes on its own: the dead letter leaves the list.
    await page.getByText('No dead letters.').waitFor({ timeout: 20_000 });
    await visited(page, 'target-after-replay');

    // Someone deletes Grace at the cloud by hand: reconcile shows the object and what is wrong, then applies the fix.
    const remote = cloud.users.find((u) => u.userName === 'grace@emea.example')!;
    const deleted = await fetch(`${cloud.url}/Users/${String(remote.id)}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer cloud-token' },
    });
    expect(deleted.status).toBe(204);
    await page.getByRole('button', { name: 'Compare (dry run)' }).click();
    await page.getByRole('status').filter({ hasText: 'Dry run' }).filter({ hasText: '1 to fix' }).waitFor();
    const drift = page.getByRole('row').filter({ hasText: 'grace@emea.example' });
    expect(await drift.getByRole('cell').allTextContents()).toEqual(['User grace@emea.example', 'missing', 'create', '—', 'planned']);
    await visited(page, 'target-reconcile');
    await page.getByRole('button', { name: 'Apply the fixes' }).click();
    // The report of what was applied replaces the plan, and the cloud holds Grace again.
    await page.getByRole('status').filter({ hasText: 'Applied' }).filter({ hasText: '1 fixed, 0 failed' }).waitFor();
    await eventually('grace back at the cloud', () => cloud.users.find((u) => u.userName === 'grace@emea.example'));
    await visited(page, 'target-reconciled');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('every page of the navigation passes axe', async () => {
    const { context, page, problems } = await tab();
    await signIn(page, 'olivia@emea.example');
    const pages: [string, string][] = [
      ['Groups', 'groups'],
      ['Joiners, movers, leavers', 'jml'],
      ['Tokens', 'tokens'],
      ['Schema extensions', 'schema-extensions'],
      ['Self-service policy', 'self-service'],
      ['Inbound sources', 'sources'],
      ['Replication targets', 'targets'],
      ['Audit log', 'audit'],
      ['My account', 'my-account'],
      ['My consents', 'my-consents'],
    ];
    for (const [link, name] of pages) {
      await navigate(page, link);
      await page.waitForLoadState('networkidle');
      await visited(page, name);
    }

    // A new account: the hub's refusal of a taken user name is shown, then the account is created and opened.
    await navigate(page, 'Accounts');
    await page.getByRole('button', { name: 'New account' }).click();
    const form = page.getByRole('dialog', { name: 'New account' });
    await form.getByRole('textbox', { name: 'User name', exact: true }).fill('ada@emea.example');
    await form.getByRole('button', { name: 'Create account' }).click();
    await form.getByText('A User with this userName already exists in this tenant.').waitFor();
    await visited(page, 'account-create-refused');
    await form.getByRole('textbox', { name: 'User name', exact: true }).fill('charles@emea.example');
    await form.getByRole('textbox', { name: 'Display name' }).fill('Charles Babbage');
    await form.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Charles Babbage', level: 1 }).waitFor();

    // A group with its members, paged.
    await navigate(page, 'Groups');
    await page.getByRole('textbox', { name: 'New group’s name' }).fill('Engines');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Engines', level: 1 }).waitFor();
    await page.getByRole('textbox', { name: 'Add a member (account or group id)' }).fill(users['ada@emea.example']!);
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
    await visited(page, 'group');

    // The office lets people change their display name; My account offers that field and no other.
    await navigate(page, 'Self-service policy');
    await page.getByRole('textbox', { name: 'Attributes people may change themselves' }).fill('displayName');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByRole('status').filter({ hasText: 'people may now change displayName' }).waitFor();
    await navigate(page, 'My account');
    await page.getByText('Your office lets you change: displayName.').waitFor();
    expect(await page.getByRole('textbox', { name: 'Given name' }).getAttribute('readonly')).not.toBeNull();
    await page.getByRole('textbox', { name: 'Display name' }).fill('Olivia O.');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await visited(page, 'my-account-saved');
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe('a revoked role', () => {
  it('stops at the next step: the console falls back to the person themself', async () => {
    const { context, page, problems } = await tab();
    await signIn(page, 'olivia@emea.example');
    await page.getByText('acting as Office admin').waitFor();
    const grants = await gql(hub.app, hub.adminToken, '{ consoleRoleGrants(tenant: "coi/emea") { id role userName } }');
    const listed: { id: string; userName: string }[] = grants.body.data?.consoleRoleGrants ?? [];
    const grant = listed.find((g) => g.userName === 'olivia@emea.example')!;
    const revoked = await gql(hub.app, hub.adminToken, 'mutation($id: ID!) { revokeConsoleRole(id: $id) { id } }', { id: grant.id });
    expect(revoked.body.errors).toBeUndefined();
    await page.reload();
    await page.getByText('acting as Myself').waitFor();
    const nav = page.getByRole('navigation', { name: 'Pages' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Home', 'My account', 'My consents']);
    await visited(page, 'myself-home');
    // The refused request (and the browser's note of it) is the only error the browser saw.
    expect(problems).toEqual([expect.stringMatching(/^403 POST .*\/graphql$/), expect.stringMatching(/status of 403 .*\/graphql\)$/)]);
    await context.close();
  });
});

describe('an HR (community) admin', () => {
  it('resolves a directory conflict by choosing the office whose title is right', async () => {
    await eventually('the title conflict of Ada', async () => {
      const { items } = await hub.runtime.directory.conflicts(platform, 'coi', { first: 50 });
      return items.find((c) => c.attribute === 'title');
    });
    const { context, page, problems } = await tab();
    await signIn(page, 'hazel@emea.example');
    await page.getByText('acting as Community admin').waitFor();
    await navigate(page, 'Global directory');
    await page.getByRole('switch', { name: 'Only people with conflicts' }).check();
    await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
    await visited(page, 'directory');
    await page.getByRole('link', { name: 'Ada Lovelace' }).click();
    await page.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    await page.getByText('The offices disagree on').waitFor();
    await visited(page, 'person-conflict');
    await page.getByRole('button', { name: 'Use AMER’s value' }).click();
    await page.getByRole('status').filter({ hasText: 'title now comes from AMER' }).waitFor();
    await page.getByText('No conflicts: every attribute has one value.').waitFor();
    await visited(page, 'person-resolved');
    // HR works in any office of the community: pick one, then a joiner and a leaver's preview.
    await page.getByRole('combobox', { name: 'Office' }).selectOption('emea');
    await navigate(page, 'Joiners, movers, leavers');
    const joiner = page.getByRole('form', { name: 'Joiner' });
    await joiner.getByRole('textbox', { name: 'User name', exact: true }).fill('linus@emea.example');
    await joiner.getByRole('textbox', { name: 'Display name' }).fill('Linus Joiner');
    await joiner.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('status').filter({ hasText: 'linus@emea.example joined.' }).waitFor();
    await visited(page, 'joiner');
    await page.getByRole('tab', { name: 'Leaver' }).click();
    const leaver = page.getByRole('form', { name: 'Leaver' });
    await leaver.getByRole('textbox', { name: 'Leaver (user name or id)' }).fill('linus@emea.example');
    await leaver.getByRole('textbox', { name: 'Successor (user name or id)' }).fill('ada@emea.example');
    await leaver.getByRole('button', { name: 'Preview (dry run)' }).click();
    const plan = page.getByRole('region', { name: 'Offboarding plan (dry run)' });
    await plan.getByText('takes over').waitFor();
    expect(await plan.textContent()).toContain('cloud: nothing transferred, its connector cannot transfer ownership');
    await visited(page, 'leaver-preview');
    for (const [link, name] of [
      ['Relying parties', 'relying-parties'],
      ['Event streams', 'event-streams'],
    ] as const) {
      await navigate(page, link);
      await visited(page, name);
    }
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe('an auditor', () => {
  it('verifies the chain with a clear result and exports the log', async () => {
    const { context, page, problems } = await tab();
    await signIn(page, 'audrey@emea.example');
    await page.getByText('acting as Auditor').waitFor();
    const nav = page.getByRole('navigation', { name: 'Pages' });
    // An auditor reads the audit log and nothing of the directory.
    expect(await nav.getByRole('link', { name: 'Accounts' }).count()).toBe(0);
    await navigate(page, 'Audit log');
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByRole('status').filter({ hasText: 'The chain is intact' }).waitFor();
    await visited(page, 'audit-verified');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export as JSON' }).click()]);
    const exported = JSON.parse(await readFile((await download.path())!, 'utf8')) as { tenant: string; entries: { action: string }[] };
    expect(exported.tenant).toBe('emea');
    expect(exported.entries.map((e) => e.action)).toContain('user.updated');

    // Ten minutes later the access token has expired: the console signs in again by itself, without the password,
    // and comes back to the same page.
    await page.evaluate(`(() => {
      const key = 'meridian.console.session';
      sessionStorage.setItem(key, JSON.stringify({ ...JSON.parse(sessionStorage.getItem(key)), expiresAt: Date.now() - 1000 }));
    })()`);
    await page.reload();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/audit');
    expect(await page.evaluate("JSON.parse(sessionStorage.getItem('meridian.console.session')).expiresAt > Date.now()")).toBe(true);

    // Sign out ends the provider's session too, then the console asks for the community again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByRole('textbox', { name: 'Community' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Community' }).inputValue()).toBe('coi');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Password').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
