import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { dataDirError, EmbeddedDatabaseError } from './embedded-errors.js';
import {
  ensureDatabase,
  freePort,
  initialiseCluster,
  isAlive,
  isPortFree,
  lastLine,
  logTail,
  readJson,
  runningPostmaster,
  sleep,
  spawnLogged,
  stopPostmaster,
  waitForExit,
  waitUntilReady,
} from './postgres-process.js';
import { accountCan, type Binaries, loadBinaries, reachableBinaries, STAGING_ROOT, serviceAccount } from './service-account.js';

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
