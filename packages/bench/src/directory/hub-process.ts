import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, hubHeapFlags } from '../servers.js';

/** A process the bench started; `stop` ends exactly that process. */
export interface BenchProcess {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** What every hub process of one run shares: a data directory of its own, keys, the admin token. */
export interface HubEnvironment {
  env: Record<string, string>;
  adminToken: string;
  close(): Promise<void>;
}

/** A fresh data directory and keys, so the hub never touches the checkout's `.meridian/`. */
export async function hubEnvironment(logLevel: string): Promise<HubEnvironment> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meridian-bench-directory-'));
  const adminToken = randomBytes(24).toString('hex');
  return {
    adminToken,
    env: {
      MERIDIAN_DATA_DIR: dataDir,
      MERIDIAN_SECRET_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      MERIDIAN_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
      MERIDIAN_ADMIN_TOKEN: adminToken,
      LOG_LEVEL: logLevel,
      REDIS_URL: '',
      // The bench measures capacity, not the abuse limits.
      MERIDIAN_RATE_LIMIT_PER_TOKEN: '0',
      MERIDIAN_RATE_LIMIT_PER_TENANT: '0',
      MERIDIAN_RATE_LIMIT_PER_IP: '0',
    },
    close: () => rm(dataDir, { recursive: true, force: true }),
  };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** Spawns `script` with node and waits until `ready` answers below 500. */
export async function spawnServer(options: {
  script: string;
  args: string[];
  env: Record<string, string>;
  readyPath: string;
  /** Node's own flags (the hub's heap sizes). */
  nodeArgs?: string[];
}): Promise<BenchProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script, ...options.args], {
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1', MERIDIAN_PUBLIC_URL: `http://localhost:${port}` },
    // Request logs go to /dev/null: pino still formats every line, as in production.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const stop = stopper(child);
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.script} exited with code ${child.exitCode}:\n${stderr}`);
    try {
      const response = await fetch(`${url}${options.readyPath}`);
      await response.arrayBuffer();
      if (response.status < 500) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${options.script} did not come up within 90 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid, stop };
}

/** Starts the built hub, `meridian serve --role <role>`, on `databaseUrl`. */
export function startHubProcess(hub: HubEnvironment, role: 'api' | 'all', databaseUrl: string): Promise<BenchProcess> {
  return spawnServer({
    script: fileURLToPath(new URL('main.js', import.meta.resolve('@meridian/hub'))),
    args: ['serve', '--role', role],
    env: { ...hub.env, DATABASE_URL: databaseUrl },
    readyPath: '/healthz',
    nodeArgs: hubHeapFlags(),
  });
}
