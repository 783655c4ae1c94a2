import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { chown, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EmbeddedDatabaseError } from './embedded-errors.js';
import type { Binaries, ServiceAccount } from './service-account.js';

// The PostgreSQL processes of the embedded database: initdb, the postmaster, its readiness and its stop.

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The pid and port of the postmaster running on `clusterDir`, when one is alive. */
export async function runningPostmaster(clusterDir: string): Promise<{ pid: number; port: number | undefined } | undefined> {
  try {
    const lines = (await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
    const pid = Number(lines[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    return { pid, port: Number(lines[3]) || undefined };
  } catch {
    return undefined;
  }
}

/** True when nothing listens on 127.0.0.1:`port`. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolvePort(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolvePort(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Options that every PostgreSQL process of the embedded server gets. */
function spawnOptions(account: ServiceAccount | undefined) {
  return {
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
    // Messages in English whatever the machine's locale: the hub reads them.
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
  };
}

export async function initialiseCluster(
  binaries: Binaries,
  clusterDir: string,
  password: string,
  account: ServiceAccount | undefined,
  logPath: string,
): Promise<void> {
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  if (account) await chown(clusterDir, account.uid, account.gid);
  const scratch = await mkdtempFor(account);
  const passwordFile = join(scratch, 'pwfile');
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (account) await chown(passwordFile, account.uid, account.gid);
    const args = [
      `--pgdata=${clusterDir}`,
      '--auth=scram-sha-256',
      '--username=postgres',
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
    ];
    const output = await waitForExit(spawnLogged(binaries.initdb, args, account, logPath));
    if (output.code !== 0) {
      const tail = await logTail(logPath);
      if (/No space left on device/i.test(tail)) throw new EmbeddedDatabaseError('DISK_FULL', `The disk holding ${clusterDir} is full.`);
      throw new EmbeddedDatabaseError('START_FAILED', `initdb failed (exit ${output.code ?? output.signal}): ${lastLine(tail)}`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A private scratch directory the service account can read (for initdb's password file). */
async function mkdtempFor(account: ServiceAccount | undefined): Promise<string> {
  const dir = join(tmpdir(), `meridian-pg-${randomBytes(6).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  if (account) await chown(dir, account.uid, account.gid);
  return dir;
}

/** Spawns a PostgreSQL program with its output appended to `logPath`, in a process group of its own. */
export function spawnLogged(command: string, args: string[], account: ServiceAccount | undefined, logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a', 0o600);
  try {
    // detached: Ctrl+C in the terminal signals the hub's process group, not PostgreSQL; the hub stops it in order.
    return spawn(command, args, { ...spawnOptions(account), detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }> {
  return new Promise((resolveExit) => {
    child.once('error', (error) => resolveExit({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
}

export async function logTail(logPath: string, bytes = 4096): Promise<string> {
  try {
    const handle = await open(logPath, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - bytes);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /FATAL|ERROR|PANIC|error/i.test(l));
  return lines.at(-1) ?? text.trim().split('\n').at(-1) ?? 'no output';
}

/** Polls until the server accepts a connection, or its process ends. */
export async function waitUntilReady(
  url: string,
  child: ChildProcess | undefined,
  exited: () => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) return false;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => {});
      await sleep(100);
    }
  }
  child?.kill('SIGQUIT');
  return false;
}

export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`create database ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

export async function stopPostmaster(pid: number, clusterDir: string): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
      return true;
    } catch {
      return false;
    }
  };
  if (!signal('SIGINT')) return; // PostgreSQL's "fast shutdown": active transactions roll back, the cluster is consistent.
  for (let i = 0; i < 300; i++) {
    if (!isAlive(pid) || (await runningPostmaster(clusterDir)) === undefined) return;
    await sleep(100);
  }
  signal('SIGQUIT'); // "immediate shutdown" after 30 s: recovery runs at the next start
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
}
