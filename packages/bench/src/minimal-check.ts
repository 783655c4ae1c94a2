// Before it is measured, the minimal baseline must give the hub's answers: a
// yardstick that skipped work would flatter nobody but itself. Every check that
// fails stops the run.
import { createHash } from 'node:crypto';
import { hashAuditEntry } from '@meridian/store';
import pg from 'pg';
import { type FilterTarget, issueTenantToken, seededUserId } from './database.js';
import type { RequestSpec } from './load.js';
import { CREATE, SCENARIOS } from './scenarios.js';
import type { ServerProcess } from './servers.js';

type Json = Record<string, unknown>;

async function call(server: ServerProcess, token: string, spec: RequestSpec): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${server.url}${spec.path}`, {
    method: spec.method,
    headers: { authorization: `Bearer ${spec.token ?? token}`, 'content-type': 'application/scim+json' },
    ...(spec.body === undefined ? {} : { body: spec.body }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

/** What of a resource both servers must agree on: id, userName, and its groups. */
function essence(resource: Json): string {
  const groups = ((resource.groups as Json[] | undefined) ?? []).map((g) => `${g.value}:${g.display}:${g.type}`).sort();
  return JSON.stringify([resource.id, resource.userName, groups]);
}

function agree(what: string, hub: { status: number; body: Json }, minimal: { status: number; body: Json }): void {
  const summary = (r: { status: number; body: Json }) =>
    r.body.schemas && Array.isArray(r.body.Resources)
      ? JSON.stringify([r.status, r.body.totalResults, (r.body.Resources as Json[]).map(essence)])
      : JSON.stringify([r.status, essence(r.body)]);
  if (hub.status !== 200 || summary(hub) !== summary(minimal)) {
    throw new Error(`The minimal baseline does not answer ${what} as the hub does:\nhub     ${summary(hub)}\nminimal ${summary(minimal)}`);
  }
}

/** The last `n` entries of a chain, as the superuser (past row-level security), oldest first. */
async function chainTail(client: pg.Client, chain: string, n: number) {
  const { rows } = await client.query<Json & { seq: string; created_at: Date; hash: string; prev_hash: string }>(
    'select * from audit_event where chain = $1 order by seq desc limit $2',
    [chain, n],
  );
  return rows.reverse();
}

/**
 * Checks, against the running hub: the filtered lists and GET by id (with a user in
 * both groups) answer the same users, totals and groups; the connections act as
 * `meridian_app`, which row-level security binds; a create's audit entry continues the
 * hub's chain and hashes as the hub's verifier recomputes it; a revoked token is
 * refused within about a second. Returns what was found, for the report.
 */
export async function checkMinimal(options: {
  databaseUrl: string;
  tenantId: string;
  tenantSlug: string;
  hub: ServerProcess;
  minimal: ServerProcess;
  token: string;
  targets: FilterTarget[];
  run: string;
}): Promise<string[]> {
  const { hub, minimal, token } = options;
  const found: string[] = [];
  for (const scenario of SCENARIOS) {
    if (!scenario.sides.includes('minimal') || scenario.name.startsWith('POST')) continue;
    const spec = scenario.requests(options.targets, options.run)();
    agree(scenario.name, await call(hub, token, spec), await call(minimal, token, spec));
  }
  const member = { method: 'GET', path: `/scim/v2/Users/${seededUserId(1)}` } as const;
  agree('GET /Users/{id} of a member of both groups', await call(hub, token, member), await call(minimal, token, member));
  found.push('the filtered lists and GET by id (a member of both groups too) answer the same users, totals and groups as the hub');

  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  const app = new pg.Client({ connectionString: options.databaseUrl, options: '-c role=meridian_app' });
  await app.connect();
  try {
    const role = await app.query<{ bypass: boolean; forced: boolean; visible: string }>(
      `select (select rolbypassrls or rolsuper from pg_roles where rolname = current_user) as bypass,
              (select relforcerowsecurity from pg_class where oid = 'scim_user'::regclass) as forced,
              (select count(*) from scim_user) as visible`,
    );
    const r = role.rows[0];
    if (!r || r.bypass || !r.forced || r.visible !== '0') {
      throw new Error(`Row-level security does not bind meridian_app here: ${JSON.stringify(r)}.`);
    }
    found.push('its connections act as meridian_app, which sees no user without a tenant setting: the policies bind every answer above');

    // Creates interleaved with the hub's: one chain, each entry linked to the previous and hashed as the verifier hashes it.
    const create = SCENARIOS.find((s) => s.name === CREATE);
    if (!create) throw new TypeError('No create scenario.');
    const next = create.requests(options.targets, `${options.run}chk`);
    for (const server of [minimal, hub, minimal]) {
      const created = await call(server, token, next());
      if (created.status !== 201)
        throw new Error(`A create on the ${server === hub ? 'hub' : 'minimal baseline'} answered ${created.status}.`);
    }
    const entries = await chainTail(client, options.tenantId, 4);
    for (const [k, row] of entries.entries()) {
      const recomputed = hashAuditEntry({
        chain: String(row.chain),
        seq: Number(row.seq),
        tenantId: row.tenant_id as string | null,
        actorType: String(row.actor_type),
        actorId: String(row.actor_id),
        action: String(row.action),
        resourceType: String(row.resource_type),
        resourceId: String(row.resource_id),
        requestId: String(row.request_id),
        sourceAddress: row.source_address as string | null,
        diff: row.diff,
        createdAt: row.created_at.toISOString(),
        prevHash: row.prev_hash,
      });
      const previous = entries[k - 1];
      if (recomputed !== row.hash || (previous && (previous.hash !== row.prev_hash || Number(previous.seq) + 1 !== Number(row.seq)))) {
        throw new Error(`The audit chain breaks at seq ${row.seq} after the minimal baseline's creates.`);
      }
    }
    found.push(
      "its creates continue the tenant's audit chain between the hub's: every entry links to the one before and hashes as the hub's verifier recomputes it",
    );

    const revoked = await issueTenantToken(options.databaseUrl, options.tenantSlug);
    const read = { method: 'GET', path: '/scim/v2/Users?count=1' } as const;
    if ((await call(minimal, revoked, read)).status !== 200) throw new Error('The minimal baseline refused a fresh token.');
    await client.query('update api_token set revoked_at = now() where secret_hash = $1', [
      createHash('sha256').update(revoked).digest('hex'),
    ]);
    const since = performance.now();
    while ((await call(minimal, revoked, read)).status !== 401) {
      if (performance.now() - since > 3_000) throw new Error('The minimal baseline still accepts a token revoked 3 s ago.');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    found.push(
      `a revoked token was refused ${Math.round(performance.now() - since)} ms after the revocation (token answers are kept at most 1 s)`,
    );
  } finally {
    await app.end();
    await client.end();
  }
  return found;
}
