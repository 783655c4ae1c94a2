import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** A server process the bench started; `stop` ends exactly that process. */
export interface ServerProcess {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

async function waitForHealth(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`The server exited with code ${child.exitCode}:\n${stderr()}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`The server at ${url} did not come up within 60 s:\n${stderr()}`);
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-4_000);
  });
  return () => text;
}

/**
 * The heap sizes every bench starts the hub with, as `npm start`, `pnpm hub` and the image do (docs/operations.md,
 * "Memory"; scripts/hub-heap-flags.mjs), unless NODE_OPTIONS sets others.
 */
export function hubHeapFlags(): string[] {
  const nodeOptions = process.env.NODE_OPTIONS ?? '';
  return [
    ...(/--max-old-space-size/.test(nodeOptions) ? [] : ['--max-old-space-size=192']),
    ...(/--max-semi-space-size/.test(nodeOptions) ? [] : ['--max-semi-space-size=16']),
  ];
}

/**
 * Node flags for the measured processes from the environment variable `name` (space-separated): for flags that
 * NODE_OPTIONS refuses, such as `--cpu-prof --cpu-prof-dir=/tmp/prof` (docs/benchmarks.md, "Profiling").
 */
function flagsOf(name: 'BENCH_HUB_NODE_FLAGS' | 'BENCH_SERVER_NODE_FLAGS'): string[] {
  return (process.env[name] ?? '').split(' ').filter(Boolean);
}

/** Starts `meridian serve --role api` (the built hub) on a free port. */
export async function startHub(options: { databaseUrl: string; logLevel: string; adminToken: string }): Promise<ServerProcess> {
  const port = await freePort();
  const main = fileURLToPath(new URL('main.js', import.meta.resolve('@meridian/hub')));
  const child = spawn(process.execPath, [...hubHeapFlags(), ...flagsOf('BENCH_HUB_NODE_FLAGS'), main, 'serve', '--role', 'api'], {
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      MERIDIAN_PUBLIC_URL: `http://localhost:${port}`,
      MERIDIAN_ADMIN_TOKEN: options.adminToken,
      LOG_LEVEL: options.logLevel,
      REDIS_URL: '',
      // The bench measures capacity, not the abuse limits: one token sends thousands of requests a second.
      MERIDIAN_RATE_LIMIT_PER_TOKEN: '0',
      MERIDIAN_RATE_LIMIT_PER_TENANT: '0',
      MERIDIAN_RATE_LIMIT_PER_IP: '0',
    },
    // Request logs go to /dev/null: pino still formats every line, as in production.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = collect(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(`${url}/healthz`, child, stderr);
  return { url, pid: child.pid, stop: stopper(child) };
}

/** Starts one of the bench's own servers (a compiled file next to this one) on a free port. */
async function startBenchServer(file: string, databaseUrl: string): Promise<ServerProcess> {
  const port = await freePort();
  const main = fileURLToPath(new URL(file, import.meta.url));
  const child = spawn(process.execPath, [...flagsOf('BENCH_SERVER_NODE_FLAGS'), main], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), BASE_URL: `http://localhost:${port}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = collect(child);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(`${url}/scim/v2/Users?count=0`, child, stderr);
  return { url, pid: child.pid, stop: stopper(child) };
}

/** Starts the same-SQL baseline (baseline-server.js) on a free port. */
export function startBaseline(options: { databaseUrl: string }): Promise<ServerProcess> {
  return startBenchServer('baseline-server.js', options.databaseUrl);
}

/** Starts the minimal baseline (minimal-server.js) on a free port; its functions must be installed (installMinimal). */
export function startMinimal(options: { databaseUrl: string }): Promise<ServerProcess> {
  return startBenchServer('minimal-server.js', options.databaseUrl);
}
