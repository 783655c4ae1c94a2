import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { eventually, FakeScimTarget } from '@meridian/test-utils';
import { gql, type Json, scimClient } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { buildConsoleIfStale, visited, watchConsole } from './console-harness.js';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 21: the console creates what it lists. An office admin adds a SCIM replication target, tests it, sees it
// deliver, changes it without retyping its token, and deletes it; a community admin registers a relying party,
// copies its secret from the one dialog that shows it, rotates it, and creates and deletes an event stream.
// Every page and dialog is checked with axe-core and screenshotted.

const PASSWORD = 'correct horse battery staple 21';
const CLOUD_TOKEN = 'forms-cloud-token';

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
let cloud: FakeScimTarget;
const scim = scimClient(() => hub.app);

async function createUser(body: Json): Promise<void> {
  const res = await scim('POST', '/Users', {
    token: hub.tenants.emea.token,
    body: { schemas: [SCHEMA.user], password: PASSWORD, ...body },
  });
  expect({ userName: body.userName, status: res.status }).toEqual({ userName: body.userName, status: 201 });
}

async function grant(user: string, role: string): Promise<void> {
  const res = await gql(hub.app, hub.adminToken, 'mutation($input: GrantConsoleRoleInput!) { grantConsoleRole(input: $input) { id } }', {
    input: { tenant: 'coi/emea', user, role },
  });
  expect(res.body.errors).toBeUndefined();
}

beforeAll(async () => {
  buildConsoleIfStale();
  hub = await startHub({ env: { MERIDIAN_OUTBOUND_ALLOW: '127.0.0.1' } });
  await createUser({ userName: 'owen@emea.example', displayName: 'Owen Office' });
  await createUser({ userName: 'cora@emea.example', displayName: 'Cora Community' });
  await grant('owen@emea.example', 'office_admin');
  await grant('cora@emea.example', 'community_admin');
  cloud = await FakeScimTarget.start({ token: CLOUD_TOKEN });
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

/** A 1280×800 tab that may use the clipboard, and the errors it reports. */
async function tab(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  const page = await context.newPage();
  return { context, page, problems: watchConsole(page) };
}

/** Signs in to the console through the community's provider, and waits for Home. */
async function signIn(page: Page, userName: string): Promise<void> {
  await page.goto(`${origin}/console/`);
  await page.getByRole('textbox', { name: 'Community' }).fill('coi');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('User name').fill(userName);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Home', level: 1 }).waitFor();
}

/** Waits until a field is marked invalid (a refusal shown at it). */
async function invalid(field: Locator): Promise<void> {
  await field.and(field.page().locator('[aria-invalid="true"]')).waitFor();
}

/** Checks and screenshots the page once its dialogs have finished opening or closing (a fading dialog has no contrast). */
async function look(page: Page, name: string): Promise<void> {
  // The callback runs in the page (typed here without the DOM library).
  await page.waitForFunction(() =>
    (globalThis as unknown as { document: { getAnimations(): { playState: string }[] } }).document
      .getAnimations()
      .every((a) => a.playState !== 'running'),
  );
  await visited(page, name);
}

/** Follows a link of the navigation and waits for the page's heading. */
async function navigate(page: Page, link: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: link, level: 1 }).waitFor();
}

