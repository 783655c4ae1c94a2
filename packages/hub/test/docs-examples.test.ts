import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isMeridianError, SCHEMA } from '@meridian/core';
import { type Json, gql as post, scimClient } from '@meridian/test-utils/apps';
import { Kind, parse } from 'graphql';
import { type HubHarness, startHub } from './harness.js';

// Issue 6: "docs/graphql.md shows the HR queries a provider needs, with examples that run", checked by running
// them verbatim. Every ```graphql block of docs/graphql.md and docs/global-directory.md, and every command of the
// README's tour (its curl requests byte for byte), runs here in document order against one hub, so that the
// state the examples build on is the state a reader who followed the tour has.
//
// Each ```graphql block must follow an HTML comment saying how to run it (a block without one fails):
//
//   <!-- example: token=<role> community=<slug> | tenant=<slug> [user=<userName>] [error=<CODE>]
//        [save=<name>:<path>,...] [variables=<JSON object, or an array of them: one run each>] -->
//
// `token` is a role of docs/security.md (`platform_admin`: the admin token); `error` is the extensions.code the
// example documents; `save` keeps a value of the answer's data (a dot path, numbers index lists) for later
// examples, whose variables name it as "@<name>". `variables` comes last. A document with several operations runs
// each of them, in order.

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const ctx = { actor: { type: 'system' as const, id: 'docs-examples' }, requestId: 'docs-examples' };
const platform = { kind: 'platform' as const, tokenId: 'test', scopes: ['admin' as const] };

/** The harness's community `coi` plays the tour's community (whatever the README calls it); `emea` is in it. */
const TOUR_COMMUNITY = 'coi';
const HARNESS_TENANTS: Record<string, string> = { emea: 'coi', apac: 'other' };

interface ExampleSpec {
  token: string;
  community?: string;
  tenant?: string;
  user?: string;
  error?: string;
  save: { name: string; path: string }[];
  variables?: Json | Json[];
}

interface GraphqlExample {
  where: string;
  source: string;
  spec?: ExampleSpec;
  problem?: string;
}

/** The spec of one `<!-- example: ... -->` comment. */
function parseSpec(text: string): ExampleSpec {
  let rest = text;
  let variables: Json | Json[] | undefined;
  const at = rest.indexOf('variables=');
  if (at >= 0) {
    variables = JSON.parse(rest.slice(at + 'variables='.length)) as Json | Json[];
    rest = rest.slice(0, at);
  }
  const spec: Partial<ExampleSpec> & { save: ExampleSpec['save'] } = { save: [], ...(variables !== undefined ? { variables } : {}) };
  for (const pair of rest.split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (eq <= 0 || value === '') throw new Error(`'${pair}' is not key=value`);
    if (key === 'save') {
      for (const item of value.split(',')) {
        const [name, path] = item.split(':');
        if (!name || !path) throw new Error(`save '${item}' is not <name>:<path>`);
        spec.save.push({ name, path });
      }
    } else if (key === 'token' || key === 'community' || key === 'tenant' || key === 'user' || key === 'error') {
      spec[key] = value;
    } else {
      throw new Error(`unknown key '${key}'`);
    }
  }
  if (!spec.token) throw new Error('token=<role> is missing');
  return spec as ExampleSpec;
}

/** Every fenced block of a markdown file, with the line it starts on and the last non-blank line before it. */
function fencedBlocks(file: string): { lang: string; line: number; text: string; before: string }[] {
  const lines = readFileSync(root(file), 'utf8').split('\n');
  const blocks: { lang: string; line: number; text: string; before: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? '')) end++;
    let b = i - 1;
    while (b >= 0 && (lines[b] ?? '').trim() === '') b--;
    blocks.push({ lang: open[1] ?? '', line: i + 1, text: lines.slice(i + 1, end).join('\n'), before: (lines[b] ?? '').trim() });
    i = end;
  }
  return blocks;
}

function graphqlExamples(file: string): GraphqlExample[] {
  return fencedBlocks(file)
    .filter((block) => block.lang === 'graphql')
    .map((block) => {
      const where = `${file}:${block.line}`;
      const comment = /^<!--\s*example:(.*)-->$/.exec(block.before);
      if (!comment) {
        return { where, source: block.text, problem: 'needs an <!-- example: token=<role> ... --> comment right before it' };
      }
      try {
        return { where, source: block.text, spec: parseSpec(comment[1] ?? '') };
      } catch (error) {
        return { where, source: block.text, problem: `has a bad example comment: ${(error as Error).message}` };
      }
    });
}

