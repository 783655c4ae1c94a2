// The bare baseline of `pnpm bench:directory`: Fastify + pg, no ORM, no GraphQL,
// no DataLoader. For each scenario it replays, per request, exactly the statements
// the hub sent for one request of that scenario (recorded through SqlCapture, with
// their literal parameters), in the same transactions and with the same
// concurrency (replay.ts), as the application role under row-level security; the
// token is looked up by the SHA-256 of the request's bearer token, as the hub does.
// From the rows it builds the same JSON answer as the hub's people query.
// POST /graphql/<scenario>; the scenarios come from the file in BASELINE_PLANS.
import { readFileSync } from 'node:fs';
import { hashTokenSecret } from '@meridian/store';
import Fastify from 'fastify';
import pg from 'pg';
import { APP_CONNECTION_OPTIONS } from '../hub-sql.js';
import type { ReplayPlan } from './replay.js';

const env = process.env;
const plans = JSON.parse(readFileSync(env.BASELINE_PLANS ?? '', 'utf8')) as Record<string, ReplayPlan>;
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.POOL_SIZE ?? 10), options: APP_CONNECTION_OPTIONS });

type Row = Record<string, unknown>;

async function transaction(scope: string, statements: string[]): Promise<{ sql: string; rows: Row[] }[]> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(scope);
    const results: { sql: string; rows: Row[] }[] = [];
    for (const sql of statements) results.push({ sql, rows: (await client.query(sql)).rows as Row[] });
    await client.query('commit');
    return results;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** The rows of each statement of a plan, in plan order; the token statement with the request's token hash. */
async function run(plan: ReplayPlan, tokenHash: string): Promise<{ sql: string; rows: Row[] }[] | undefined> {
  const all: { sql: string; rows: Row[] }[] = [];
  for (const wave of plan) {
    const results = await Promise.all(
      wave.map((t) =>
        transaction(
          t.scope,
          t.statements.map((s) => s.replace("secret_hash = '…'", `secret_hash = '${tokenHash}'`)),
        ),
      ),
    );
    for (const r of results.flat()) {
      if (/\bfrom api_token\b/.test(r.sql) && r.rows.length === 0) return undefined;
      all.push(r);
    }
  }
  return all;
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);

/** The answer the hub's people query gives, from the rows of its statements. */
function answer(results: { sql: string; rows: Row[] }[]): unknown {
  const pageSql = results.find((r) => /\bfrom person p where\b.*\border by\b.*\blimit \d+/.test(r.sql));
  const first = Number(/\blimit (\d+)\s*(\)|$)/.exec(pageSql?.sql ?? '')?.[1] ?? 101) - 1;
  // The hub reads a page and what it shows in one statement (\`with page as (…) select …\`): one row of JSON arrays
  // (people, accounts, tenants, groups, managers, total); the separate statements of earlier versions are read too.
  const combined = pageSql && /^with page as\b/.test(pageSql.sql) ? pageSql.rows[0] : undefined;
  const list = (v: unknown) => (Array.isArray(v) ? (v as Row[]) : []);
  const page = combined ? list(combined.people) : (pageSql?.rows ?? []);
  const items = page.slice(0, first);
  const count =
    combined && combined.total !== undefined
      ? combined.total
      : results.find((r) => /^select count\(\*\) as n from person p\b/.test(r.sql))?.rows[0]?.n;
  const people = new Map<string, Row>();
  for (const r of results.filter((x) => /\bfrom person p where p\.community_id = .* and p\.id = any\(/.test(x.sql))) {
    for (const row of r.rows) people.set(String(row.id), row);
  }
  for (const row of list(combined?.managers)) people.set(String(row.id), row);
  for (const row of items) people.set(String(row.id), row);
  const accounts = combined ? list(combined.accounts) : (results.find((r) => /\bfrom directory_account a where\b/.test(r.sql))?.rows ?? []);
  const groups = combined ? list(combined.groups) : (results.find((r) => /\bfrom directory_account_group g\b/.test(r.sql))?.rows ?? []);
  const slugs = new Map<string, string>();
  for (const r of results.filter((x) => /^select \* from tenant where\b/.test(x.sql))) {
    for (const row of r.rows) slugs.set(String(row.id), String(row.slug));
  }
  for (const row of list(combined?.tenants)) slugs.set(String(row.id), String(row.slug));
  const last = items.at(-1);
  const endCursor = last
    ? Buffer.from(JSON.stringify({ s: 'displayName', d: false, k: String(last.sort_key ?? ''), id: last.id })).toString('base64url')
    : null;
  return {
    data: {
      people: {
        ...(count === undefined ? {} : { totalCount: Number(count) }),
        edges: items.map((p) => {
          const own = accounts.filter((a) => a.person_id === p.id);
          const manager = p.manager_person_id ? people.get(String(p.manager_person_id)) : undefined;
          return {
            node: {
              id: p.id,
              displayName: text(p.display_name),
              accounts: own.map((a) => ({
                id: a.user_id,
                userName: a.user_name,
                tenant: slugs.has(String(a.tenant_id)) ? { slug: slugs.get(String(a.tenant_id)) } : null,
              })),
              groups: own.flatMap((a) =>
                groups.filter((g) => g.tenant_id === a.tenant_id && g.user_id === a.user_id).map((g) => ({ displayName: g.display_name })),
              ),
              manager: manager ? { displayName: text(manager.display_name) } : null,
            },
          };
        }),
        pageInfo: { endCursor, hasNextPage: page.length > first },
      },
    },
  };
}

const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

app.post<{ Params: { scenario: string } }>('/graphql/:scenario', async (request, reply) => {
  const plan = plans[request.params.scenario];
  if (!plan) return reply.code(404).send({ errors: [{ message: `No scenario '${request.params.scenario}'.` }] });
  const secret = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const results = secret ? await run(plan, hashTokenSecret(secret)) : undefined;
  if (!results) return reply.code(401).send({ errors: [{ message: 'Authentication is required.' }] });
  return reply.send(answer(results));
});

app.get('/healthz', async () => ({ ok: true }));

const port = Number(env.PORT ?? 0);
await app.listen({ port, host: '127.0.0.1' });
