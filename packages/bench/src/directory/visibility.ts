import { SCHEMA } from '@meridian/core';
import pg from 'pg';
import { percentile } from '../load.js';

/** A SCIM write the visibility phases make: a new person, a new office of an existing person, or a changed account. */
export interface Write {
  kind: 'create' | 'join' | 'patch';
  tenantId: string;
  tenantSlug: string;
  method: 'POST' | 'PATCH';
  path: string;
  body: string;
  /** The existing person a `join` adds an office to (for the GraphQL spot check). */
  employeeNumber: string;
}

/** One write as it went: when its SCIM response arrived, and when the poller first saw its version in the directory. */
export interface WriteOutcome {
  write: Write;
  status: number;
  userId: string | undefined;
  version: number | undefined;
  sentAt: number;
  answeredAt: number;
  visibleAt: number | undefined;
}

/** Percentiles of a list of milliseconds. */
export interface Spread {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), max: sorted.at(-1) ?? Number.NaN };
}

/** What one visibility phase measured. */
export interface VisibilityResult {
  label: string;
  writes: number;
  failed: number;
  /** Writes whose change never showed up within the wait. */
  unseen: number;
  /** Seconds from the first write sent to the last answered, and to the last visible. */
  writeSeconds: number;
  drainSeconds: number;
  /** SCIM response latency. */
  scim: Spread;
  /** SCIM response → visible in directory_account at the written version (all writes, and by kind). */
  visible: Spread;
  byKind: Record<Write['kind'], Spread>;
  /** From the database: outbox event created → dispatched by the relay; dispatched → the account projected. */
  relay: Spread;
  projection: Spread;
  /** The largest backlogs the poller saw: undispatched outbox events, inbox entries. */
  maxOutbox: number;
  maxInbox: number;
}

const ENTERPRISE = SCHEMA.enterpriseUser;

/** Candidates for the writes: tenants with a token, seeded users to patch, people to give another office. */
export interface WriteTargets {
  tenants: { id: string; slug: string; token: string }[];
  /** Seeded users of those tenants, one per person, each used once. */
  patchable: { tenantId: string; userId: string }[];
  /** People with their offices, each used once. */
  joinable: {
    employeeNumber: string;
    displayName: string;
    givenName: string;
    familyName: string;
    email: string;
    department: string;
    tenants: string[];
  }[];
}

/** Picks distinct users to patch and people to join in the given tenants (each write touches a person no other write touches). */
export async function writeTargets(
  url: string,
  communityId: string,
  tenants: WriteTargets['tenants'],
  count: number,
): Promise<WriteTargets> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const ids = tenants.map((t) => t.id);
    const { rows: patchable } = await client.query<{ tenant_id: string; user_id: string }>(
      `select distinct on (a.person_id) a.tenant_id, a.user_id from directory_account a
        where a.community_id = $1 and a.tenant_id = any($2::uuid[]) and a.user_name not like 'dirbench-%'
          and a.person_id in (select person_id from directory_account where community_id = $1 and tenant_id = any($2::uuid[])
                               order by random() limit $3)`,
      [communityId, ids, count],
    );
    const { rows: joinable } = await client.query<{
      employee_number: string;
      display_name: string;
      given_name: string;
      family_name: string;
      email: string;
      department: string;
      tenants: string[];
    }>(
      `select p.employee_number, p.display_name, p.given_name, p.family_name, p.email, p.department,
              array(select a.tenant_id::text from directory_account a where a.person_id = p.id) as tenants
         from person p
        where p.community_id = $1 and p.conflict_count = 0 and p.employee_number is not null and p.department is not null
          and p.id not in (select person_id from directory_account where community_id = $1 and tenant_id = any($2::uuid[]))
        order by random() limit $3`,
      [communityId, ids, count],
    );
    return {
      tenants,
      patchable: patchable.map((r) => ({ tenantId: r.tenant_id, userId: r.user_id })),
      joinable: joinable.map((r) => ({
        employeeNumber: r.employee_number,
        displayName: r.display_name,
        givenName: r.given_name,
        familyName: r.family_name,
        email: r.email,
        department: r.department,
        tenants: r.tenants,
      })),
    };
  } finally {
    await client.end();
  }
}

