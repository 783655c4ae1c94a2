import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import type { BaselineJob, BaselineWorkerConfig } from './baseline-worker.js';
import { type BackendConnection, openQueue } from './bullmq.js';
import { APP } from './hub.js';
import { wallNow } from './stats.js';
import { type Change, createBody, patchBody } from './workload.js';

/**
 * The bare BullMQ baseline: a Queue per target in the bench process (the
 * producer) and a Worker per queue in a process of its own, each job one HTTP
 * write (POST of the user, or PATCH of the same two attributes the hub
 * changes) to the same kind of target. No database, no outbox, no
 * deduplication, no audit: the floor the hub's engine is compared with.
 */
export class Baseline {
  /** When `queue.add` returned for each (change, target). */
  readonly added = new Map<number, number[]>();
  private readonly queues: Queue<BaselineJob>[];
  private readonly keys = new Map<number, string>();
  private readonly users = new Map<number, number>();

  private child: ChildProcess | undefined;

  private constructor(
    private readonly config: BaselineWorkerConfig,
    queues: Queue<BaselineJob>[],
    private readonly run: string,
  ) {
    this.queues = queues;
  }

  /** Opens a queue per target and starts the worker process; resolves once its workers are connected. */
  static async start(
    connection: BackendConnection,
    downstreams: { url: string; token: string }[],
    concurrency: number,
    run: string,
  ): Promise<Baseline> {
    const suffix = randomBytes(4).toString('hex');
    const names = downstreams.map((_, k) => `bench-baseline-${suffix}-${k + 1}`);
    const queues = names.map((name) => openQueue<BaselineJob>(connection, name));
    await Promise.all(queues.map((q) => q.waitUntilReady()));
    const config: BaselineWorkerConfig = {
      connection,
      queues: downstreams.map((d, k) => ({ name: names[k] as string, url: d.url, token: d.token })),
      concurrency,
    };
    const baseline = new Baseline(config, queues, run);
    await baseline.startWorker();
    return baseline;
  }

  /** Starts the worker process (baseline-worker.ts); resolves when its workers are connected, with the time. */
  async startWorker(): Promise<number> {
    const child = fork(fileURLToPath(new URL('baseline-worker.js', import.meta.url)), [], {
      env: { ...process.env, BENCH_BASELINE: JSON.stringify(this.config), PGAPPNAME: APP.baseline },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The baseline worker did not start within 60 s:\n${stderr}`)), 60_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`The baseline worker exited with code ${code}:\n${stderr}`));
      });
    });
    this.child = child;
    return wallNow();
  }

  /** Stops the worker process (the queues stay). */
  async stopWorker(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.send({ stop: true });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The externalId of a change's user at the targets. */
  keyOf(seq: number): string | undefined {
    const user = this.users.get(seq);
    return user === undefined ? undefined : this.keys.get(user);
  }

  /** Adds one job per target for a change, as the relay does (one `add` each). */
  readonly apply = async (change: Change): Promise<void> => {
    let key = this.keys.get(change.user);
    if (key === undefined) {
      key = `baseline-${this.run}-${change.user}`;
      this.keys.set(change.user, key);
    }
    const data: BaselineJob = {
      seq: change.seq,
      user: change.user,
      key,
      op: change.op,
      body: change.op === 'create' ? { ...createBody(this.run, change), externalId: key } : patchBody(change),
    };
    this.users.set(change.seq, change.user);
    const times: number[] = [];
    await Promise.all(
      this.queues.map(async (queue, k) => {
        await queue.add('sync', data, { removeOnComplete: true, removeOnFail: { count: 1000 } });
        times[k] = wallNow();
      }),
    );
    this.added.set(change.seq, times);
  };

  /** Stops the worker process and removes the queues. */
  async stop(): Promise<void> {
    await this.stopWorker();
    for (const queue of this.queues) {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
  }
}
