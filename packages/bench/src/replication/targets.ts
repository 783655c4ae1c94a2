import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TargetRequest } from './target-process.js';

type Body<T> = T extends { id: number } ? Omit<T, 'id'> : never;

/** What the target process recorded for one target. */
export interface TargetDump {
  /** Acknowledged writes: [change seq (-1 without marker), wall-clock ms, method]. */
  acks: [number, number, string][];
  /** Every request as it arrived: [wall-clock ms, method, externalId of the user concerned or ''], in order. */
  arrivals: [number, string, string][];
  /** Requests by `METHOD status`. */
  counts: Record<string, number>;
  users: number;
}

/** The child process holding the downstream SCIM targets (target-process.ts). */
export class TargetProcess {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: { id: number; error?: string }) => {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(`target process: ${message.error}`));
      else waiter?.resolve(message as Record<string, unknown>);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.on('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`The target process exited (${code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Starts the process with `count` targets; returns it and each target's URL and token. */
  static async start(count: number): Promise<{ process: TargetProcess; targets: { url: string; token: string }[] }> {
    const child = fork(fileURLToPath(new URL('target-process.js', import.meta.url)), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
    });
    const process = new TargetProcess(child);
    const reply = await process.request({ type: 'start', count });
    return { process, targets: reply.targets as { url: string; token: string }[] };
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private request(body: Body<TargetRequest>): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...body, id });
    });
  }

  /** Forgets what was recorded (after the warm-up). */
  async reset(): Promise<void> {
    await this.request({ type: 'reset' });
  }

  /** Names the changes every target must end up holding (each user's last); returns how many each still lacks. */
  async expect(finals: number[]): Promise<number[]> {
    return (await this.request({ type: 'expect', finals })).open as number[];
  }

  /** How many of the expected changes each target still lacks. */
  async open(): Promise<number[]> {
    return (await this.request({ type: 'progress' })).open as number[];
  }

  async dump(): Promise<TargetDump[]> {
    return (await this.request({ type: 'dump' })).targets as TargetDump[];
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.request({ type: 'stop' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