describe('an office admin', () => {
  it('creates a SCIM target, tests it, sees it deliver, changes it and deletes it', async () => {
    const { context, page, problems } = await tab();
    await signIn(page, 'owen@emea.example');
    await page.getByText('acting as Office admin').waitFor();
    await navigate(page, 'Replication targets');
    await page.getByRole('button', { name: 'New target' }).click();
    const form = page.getByRole('dialog', { name: 'New replication target' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill('crm');
    await form.getByRole('textbox', { name: 'Base URL' }).fill('not a url');
    await form.getByLabel('Bearer token').fill(CLOUD_TOKEN);
    expect(await form.getByLabel('Bearer token').getAttribute('type')).toBe('password');
    await look(page, 'target-new');

    // An LDAP target asks for its own settings; the connector's refusal of a bind DN is shown at that field.
    await form.getByRole('combobox', { name: 'Kind' }).selectOption('ldap');
    await form.getByRole('textbox', { name: 'LDAP URL' }).fill('ldap://127.0.0.1:1389');
    await form.getByRole('textbox', { name: 'Bind DN' }).fill('meridian');
    await form.getByRole('textbox', { name: 'Base DN' }).fill('dc=example,dc=org');
    await form.getByLabel('Bind password').fill('bind-secret');
    await form.getByRole('button', { name: 'Create target' }).click();
    await invalid(form.getByRole('textbox', { name: 'Bind DN' }));
    await form.getByText("must be a DN such as 'dc=example,dc=org'").waitFor();
    await look(page, 'target-new-ldap-refused');
    // Back to SCIM: the password typed for LDAP is not kept as the token.
    await form.getByRole('combobox', { name: 'Kind' }).selectOption('scim');
    expect(await form.getByLabel('Bearer token').inputValue()).toBe('');
    await form.getByLabel('Bearer token').fill(CLOUD_TOKEN);

    // The connector's refusal, at the field it names.
    await form.getByRole('button', { name: 'Create target' }).click();
    const baseUrl = form.getByRole('textbox', { name: 'Base URL' });
    await invalid(baseUrl);
    await look(page, 'target-new-refused');

    await baseUrl.fill(cloud.url);
    await form.getByRole('button', { name: 'Create target' }).click();
    await page.getByRole('heading', { name: 'Target crm', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByRole('status').filter({ hasText: 'Connection works' }).waitFor();

    await createUser({ userName: 'dora@emea.example', displayName: 'Dora Delivered' });
    await eventually('dora at the cloud', () => cloud.users.find((u) => u.userName === 'dora@emea.example'));
    await page
      .getByLabel('Delivery counts')
      .getByText(/^Delivered: [1-9]/)
      .waitFor({ timeout: 20_000 });
    expect(await page.locator('body').textContent()).not.toContain(CLOUD_TOKEN);
    await look(page, 'target-created');

    // A change without the token keeps the stored one: the connection still works afterwards.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const edit = page.getByRole('dialog', { name: 'Change target crm' });
    expect(await edit.getByLabel('Bearer token').inputValue()).toBe('');
    expect(await edit.getByRole('textbox', { name: 'Base URL' }).inputValue()).toBe(cloud.url);
    await edit.getByRole('combobox', { name: 'When an account leaves' }).selectOption('delete');
    await edit.getByRole('textbox', { name: 'Only accounts matching (optional)' }).fill('userName sw "d"');
    await look(page, 'target-edit');
    await edit.getByRole('button', { name: 'Save target' }).click();
    await edit.waitFor({ state: 'detached' });
    await page.getByText('deletes by delete').waitFor();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByRole('status').filter({ hasText: 'Connection works' }).waitFor();
    const stored = await hub.runtime.replication.targets.get(hub.tenants.emea.id, 'crm');
    expect({ scoping: stored.scoping, secretNames: stored.secretNames }).toEqual({
      scoping: { User: 'userName sw "d"' },
      secretNames: ['token'],
    });

    // Deleting says what stays, then the target is gone and Dora stays at the cloud.
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete target crm?' });
    await confirm.getByText('stay there as they are').waitFor();
    // The keyboard starts on Cancel: Enter alone deletes nothing.
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Cancel');
    await look(page, 'target-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete the target' }).click();
    await page.getByRole('heading', { name: 'Replication targets', level: 1 }).waitFor();
    await page.getByText('This office has no replication target.').waitFor();
    expect(cloud.users.map((u) => u.userName)).toContain('dora@emea.example');
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe('a community admin', () => {
  it('registers a relying party, sees its secret once, rotates it, and creates and deletes an event stream', async () => {
    const { context, page, problems } = await tab();
    await signIn(page, 'cora@emea.example');
    await page.getByText('acting as Community admin').waitFor();
    await navigate(page, 'Relying parties');
    await page.getByRole('button', { name: 'Register a relying party' }).click();
    const form = page.getByRole('dialog', { name: 'Register a relying party' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill('Payroll');
    await form.getByRole('textbox', { name: 'Redirect URIs', exact: true }).fill('http://payroll.example/callback');
    await form.getByRole('checkbox', { name: 'Job title (title)' }).check();
    await form.getByRole('checkbox', { name: 'Client credentials grant' }).check();
    await look(page, 'relying-party-new');

    // The provider's refusal (plain http off localhost), at the redirect URIs.
    await form.getByRole('button', { name: 'Register' }).click();
    const redirects = form.getByRole('textbox', { name: 'Redirect URIs', exact: true });
    await invalid(redirects);
    await form.getByText('must be an absolute https URL').waitFor();
    await look(page, 'relying-party-new-refused');
    await redirects.fill('https://payroll.example/callback');
    await form.getByRole('button', { name: 'Register' }).click();

    // The secret, once, with a copy button.
    const shown = page.getByRole('dialog', { name: 'Payroll is registered' });
    const secretBlock = shown.getByRole('textbox', { name: 'Client secret' });
    await secretBlock.waitFor();
    const secret = await secretBlock.inputValue();
    expect(secret.length).toBeGreaterThan(20);
    await shown.getByRole('button', { name: 'Copy the client secret' }).click();
    await shown.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await look(page, 'relying-party-secret');
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await shown.waitFor({ state: 'detached' });
    const card = page.locator('.mantine-Card-root').filter({ hasText: 'Payroll' });
    await card.waitFor();
    expect(await page.locator('body').textContent()).not.toContain(secret);
    const clientId = ((await card.locator('code').first().textContent()) ?? '').trim();
    await look(page, 'relying-parties-registered');

    // A change: email becomes optional.
    await card.getByRole('button', { name: 'Edit Payroll' }).click();
    const edit = page.getByRole('dialog', { name: 'Change Payroll' });
    await edit
      .getByRole('group', { name: 'Optional claims (a person may refuse them)' })
      .getByRole('checkbox', { name: 'Email address (email)' })
      .check();
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'detached' });
    await card.getByText('(optional: email)').waitFor();

    // Rotation: asked first, then a new secret shown once.
    await card.getByRole('button', { name: 'Rotate secret of Payroll' }).click();
    const ask = page.getByRole('dialog', { name: 'Rotate the secret of Payroll?' });
    await ask.getByText('stops working at once').waitFor();
    await look(page, 'relying-party-rotate-confirm');
    await ask.getByRole('button', { name: 'Rotate the secret' }).click();
    const rotated = page.getByRole('dialog', { name: 'New secret of Payroll' });
    const second = await rotated.getByRole('textbox', { name: 'Client secret' }).inputValue();
    expect(second.length).toBeGreaterThan(20);
    expect(second).not.toBe(secret);
    await look(page, 'relying-party-rotated');
    await rotated.getByRole('button', { name: 'I have copied it' }).click();
    await rotated.waitFor({ state: 'detached' });

    // An event stream to Payroll: a push URL that is no URL is refused at its field, then a polled stream is created.
    await navigate(page, 'Event streams');
    await page.getByRole('button', { name: 'New stream' }).click();
    const streamForm = page.getByRole('dialog', { name: 'New event stream' });
    await streamForm.getByRole('combobox', { name: 'Receiver' }).selectOption({ label: 'Payroll (relying party)' });
    await streamForm.getByRole('textbox', { name: 'Push to (optional)' }).fill('ftp://payroll.example/events');
    await streamForm.getByRole('textbox', { name: 'Description (optional)' }).fill('payroll feed');
    await look(page, 'event-stream-new');
    await streamForm.getByRole('button', { name: 'Create stream' }).click();
    const push = streamForm.getByRole('textbox', { name: 'Push to (optional)' });
    await invalid(push);
    await look(page, 'event-stream-new-refused');
    await push.fill('');
    await streamForm.getByRole('button', { name: 'Create stream' }).click();
    await streamForm.waitFor({ state: 'detached' });
    const row = page.getByRole('row').filter({ hasText: clientId });
    await row.getByText('payroll feed').waitFor();
    await look(page, 'event-streams-created');

    await row.getByRole('button', { name: /^Delete the stream of/ }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete this stream?' });
    await confirm.getByText('stops receiving events').waitFor();
    await look(page, 'event-stream-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete the stream' }).click();
    await page.getByText('No event stream.').waitFor();

    // The relying party goes too, after its confirmation.
    await navigate(page, 'Relying parties');
    await page.getByRole('button', { name: 'Delete Payroll' }).click();
    const remove = page.getByRole('dialog', { name: 'Delete Payroll?' });
    await remove.getByRole('button', { name: 'Delete the relying party' }).click();
    await page.getByRole('status').filter({ hasText: 'Payroll is deleted.' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