/** `count` writes, creates, joins and patches in turn, over the tenants; consumes the targets it uses. */
export function makeWrites(targets: WriteTargets, count: number, run: string): Write[] {
  const writes: Write[] = [];
  for (let n = 0; n < count; n++) {
    const tenant = targets.tenants[n % targets.tenants.length];
    if (!tenant) throw new TypeError('No tenant to write to.');
    const kind = (['create', 'join', 'patch'] as const)[n % 3] ?? 'create';
    const userName = `dirbench-${run}-${n}@${tenant.slug}.example.org`;
    if (kind === 'patch') {
      const user = targets.patchable.find((u) => u.tenantId === tenant.id);
      if (user) {
        targets.patchable.splice(targets.patchable.indexOf(user), 1);
        writes.push({
          kind,
          tenantId: tenant.id,
          tenantSlug: tenant.slug,
          method: 'PATCH',
          path: `/scim/v2/Users/${user.userId}`,
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'replace', path: 'title', value: `Bench title ${run}-${n}` }],
          }),
          employeeNumber: '',
        });
        continue;
      }
    }
    if (kind === 'join') {
      const person = targets.joinable.find((p) => !p.tenants.includes(tenant.id));
      if (person) {
        targets.joinable.splice(targets.joinable.indexOf(person), 1);
        writes.push({
          kind,
          tenantId: tenant.id,
          tenantSlug: tenant.slug,
          method: 'POST',
          path: '/scim/v2/Users',
          body: JSON.stringify({
            schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
            userName,
            name: { givenName: person.givenName, familyName: person.familyName, formatted: person.displayName },
            displayName: person.displayName,
            emails: [{ value: person.email, type: 'work', primary: true }],
            active: true,
            [ENTERPRISE]: { employeeNumber: person.employeeNumber, department: person.department },
          }),
          employeeNumber: person.employeeNumber,
        });
        continue;
      }
    }
    const employeeNumber = `D${run}-${n}`;
    writes.push({
      kind: 'create',
      tenantId: tenant.id,
      tenantSlug: tenant.slug,
      method: 'POST',
      path: '/scim/v2/Users',
      body: JSON.stringify({
        schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
        userName,
        name: { givenName: 'Bench', familyName: `Joiner${n}`, formatted: `Bench Joiner${n}` },
        displayName: `Bench Joiner${n}`,
        emails: [{ value: userName, type: 'work', primary: true }],
        active: true,
        [ENTERPRISE]: { employeeNumber, department: 'Engineering' },
      }),
      employeeNumber,
    });
  }
  return writes;
}

/**
 * Watches the directory with a bare pg client as the superuser (past row-level
 * security, as platform work sees it): every `intervalMs` one statement reads
 * `directory_account.user_version` of every write still waiting, and the
 * first poll that finds the written version (or a later one) marks the write
 * visible at the time that poll was sent. Every 100 ms it also reads the
 * backlogs (undispatched outbox events, inbox entries).
 */
class Poller {
  private readonly waiting = new Map<string, WriteOutcome>();
  private running = true;
  private loop: Promise<void> | undefined;
  maxOutbox = 0;
  maxInbox = 0;

