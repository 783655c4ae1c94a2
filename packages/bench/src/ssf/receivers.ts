import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromReceivers, Receipt, ReceiverProcessConfig, ToReceivers } from './receiver-process.js';

/** The receivers' process (receiver-process.ts), seen from the bench. */
export class Receivers {
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    /** The base URL of each receiver's HTTP server, by receiver index. */
    readonly urls: string[],
  ) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
  }

  static async start(config: ReceiverProcessConfig): Promise<Receivers> {
    const child = fork(fileURLToPath(new URL('receiver-process.js', import.meta.url)), [], {
      env: { ...process.env, BENCH_SSF_RECEIVERS: JSON.stringify(config) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const ready = await new Promise<FromReceivers>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The receivers did not start within 60 s:\n${stderr}`)), 60_000);
      child.once('message', (message: FromReceivers) => {
        clearTimeout(timer);
        resolve(message);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`The receivers exited with code ${code}:\n${stderr}`));
      });
    });
    if (ready.type !== 'ready') throw new Error(`The receivers said ${ready.type} first.`);
    return new Receivers(child, ready.urls);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private ask<T extends FromReceivers['type']>(message: ToReceivers, answer: T): Promise<Extract<FromReceivers, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: FromReceivers) => {
        if (reply.type !== answer) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(reply as Extract<FromReceivers, { type: T }>);
      };
      const onExit = (code: number | null) => {
        this.child.off('message', onMessage);
        reject(new Error(`The receivers exited with code ${code}:\n${this.stderr}`));
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(message);
    });
  }

  /** Starts a long-polling client per poll stream. */
  async poll(streams: { receiver: number; url: string; token: string }[]): Promise<void> {
    await this.ask({ type: 'poll', streams }, 'polling');
  }

  /** How many receipts (duplicates included) since the last collect, and the receivers' errors so far. */
  count(): Promise<{ received: number; errors: number; lastError: string | undefined }> {
    return this.ask({ type: 'count' }, 'count');
  }

  /** The receipts since the last collect (and forgets them). */
  async collect(): Promise<Receipt[]> {
    return (await this.ask({ type: 'collect' }, 'collect')).receipts;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies ToReceivers);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 35_000);
    await exited;
    clearTimeout(timer);
  }
}