/** One command of the README's tour, continuation lines joined, comments left out. */
interface TourCommand {
  where: string;
  text: string;
}

function tourCommands(file: string): TourCommand[] {
  const commands: TourCommand[] = [];
  for (const block of fencedBlocks(file).filter((b) => b.lang === 'sh' && /^curl /m.test(b.text))) {
    const lines = block.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const start = i;
      let text = lines[i] ?? '';
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)}${lines[++i] ?? ''}`;
      if (text.trim() === '' || text.trim().startsWith('#')) continue;
      commands.push({ where: `${file}:${block.line + 1 + start}`, text: text.trim() });
    }
  }
  return commands;
}

/** Splits a command into words as a POSIX shell does (quotes, backslashes, `$VAR` outside single quotes, `|`). */
function shellWords(text: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const expand = (s: string) =>
    s.replace(/\$(\w+)|\$\{(\w+)\}/g, (_, a: string | undefined, b: string | undefined) => {
      const name = a ?? b ?? '';
      const value = env[name];
      if (value === undefined) throw new Error(`$${name} is not set by an earlier command`);
      return value;
    });
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error('unclosed single quote');
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let raw = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && '"\\$`'.includes(text[j + 1] ?? '')) j++;
        raw += text[j];
      }
      if (j >= text.length) throw new Error('unclosed double quote');
      word = (word ?? '') + expand(raw);
      i = j;
    } else if (c === ' ' || c === '\t' || c === '|') {
      if (word !== undefined) words.push(word);
      word = undefined;
      if (c === '|') words.push('|');
    } else if (c === '\\') {
      word = (word ?? '') + (text[++i] ?? '');
    } else if (c === '$') {
      const m = /^\$(\w+|\{\w+\})/.exec(text.slice(i));
      if (!m) throw new Error(`cannot expand '${text.slice(i, i + 10)}'`);
      word = (word ?? '') + expand(m[0]);
      i += m[0].length - 1;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** `--flag value` and `--flag` (true) options after the positional words. */
function flagsOf(words: string[]): Record<string, string | true> {
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    if (!w.startsWith('--')) throw new Error(`unexpected '${w}'`);
    const next = words[i + 1];
    if (next === undefined || next.startsWith('--')) flags[w.slice(2)] = true;
    else {
      flags[w.slice(2)] = next;
      i++;
    }
  }
  return flags;
}

const str = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

type GqlAnswer = {
  // biome-ignore lint/suspicious/noExplicitAny: answers are walked by path.
  data?: Record<string, any> | null;
  errors?: { message: string; path?: unknown[]; extensions?: { code?: string; field?: string } }[];
};

let hub: HubHarness;
const scim = scimClient(() => hub.app);
const env: Record<string, string> = {};
const communities: Record<string, string> = {};
const saved: Record<string, unknown> = {};
const tokens = new Map<string, string>();
let peopleAnswer: GqlAnswer | undefined;

async function settle(): Promise<void> {
  await hub.runtime.replication.relay.drain();
  await hub.runtime.replication.projector?.drain();
}

async function tokenFor(spec: ExampleSpec): Promise<string> {
  if (spec.token === 'platform_admin') return hub.adminToken;
  const key = `${spec.token}/${spec.community ?? ''}/${spec.tenant ?? ''}/${spec.user ?? ''}`;
  let token = tokens.get(key);
  if (!token) {
    if (!spec.community === !spec.tenant) throw new Error(`token=${spec.token} needs community=<slug> or tenant=<slug>`);
    const owner = spec.community ? { community: spec.community } : { tenant: spec.tenant };
    token = (await hub.runtime.admin.issueToken(platform, { ...owner, role: spec.token, user: spec.user }, ctx)).token;
    tokens.set(key, token);
  }
  return token;
}

async function ensureTenant(slug: string, name: string, community: string): Promise<void> {
  if (HARNESS_TENANTS[slug] !== undefined) {
    expect(HARNESS_TENANTS[slug]).toBe(community);
    return;
  }
  try {
    await hub.runtime.admin.createTenant(platform, { slug, name, community }, ctx);
  } catch (error) {
    if (!isMeridianError(error) || error.code !== 'UNIQUENESS') throw error;
  }
  HARNESS_TENANTS[slug] = community;
}