  constructor(
    private readonly client: pg.Client,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  watch(outcome: WriteOutcome): void {
    if (outcome.userId && outcome.version !== undefined) this.waiting.set(`${outcome.write.tenantId}/${outcome.userId}`, outcome);
  }

  get pending(): number {
    return this.waiting.size;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    let lastBacklog = 0;
    while (this.running) {
      const sent = performance.now();
      if (this.waiting.size > 0) {
        const list = [...this.waiting.values()];
        const { rows } = await this.client.query<{ tenant_id: string; user_id: string; user_version: number }>(
          `select a.tenant_id, a.user_id, a.user_version from directory_account a
             join unnest($1::uuid[], $2::uuid[]) as w(tenant_id, user_id) on w.tenant_id = a.tenant_id and w.user_id = a.user_id`,
          [list.map((o) => o.write.tenantId), list.map((o) => o.userId)],
        );
        for (const row of rows) {
          const key = `${row.tenant_id}/${row.user_id}`;
          const outcome = this.waiting.get(key);
          if (outcome && outcome.version !== undefined && row.user_version >= outcome.version) {
            outcome.visibleAt = sent;
            this.waiting.delete(key);
          }
        }
      }
      if (sent - lastBacklog >= 100) {
        lastBacklog = sent;
        const { rows } = await this.client.query<{ outbox: string; inbox: string }>(
          `select (select count(*) from outbox_event where dispatched_at is null) as outbox, (select count(*) from directory_inbox) as inbox`,
        );
        this.maxOutbox = Math.max(this.maxOutbox, Number(rows[0]?.outbox ?? 0));
        this.maxInbox = Math.max(this.maxInbox, Number(rows[0]?.inbox ?? 0));
      }
      const wait = this.intervalMs - (performance.now() - sent);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
}

async function send(baseUrl: string, write: Write, token: string): Promise<WriteOutcome> {
  const sentAt = performance.now();
  const response = await fetch(`${baseUrl}${write.path}`, {
    method: write.method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' },
    body: write.body,
  });
  const text = await response.text();
  const answeredAt = performance.now();
  let userId: string | undefined;
  try {
    userId = (JSON.parse(text) as { id?: string }).id;
  } catch {
    userId = undefined;
  }
  const version = /W\/"(\d+)"/.exec(response.headers.get('etag') ?? '')?.[1];
  return {
    write,
    status: response.status,
    userId,
    version: version === undefined ? undefined : Number(version),
    sentAt,
    answeredAt,
    visibleAt: undefined,
  };
}

/**
 * Sends the writes to the hub, either one every `1000 / rate` ms (steady: each
 * on its own, whatever the previous one is doing) or as fast as `concurrency`
 * clients can (burst), and measures for each the time from its SCIM answer to
 * its visibility in the directory.
 */
export async function measureVisibility(options: {
  label: string;
  baseUrl: string;
  databaseUrl: string;
  writes: Write[];
  tokens: Map<string, string>;
  pace: { rate: number } | { concurrency: number };
  pollMs: number;
  waitSeconds: number;
  log: (m: string) => void;
}): Promise<{ result: VisibilityResult; outcomes: WriteOutcome[] }> {
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  const poller = new Poller(client, options.pollMs);
  const outcomes: WriteOutcome[] = [];
  const token = (w: Write) => options.tokens.get(w.tenantId) ?? '';
  try {
    poller.start();
    const started = performance.now();
    const record = (o: WriteOutcome) => {
      outcomes.push(o);
      poller.watch(o);
    };
    if ('rate' in options.pace) {
      const every = 1000 / options.pace.rate;
      const inFlight: Promise<void>[] = [];
      for (const [n, write] of options.writes.entries()) {
        const due = started + n * every;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        inFlight.push(send(options.baseUrl, write, token(write)).then(record));
      }
      await Promise.all(inFlight);
    } else {
      let next = 0;
      const worker = async () => {
        while (next < options.writes.length) {
          const write = options.writes[next++];
          if (write) record(await send(options.baseUrl, write, token(write)));
        }
      };
      await Promise.all(Array.from({ length: options.pace.concurrency }, worker));
    }
    const written = performance.now();
    const deadline = written + options.waitSeconds * 1000;
    while (poller.pending > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await poller.stop();
    const visibleTimes = outcomes.map((o) => o.visibleAt).filter((t): t is number => t !== undefined);
    const last = visibleTimes.length > 0 ? Math.max(...visibleTimes) : written;
    const breakdown = await databaseTimes(client, outcomes);
    const visibleOf = (list: WriteOutcome[]) =>
      spread(list.filter((o) => o.visibleAt !== undefined).map((o) => (o.visibleAt as number) - o.answeredAt));
    const result: VisibilityResult = {
      label: options.label,
      writes: outcomes.length,
      failed: outcomes.filter((o) => o.status >= 300 || o.version === undefined).length,
      unseen: outcomes.filter((o) => o.status < 300 && o.visibleAt === undefined).length,
      writeSeconds: (Math.max(...outcomes.map((o) => o.answeredAt)) - started) / 1000,
      drainSeconds: (last - started) / 1000,
      scim: spread(outcomes.map((o) => o.answeredAt - o.sentAt)),
      visible: visibleOf(outcomes),
      byKind: {
        create: visibleOf(outcomes.filter((o) => o.write.kind === 'create')),
        join: visibleOf(outcomes.filter((o) => o.write.kind === 'join')),
        patch: visibleOf(outcomes.filter((o) => o.write.kind === 'patch')),
      },
      relay: spread(breakdown.relay),
      projection: spread(breakdown.projection),
      maxOutbox: poller.maxOutbox,
      maxInbox: poller.maxInbox,
    };
    const bad = outcomes.find((o) => o.status >= 300);
    if (bad) options.log(`  a write answered ${bad.status}: ${bad.write.method} ${bad.write.path}`);
    return { result, outcomes };
  } finally {
    await poller.stop();
    await client.end();
  }
}

/**
 * The hub's own timestamps of each write: its outbox event's `created_at`
 * (stamped in the write's transaction) and `dispatched_at` (the relay's step),
 * and the projected account's `updated_at` (the projector's clock when it
 * projected it). All three come from the hub process's clock.
 */
async function databaseTimes(client: pg.Client, outcomes: WriteOutcome[]): Promise<{ relay: number[]; projection: number[] }> {
  const seen = outcomes.filter((o) => o.userId !== undefined && o.version !== undefined);
  const { rows } = await client.query<{ created: number; dispatched: number | null; projected: number | null }>(
    `select extract(epoch from e.created_at) * 1000 as created, extract(epoch from e.dispatched_at) * 1000 as dispatched,
            extract(epoch from a.updated_at) * 1000 as projected
       from unnest($1::uuid[], $2::text[], $3::int[]) as w(tenant_id, user_id, version)
       join outbox_event e on e.tenant_id = w.tenant_id and e.resource_type = 'User' and e.resource_id = w.user_id
                          and e.resource_version = w.version and e.type like 'user.%'
       left join directory_account a on a.tenant_id = w.tenant_id and a.user_id::text = w.user_id`,
    [seen.map((o) => o.write.tenantId), seen.map((o) => o.userId), seen.map((o) => o.version)],
  );
  const relay: number[] = [];
  const projection: number[] = [];
  for (const r of rows) {
    if (r.dispatched === null) continue;
    relay.push(Number(r.dispatched) - Number(r.created));
    if (r.projected !== null) projection.push(Number(r.projected) - Number(r.dispatched));
  }
  return { relay, projection };
}
