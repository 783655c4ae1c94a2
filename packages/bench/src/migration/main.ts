import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DirectoryCaller, principalOfRole, SCHEMA } from '@meridian/core';
import { loadConfig, openRuntime } from '@meridian/hub';
import pg from 'pg';

// `pnpm bench:migration` (issue 19): a tenant of N users (default 100,000) is exported with `meridian tenant export`
// and imported into a second hub database with `meridian tenant import`; users/s and the peak RSS of the CLI
// process doing the work (sampled from /proc) are measured, against the least work that moves the same rows, measured
// in the same run: `COPY … TO STDOUT` of the tenant's users (export) and `COPY … FROM STDIN` of them (import), both
// through psql. The peak memory at two sizes shows whether it grows with the tenant (it must not: both stream).

const main = fileURLToPath(new URL('../../../hub/dist/main.js', import.meta.url));
const system = { actor: { type: 'system' as const, id: 'bench' }, requestId: 'bench-migration' };
const platform = { kind: 'platform' as const, tokenId: 'bench', scopes: ['admin' as const] };

interface Options {
  users: number[];
  databaseUrl: string;
  concurrency: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    users: [100_000],
    databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    concurrency: 8,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--users' && value) {
      // `--users 20000` or `--users 2000,20000` (several sizes: the peak memory of each, to compare).
      options.users = value.split(',').map((n) => Number(n.replaceAll('_', '')));
      if (options.users.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--users is a count, or counts separated by commas.');
      i++;
    } else if (flag === '--concurrency' && value) {
      options.concurrency = Number(value);
      i++;
    } else if (flag === '--help') {
      process.stdout.write('pnpm bench:migration [--users 100000 | --users 2000,20000] [--concurrency 8]\n');
      process.exit(0);
    } else throw new Error(`Unknown option ${flag}.`);
  }
  return options;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  await admin(adminUrl, async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name}`);
  });
  return withDatabase(adminUrl, name);
}

/** A command's wall time and its peak resident memory, sampled from /proc every 50 ms (and VmHWM at the end). */
interface Measured {
  seconds: number;
  peakRssMb: number;
  stdout: string;
}

async function measure(command: string, args: string[], env: Record<string, string | undefined>, input?: string): Promise<Measured> {
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let peakKb = 0;
  const sample = async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      // VmHWM is the kernel's own high-water mark of the resident set: nothing between two samples is missed.
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // The process ended between two samples.
    }
  };
  const timer = setInterval(() => void sample(), 50);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  if (input !== undefined && child.stdin) child.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 2000)}`);
  return { seconds: (performance.now() - started) / 1000, peakRssMb: Math.round(peakKb / 102.4) / 10, stdout };
}

/** The environment of one hub (its database, keys, data directory); its queue on PostgreSQL, as the CLI needs none. */
function hubEnv(url: string, dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'REDIS_URL') env[key] = value;
  return {
    ...env,
    DATABASE_URL: url,
    MERIDIAN_DATA_DIR: dataDir,
    MERIDIAN_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    LOG_LEVEL: 'silent',
  };
}

/** Seeds the source hub: a community, the tenant, N users (a few attributes each) and 10 groups of 100 members. */
async function seed(url: string, dataDir: string, users: number, concurrency: number): Promise<{ tenantId: string; seconds: number }> {
  const started = performance.now();
  const runtime = await openRuntime(loadConfig(hubEnv(url, dataDir)), 'client');
  try {
    await runtime.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
    const tenantId = (await runtime.admin.createTenant(platform, { slug: 'bench', name: 'Bench', community: 'coi' }, system)).id;
    const caller: DirectoryCaller = { principal: principalOfRole('provisioner', { tenantId }), api: 'scim' };
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (;;) {
          const i = next++;
          if (i >= users) return;
          const created = await runtime.resources.create(
            caller,
            tenantId,
            'User',
            {
              schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
              userName: `user${i}@bench.example`,
              displayName: `User ${i}`,
              name: { givenName: 'User', familyName: String(i) },
              emails: [{ value: `user${i}@bench.example`, type: 'work', primary: true }],
              [SCHEMA.enterpriseUser]: { employeeNumber: String(100000 + i), department: `Dept ${i % 20}` },
            },
            system,
          );
          ids[i] = created.id;
          if (i % 5000 === 0) process.stderr.write(`  seeded ${i} users\n`);
        }
      }),
    );
    for (let g = 0; g < 10; g++) {
      await runtime.resources.create(
        caller,
        tenantId,
        'Group',
        { schemas: [SCHEMA.group], displayName: `Group ${g}`, members: ids.slice(g * 100, g * 100 + 100).map((value) => ({ value })) },
        system,
      );
    }
    return { tenantId, seconds: (performance.now() - started) / 1000 };
  } finally {
    await runtime.close();
  }
}

