import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { gql } from '@meridian/test-utils/apps';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { type HubHarness, startHub } from './harness.js';
import { listeningHub } from './oidc-harness.js';

// Issue 15: the pages people see are "themeable per community (name, logo, colours)". A community admin sets the
// theme over GraphQL, the platform admin with the CLI; the sign-in and consent pages, fetched over HTTP, show it with
// everything escaped and a Content-Security-Policy that lets in the logo and nothing else. Bad values are refused
// with the field named, and another community's admin cannot set it.

const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };
const ctx = { actor: { type: 'system' as const, id: 'test' }, requestId: 'setup' };
const REDIRECT = 'http://127.0.0.1:9/cb';
const PASSWORD = 'Correct-Horse-Battery-9';
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const THEME_FIELDS = 'displayName logoUrl primaryColour backgroundColour supportUrl';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

let hub: HubHarness;
let app: FastifyInstance;
let origin: string;
let config: client.Configuration;
let coiAdmin: string;
let otherAdmin: string;

async function meridian(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { ...process.env, DATABASE_URL: hub.db.url, LOG_LEVEL: 'silent', MERIDIAN_PUBLIC_URL: 'https://hub.example' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A browser without JavaScript: keeps cookies and follows redirects by hand. */
class Visitor {
  private readonly cookies = new Map<string, string>();

  async request(url: string, form?: Record<string, string>): Promise<Response> {
    const res = await fetch(new URL(url, origin), {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  }

  /** Follows redirects to the page at the end. */
  async follow(res: Response): Promise<{ status: number; html: string; csp: string }> {
    let current = res;
    for (let hops = 0; hops < 10; hops++) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || !location) break;
      current = await this.request(new URL(location, origin).href);
    }
    return { status: current.status, html: await current.text(), csp: current.headers.get('content-security-policy') ?? '' };
  }
}

/** The sign-in page of a new authorization request, and the consent page after signing in. */
async function pages(): Promise<{ login: { html: string; csp: string }; consent: { html: string; csp: string } }> {
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const visitor = new Visitor();
  const login = await visitor.follow(await visitor.request(url.href));
  expect(login.status).toBe(200);
  const action = /<form method="post" action="([^"]+)"/.exec(login.html)?.[1] ?? '';
  const consent = await visitor.follow(await visitor.request(action, { step: 'login', username: 'ada@emea.example', password: PASSWORD }));
  expect(consent.html).toContain('<input type="hidden" name="step" value="consent">');
  return { login, consent };
}

/** The page's style block is the one its CSP allows by hash: the theme cannot bring a style of its own. */
function expectStyleAllowed(page: { html: string; csp: string }): void {
  const style = /<style>([^<]*)<\/style>/.exec(page.html)?.[1] ?? '';
  expect(page.csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
  expect(page.html.match(/<style>/g)).toHaveLength(1);
}

async function themeOfCoi(): Promise<Record<string, unknown> | undefined> {
  const res = await gql(app, coiAdmin, `{ communities { edges { node { slug ssoTheme { ${THEME_FIELDS} } } } } }`);
  const communities = res.body.data?.communities as { edges: { node: { slug: string; ssoTheme: Record<string, unknown> } }[] } | undefined;
  return communities?.edges.find((e) => e.node.slug === 'coi')?.node.ssoTheme;
}

beforeAll(async () => {
  hub = await startHub();
  ({ app, origin } = await listeningHub(hub));
  const res = await hub.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${hub.tenants.emea.token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({ userName: 'ada@emea.example', password: PASSWORD, emails: [{ value: 'ada@emea.example' }] }),
  });
  expect(res.statusCode).toBe(201);
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
  coiAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'coi', role: 'community_admin' }, ctx)).token;
  otherAdmin = (await hub.runtime.admin.issueToken(platform, { community: 'other', role: 'community_admin' }, ctx)).token;
  const made = await hub.runtime.relyingParties.create(
    platform,
    { community: 'coi', name: 'Wiki', redirectUris: [REDIRECT], claims: 'email' },
    ctx,
  );
  config = await client.discovery(
    new URL(`${origin}/oidc/coi`),
    made.relyingParty.clientId,
    undefined,
    client.ClientSecretBasic(made.clientSecret ?? ''),
    { execute: [client.allowInsecureRequests] },
  );
}, 120_000);