async function graphql(token: string, query: string, variables?: Json, operationName?: string): Promise<GqlAnswer> {
  await settle();
  return (await post(hub.app, token, query, variables as Record<string, unknown> | undefined, operationName)).body as GqlAnswer;
}

/** The variables with every "@name" replaced by the value an earlier example saved. */
function resolve(value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith('@')) {
    const name = value.slice(1);
    if (!(name in saved)) throw new Error(`"@${name}" was not saved by an earlier example`);
    return saved[name];
  }
  if (Array.isArray(value)) return value.map(resolve);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  return value;
}

function at(data: unknown, path: string): unknown {
  let node = data;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

async function runExample(example: GraphqlExample): Promise<void> {
  const { spec } = example;
  if (!spec) throw new Error(`${example.where}: the graphql block ${example.problem}`);
  const token = await tokenFor(spec);
  const operations = parse(example.source).definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const names = operations.length > 1 ? operations.map((o) => o.name?.value) : [undefined];
  const runs = spec.variables === undefined ? [undefined] : Array.isArray(spec.variables) ? spec.variables : [spec.variables];
  for (const variables of runs) {
    for (const operationName of names) {
      const answer = await graphql(token, example.source, resolve(variables) as Json | undefined, operationName);
      const label = `${example.where}${operationName ? ` ${operationName}` : ''}`;
      if (spec.error) {
        expect({ label, code: answer.errors?.[0]?.extensions?.code }).toEqual({ label, code: spec.error });
        continue;
      }
      expect({ label, errors: answer.errors }).toEqual({ label, errors: undefined });
      expect(answer.data).toBeTruthy();
      for (const { name, path } of spec.save) {
        const value = at(answer.data, path);
        // A later run (the next page, say) keeps what an earlier one found when it has nothing there.
        if (value !== undefined) saved[name] = value;
        else if (!(name in saved)) throw new Error(`${label}: the answer has nothing at '${path}' to save as '${name}'`);
      }
    }
  }
}

/** Runs one README tour command: meridian CLI set-up through the runtime, curl requests as they are written. */
async function runTourCommand(command: TourCommand): Promise<void> {
  const substitution = /^([A-Za-z_]\w*)=\$\((.*)\)$/.exec(command.text);
  const words = shellWords(substitution ? (substitution[2] ?? '') : command.text, env);
  const pipe = words.indexOf('|');
  const argv = pipe >= 0 ? words.slice(0, pipe) : words;
  if (argv[0] === 'pnpm' && argv[1] === 'meridian') {
    const [, , noun, verb, ...rest] = argv;
    const flags = flagsOf(rest);
    const community = (slug: string | undefined) => (slug === undefined ? undefined : (communities[slug] ?? slug));
    if (noun === 'community' && verb === 'create') {
      communities[String(str(flags.slug))] = TOUR_COMMUNITY;
    } else if (noun === 'tenant' && verb === 'create') {
      await ensureTenant(String(str(flags.slug)), String(str(flags.name)), String(community(str(flags.community))));
    } else if (noun === 'token' && verb === 'create' && substitution) {
      const issued = await hub.runtime.admin.issueToken(
        platform,
        {
          tenant: str(flags.tenant),
          community: community(str(flags.community)),
          role: str(flags.role),
          scopes: str(flags.scopes),
          user: str(flags.user),
        },
        ctx,
      );
      // The command's `| node -pe '...token'` picks the token out of the --json answer.
      expect(flags.json).toBe(true);
      expect(words.slice(pipe + 1).join(' ')).toMatch(/^node -pe .*\.token$/);
      env[substitution[1] ?? ''] = issued.token;
    } else {
      throw new Error(`${command.where}: the test does not know 'meridian ${noun} ${verb}'`);
    }
    return;
  }
  if (argv[0] !== 'curl' || substitution) throw new Error(`${command.where}: the test does not know '${command.text}'`);
  let method: string | undefined;
  let get = false;
  let url: URL | undefined;
  let body: string | undefined;
  const query: string[] = [];
  const headers: Record<string, string> = {};
  for (let i = 1; i < argv.length; i++) {
    const w = argv[i] ?? '';
    if (w === '-s') continue;
    if (w === '-G') get = true;
    else if (w === '-X') method = argv[++i];
    else if (w === '-H') {
      const header = argv[++i] ?? '';
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (w === '-d') body = argv[++i];
    else if (w === '--data-urlencode') {
      const pair = argv[++i] ?? '';
      const eq = pair.indexOf('=');
      query.push(`${pair.slice(0, eq)}=${encodeURIComponent(pair.slice(eq + 1))}`);
    } else if (w.startsWith('http://localhost:4000/')) url = new URL(w);
    else throw new Error(`${command.where}: the test does not know the curl option '${w}'`);
  }
  if (!url) throw new Error(`${command.where}: no http://localhost:4000 URL`);
  if (get && body !== undefined) throw new Error(`${command.where}: -G with -d`);
  const path = `${url.pathname}${query.length > 0 ? `?${query.join('&')}` : ''}`;
  const isGraphql = url.pathname === '/graphql';
  if (isGraphql) {
    // The document is the JSON body's `query`, sent as written.
    const payload = JSON.parse(body ?? '{}') as { query?: unknown };
    expect(typeof payload.query).toBe('string');
    parse(String(payload.query));
    await settle();
  }
  const res = await hub.app.inject({
    method: (method ?? (body !== undefined ? 'POST' : 'GET')) as 'GET' | 'POST',
    url: path,
    headers,
    ...(body !== undefined ? { payload: body } : {}),
  });
  expect({ where: command.where, status: res.statusCode < 300 }).toEqual({ where: command.where, status: true });
  if (isGraphql) {
    const answer = JSON.parse(res.body) as GqlAnswer;
    expect({ where: command.where, errors: answer.errors }).toEqual({ where: command.where, errors: undefined });
    if (String((JSON.parse(body ?? '{}') as { query: string }).query).includes('people')) peopleAnswer = answer;
  }
}

beforeAll(async () => {
  hub = await startHub();
});
afterAll(() => hub.close());

describe('README.md: the tour runs as written', () => {
  const commands = tourCommands('README.md');

  it('has a tour with GraphQL requests', () => {
    expect(commands.filter((c) => c.text.includes('/graphql')).length).toBeGreaterThanOrEqual(2);
  });

  it.each(commands.map((c) => ({ ...c, title: `${c.where} ${c.text.slice(0, 60)}` })))('$title', runTourCommand);

  it("shows one person for the offices' two accounts with the same employeeNumber", () => {
    const edges = (peopleAnswer?.data?.people?.edges ?? []) as { node: Json }[];
    const ada = edges.map((e) => e.node).filter((node) => node.employeeNumber === '1815');
    expect(ada).toHaveLength(1);
    const accounts = (ada[0]?.accounts ?? []) as { tenant: { slug: string } }[];
    expect(accounts.map((a) => a.tenant.slug).sort()).toEqual(['amer', 'emea']);
  });
});

describe('docs/graphql.md', () => {
  beforeAll(async () => {
    // Charles Babbage in two offices that disagree about his title and department (docs/global-directory.md
    // describes this data): the conflicts the directory examples list and resolve.
    await ensureTenant('amer', 'AMER office', TOUR_COMMUNITY);
    const amer = (await hub.runtime.admin.issueToken(platform, { tenant: 'amer', role: 'provisioner' }, ctx)).token;
    const charles = (userName: string, title: string, department: string) => ({
      schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
      userName,
      displayName: 'Charles Babbage',
      name: { givenName: 'Charles', familyName: 'Babbage' },
      title,
      [SCHEMA.enterpriseUser]: { employeeNumber: '1791', department },
    });
    const emea = await scim('POST', '/Users', {
      token: hub.tenants.emea.token,
      body: charles('charles@emea.example', 'Engineer', 'Engines'),
    });
    expect(emea.status).toBe(201);
    await settle();
    const other = await scim('POST', '/Users', { token: amer, body: charles('cbabbage@amer.example', 'Professor', 'Mathematics') });
    expect(other.status).toBe(201);
  });

  it.each(graphqlExamples('docs/graphql.md').map((e) => ({ ...e, title: e.where })))('$title', runExample);
});

describe('docs/global-directory.md', () => {
  it.each(graphqlExamples('docs/global-directory.md').map((e) => ({ ...e, title: e.where })))('$title', runExample);
});
