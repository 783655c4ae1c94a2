import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import { eventually } from '@meridian/test-utils';
import { gql, scimClient } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { buildConsoleIfStale, signInToConsole, visited, watchConsole } from './console-harness.js';
import { type HubHarness, startHub } from './harness.js';
import { launchChromium, listeningHub } from './oidc-harness.js';

// Issue 21, "groups and members (large groups paged)": the Groups page of the console reads a group's members from
// the server 50 at a time (Group.memberPage), never the whole list, searches them there, and adds and removes
// members; in a real browser signed in through the community's OpenID Provider, every state checked with axe-core.

const PASSWORD = 'correct horse battery staple 21';
const PEOPLE = 249;

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let browser: Browser;
let groupId: string;
const scim = scimClient(() => hub.app);

async function adminGql(query: string, variables?: Record<string, unknown>) {
  const res = await gql(hub.app, hub.adminToken, query, variables);
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
}

beforeAll(async () => {
  buildConsoleIfStale();
  hub = await startHub();
  const olivia = await scim('POST', '/Users', {
    token: hub.tenants.emea.token,
    body: { schemas: [SCHEMA.user], userName: 'olivia@emea.example', displayName: 'Olivia Office', password: PASSWORD },
  });
  expect(olivia.status).toBe(201);
  await adminGql('mutation { grantConsoleRole(input: { tenant: "coi/emea", user: "olivia@emea.example", role: "office_admin" }) { id } }');
  // 249 accounts and a nested group: 250 members, five pages of 50.
  await hub.db.query(
    `insert into scim_user (id, tenant_id, user_name, attributes, version, created_at, updated_at)
     select gen_random_uuid(), $1, 'member' || i || '@emea.example',
            jsonb_build_object('userName', 'member' || i || '@emea.example', 'displayName', 'Member ' || i), 1, now(), now()
       from generate_series(1, $2::int) i`,
    [hub.tenants.emea.id, PEOPLE],
  );
  const ids = (await hub.db.query<{ id: string }>("select id::text from scim_user where user_name like 'member%'")).map((r) => r.id);
  const created = await adminGql(
    'mutation { all: createGroup(tenant: "emea", displayName: "All staff") { id } nested: createGroup(tenant: "emea", displayName: "Contractors") { id } }',
  );
  groupId = created?.all.id;
  await adminGql('mutation($g: ID!, $m: [ID!]!) { addGroupMembers(tenant: "emea", group: $g, members: $m) { id } }', {
    g: groupId,
    m: [...ids, created?.nested.id],
  });
  // The community directory places Olivia (the projector runs with replication): only then may she sign in.
  await hub.runtime.replication.start();
  ({ app, origin } = await listeningHub(hub));
  browser = await launchChromium();
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await hub?.close();
});

describe('the Groups page of an office admin', () => {
  it('pages a group of 250 members 50 at a time from the server, searches them, and adds and removes one', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems = watchConsole(page);
    // The most members any answer to the browser carried: a page, never the group.
    let largestAnswer = 0;
    page.on('response', async (response) => {
      if (!response.url().endsWith('/graphql') || response.request().method() !== 'POST') return;
      const text = await response.text().catch(() => '');
      largestAnswer = Math.max(largestAnswer, (text.match(/"type":"(User|Group)"/g) ?? []).length);
    });
    await signInToConsole(page, origin, { community: 'coi', userName: 'olivia@emea.example', password: PASSWORD });
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Groups', exact: true }).click();
    await page.getByRole('heading', { name: 'Groups', level: 1 }).waitFor();
    await page.getByRole('row').filter({ hasText: 'All staff' }).filter({ hasText: '250' }).waitFor();
    await visited(page, 'groups');

    await page.getByRole('link', { name: 'All staff' }).click();
    await page.getByRole('heading', { name: 'All staff', level: 1 }).waitFor();
    const rows = page.getByRole('table').getByRole('row');
    const shown = async () => (await rows.allTextContents()).slice(1).map((t) => t.replace(/(User|Group)Remove .*$/, ''));
    const seen = new Set<string>();
    let previous: string[] = [];
    for (let n = 1; n <= 5; n += 1) {
      await page.getByText(`Page ${n} of 5`).waitFor();
      await page.getByText('250 members').first().waitFor();
      // The page number changes on the click, the rows when the server's page arrives: wait for the new rows
      // (pages share no member), or a slow answer reads the previous page twice.
      const names = await eventually(`the members of page ${n}`, async () => {
        const now = await shown();
        return now.length === 50 && !now.some((name) => previous.includes(name)) ? now : undefined;
      });
      if (n === 1) await visited(page, 'group-members');
      previous = names;
      for (const name of names) seen.add(name);
      if (n < 5) await page.getByRole('button', { name: 'Next page' }).click();
    }
    expect(seen.size).toBe(250);
    expect(seen.has('Contractors')).toBe(true);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 4 of 5').waitFor();

    // The search runs on the server: Member 12 and Member 120 … 129.
    await page.getByRole('searchbox', { name: 'Search members' }).fill('member 12');
    await page.getByText('11 members match').waitFor();
    await page.getByText('Page 1 of 1').waitFor();
    await visited(page, 'group-members-search');

    // Remove one, then add it back by its id.
    const removedId = (await hub.db.query<{ id: string }>("select id::text from scim_user where user_name = 'member120@emea.example'"))[0]
      ?.id;
    await page.getByRole('button', { name: 'Remove Member 120' }).click();
    await page.getByText('10 members match').waitFor();
    await page.getByRole('textbox', { name: 'Add a member (account or group id)' }).fill(removedId ?? '');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByText('11 members match').waitFor();
    await page.getByRole('button', { name: 'Remove Member 120' }).waitFor();
    await visited(page, 'group-members-changed');

    expect(largestAnswer).toBeLessThanOrEqual(50);
    expect(problems).toEqual([]);
    await context.close();
    // Both changes are the core's writes, audited.
    const audited = await hub.db.query<{ n: string }>(
      "select count(*) as n from audit_event where action = 'group.updated' and resource_id = $1",
      [groupId],
    );
    expect(Number(audited[0]?.n)).toBeGreaterThanOrEqual(2);
  });
});