afterAll(async () => {
  await app?.close();
  await hub?.close();
});

// Every CLI step spawns a process that opens the database: generous time on a loaded machine.
const CLI_TEST_MS = 240_000;

describe("a community's page theme", () => {
  it('is unset at first: the pages show the community name and the default colours, and load no image', async () => {
    expect(await themeOfCoi()).toEqual({ displayName: null, logoUrl: null, primaryColour: null, backgroundColour: null, supportUrl: null });
    const { login } = await pages();
    expect(login.html).toContain('<h1>CoI</h1>');
    expect(login.html).toContain('--meridian-primary:#1f4e8c');
    expect(login.html).not.toContain('<img');
    expect(login.csp).toContain("img-src 'self';");
  });

  it("set by the community's admin over GraphQL, shows on the sign-in and consent pages, escaped", async () => {
    const set = await gql(
      app,
      coiAdmin,
      `mutation($t: CommunityThemeInput!) { setCommunityTheme(community: "coi", theme: $t) { ${THEME_FIELDS} } }`,
      {
        t: {
          displayName: 'Wiki <CoI> & "friends"',
          primaryColour: '#AA3300',
          backgroundColour: '#fafafa',
          logoUrl: 'https://cdn.example.org/brand/logo.png',
          supportUrl: 'mailto:help@coi.example',
        },
      },
    );
    expect(set.body.errors).toBeUndefined();
    expect(set.body.data?.setCommunityTheme).toEqual({
      displayName: 'Wiki <CoI> & "friends"',
      primaryColour: '#aa3300',
      backgroundColour: '#fafafa',
      logoUrl: 'https://cdn.example.org/brand/logo.png',
      supportUrl: 'mailto:help@coi.example',
    });
    expect(await themeOfCoi()).toEqual(set.body.data?.setCommunityTheme);

    const { login, consent } = await pages();
    for (const page of [login, consent]) {
      expect(page.html).toContain('<h1>Wiki &#60;CoI&#62; &#38; &#34;friends&#34;</h1>');
      expect(page.html).toContain('<img src="https://cdn.example.org/brand/logo.png" alt="Wiki &#60;CoI&#62; &#38; &#34;friends&#34;">');
      expect(page.html).toContain('--meridian-primary:#aa3300;');
      expect(page.html).toContain('--meridian-background:#fafafa;');
      expect(page.html).toContain('<footer><a href="mailto:help@coi.example">Help and support</a></footer>');
      expect(page.html).not.toContain('<CoI>');
      // The logo's one file may load, and nothing else from its host.
      expect(page.csp).toContain("img-src 'self' https://cdn.example.org/brand/logo.png;");
      expectStyleAllowed(page);
    }
    const audited = await hub.db.query<{ actor_type: string; diff: { after: { primaryColour: string } } }>(
      "select actor_type, diff from audit_event where action = 'community.theme_set' and chain = '' order by seq",
    );
    expect(audited.map((a) => a.diff.after.primaryColour)).toEqual(['#aa3300']);
  });

  it('refuses a colour that is not a hex colour and a logo that is not https or data:image, naming the field', async () => {
    const before = await themeOfCoi();
    for (const [field, value, message] of [
      ['primaryColour', 'red;}body{', "primaryColour must be a hex colour such as #1f4e8c (got 'red;}body{')."],
      ['backgroundColour', 'red', "backgroundColour must be a hex colour such as #1f4e8c (got 'red')."],
      ['logoUrl', 'javascript:alert(1)', "logoUrl must be an https URL or a data:image URI (got 'javascript:alert(1)')."],
    ] as const) {
      const res = await gql(
        app,
        coiAdmin,
        'mutation($t: CommunityThemeInput!) { setCommunityTheme(community: "coi", theme: $t) { primaryColour } }',
        {
          t: { [field]: value },
        },
      );
      expect(res.body.errors?.[0]).toMatchObject({ message, extensions: { code: 'INVALID_INPUT', field } });
    }
    expect(await themeOfCoi()).toEqual(before);
  });

  it("cannot be set or read by another community's admin, nor by an office token", async () => {
    const before = await themeOfCoi();
    for (const token of [otherAdmin, hub.tenants.emea.token]) {
      const res = await gql(
        app,
        token,
        'mutation { setCommunityTheme(community: "coi", theme: { primaryColour: "#000000" }) { primaryColour } }',
      );
      expect(['NOT_FOUND', 'FORBIDDEN']).toContain(res.body.errors?.[0]?.extensions?.code);
      expect(res.body.data).toBeNull();
    }
    const read = await gql(app, otherAdmin, '{ communities { edges { node { slug ssoTheme { primaryColour } } } } }');
    expect(JSON.stringify(read.body)).not.toContain('#aa3300');
    expect(await themeOfCoi()).toEqual(before);
  });

  it(
    'set with the CLI (a logo file as a data: URI) shows on the next page of the running hub; bad values are refused',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'meridian-theme-'));
      const logo = join(dir, 'logo.png');
      await writeFile(logo, PNG);
      const set = await meridian('community', 'theme', '--community', 'coi', '--primary-colour', '#006400', '--logo-file', logo, '--json');
      expect(set.stderr).toBe('');
      expect(set.code).toBe(0);
      const dataUri = `data:image/png;base64,${PNG.toString('base64')}`;
      expect(JSON.parse(set.stdout)).toEqual({
        displayName: 'Wiki <CoI> & "friends"',
        logoUrl: dataUri,
        primaryColour: '#006400',
        backgroundColour: '#fafafa',
        supportUrl: 'mailto:help@coi.example',
      });

      const { login, consent } = await pages();
      for (const page of [login, consent]) {
        expect(page.html).toContain('--meridian-primary:#006400;');
        expect(page.html).toContain(`<img src="${dataUri}" alt="Wiki &#60;CoI&#62; &#38; &#34;friends&#34;">`);
        expect(page.csp).toContain("img-src 'self' data:;");
        expect(page.csp).not.toContain('cdn.example.org');
        expectStyleAllowed(page);
      }

      const bad = await meridian('community', 'theme', '--community', 'coi', '--primary-colour', 'red;}body{');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe("error: primaryColour must be a hex colour such as #1f4e8c (got 'red;}body{').\n");
      const script = await meridian('community', 'theme', '--community', 'coi', '--logo-url', 'javascript:alert(1)', '--json');
      expect(script.code).toBe(1);
      expect(JSON.parse(script.stderr)).toEqual({
        error: { code: 'INVALID_INPUT', message: "logoUrl must be an https URL or a data:image URI (got 'javascript:alert(1)')." },
      });

      const cleared = await meridian('community', 'theme', '--community', 'coi', '--clear', '--json');
      expect(JSON.parse(cleared.stdout)).toEqual({
        displayName: null,
        logoUrl: null,
        primaryColour: null,
        backgroundColour: null,
        supportUrl: null,
      });
      const after = await pages();
      expect(after.login.html).toContain('<h1>CoI</h1>');
      expect(after.login.csp).toContain("img-src 'self';");
      const audited = await hub.db.query<{ actor_type: string }>(
        "select actor_type from audit_event where action = 'community.theme_set' order by seq",
      );
      expect(audited.map((a) => a.actor_type)).toEqual(['token', 'cli', 'cli']);
    },
    CLI_TEST_MS,
  );
});