interface SizeResult {
  users: number;
  seedSeconds: number;
  fileMb: number;
  export: { seconds: number; usersPerSecond: number; peakRssMb: number };
  exportBaseline: { seconds: number; usersPerSecond: number; peakRssMb: number };
  import: { seconds: number; usersPerSecond: number; peakRssMb: number };
  importBaseline: { seconds: number; usersPerSecond: number; peakRssMb: number };
}

async function runSize(options: Options, users: number, work: string): Promise<SizeResult> {
  const source = await freshDatabase(options.databaseUrl, 'bench_migration_source');
  const target = await freshDatabase(options.databaseUrl, 'bench_migration_target');
  const sourceDir = join(work, 'source');
  const targetDir = join(work, 'target');
  process.stderr.write(`Seeding ${users} users...\n`);
  const seeded = await seed(source, sourceDir, users, options.concurrency);
  const file = join(work, 'tenant.ndjson');
  const rate = (m: Measured) => ({ seconds: round(m.seconds), usersPerSecond: Math.round(users / m.seconds), peakRssMb: m.peakRssMb });

  process.stderr.write('Export...\n');
  const exported = await measure(
    process.execPath,
    [main, 'tenant', 'export', '--tenant', 'bench', '--out', file, '--json'],
    hubEnv(source, sourceDir),
  );
  const baselineFile = join(work, 'users.copy');
  const copyOut = `\\copy (select * from scim_user where tenant_id = '${seeded.tenantId}' order by id) to '${baselineFile}'`;
  const exportBaseline = await measure('psql', [source, '-q', '-c', copyOut], process.env);

  process.stderr.write('Import...\n');
  // The receiving hub: the same tenant, empty (its id is the receiving hub's own).
  const receiving = await openRuntime(loadConfig(hubEnv(target, targetDir)), 'client');
  await receiving.admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, system);
  await receiving.admin.createTenant(platform, { slug: 'bench', name: 'Bench', community: 'coi' }, system);
  await receiving.close();
  const imported = await measure(
    process.execPath,
    [main, 'tenant', 'import', '--in', file, '--tenant', 'bench', '--json'],
    hubEnv(target, targetDir),
  );
  const report = JSON.parse(imported.stdout) as { created: { users: number } };
  if (report.created.users !== users) throw new Error(`The import created ${report.created.users} users, not ${users}.`);
  // The least work: the same rows into a table of the same shape, without constraints, triggers or audit.
  await admin(target, (c) => c.query('create table bench_user_copy (like scim_user)'));
  const importBaseline = await measure('psql', [target, '-q', '-c', `\\copy bench_user_copy from '${baselineFile}'`], process.env);

  return {
    users,
    seedSeconds: round(seeded.seconds),
    fileMb: round((await stat(file)).size / 1_048_576),
    export: rate(exported),
    exportBaseline: rate(exportBaseline),
    import: rate(imported),
    importBaseline: rate(importBaseline),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function run(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const results: SizeResult[] = [];
  for (const users of options.users) {
    const work = await mkdtemp(join(tmpdir(), 'meridian-bench-migration-'));
    try {
      results.push(await runSize(options, users, work));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  await admin(options.databaseUrl, async (c) => {
    await c.query('drop database if exists bench_migration_source with (force)');
    await c.query('drop database if exists bench_migration_target with (force)');
  });
  for (const r of results) {
    process.stdout.write(
      [
        `${r.users} users (seeded in ${r.seedSeconds} s; file ${r.fileMb} MB)`,
        `  export:  ${r.export.usersPerSecond} users/s (${r.export.seconds} s), peak RSS ${r.export.peakRssMb} MB`,
        `           baseline COPY TO: ${r.exportBaseline.usersPerSecond} users/s (${r.exportBaseline.seconds} s), psql peak RSS ${r.exportBaseline.peakRssMb} MB`,
        `  import:  ${r.import.usersPerSecond} users/s (${r.import.seconds} s), peak RSS ${r.import.peakRssMb} MB`,
        `           baseline COPY FROM: ${r.importBaseline.usersPerSecond} users/s (${r.importBaseline.seconds} s), psql peak RSS ${r.importBaseline.peakRssMb} MB`,
        '',
      ].join('\n'),
    );
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

run().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
