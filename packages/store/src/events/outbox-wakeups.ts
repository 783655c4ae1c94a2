import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';

/** The channel the `outbox_event` trigger notifies at each commit that wrote events (migration 20261207620000). */
const OUTBOX_CHANNEL = 'meridian_outbox';

/** The channel of the event streams' work (migration 20261210000000, ADR 0037): the stream inbox, SETs, asynchronous requests. */
export const STREAMS_CHANNEL = 'meridian_streams';

/** After a lost connection, the next attempt waits this long, doubling up to {@link MAX_RECONNECT_MS}. */
const FIRST_RECONNECT_MS = 250;
const MAX_RECONNECT_MS = 10_000;

/**
 * One dedicated `LISTEN meridian_outbox` connection of a process (ADR 0024):
 * calls `onCommit` whenever a transaction that wrote outbox events commits,
 * in any process. A lost connection is opened again (backing off), and
 * `onCommit` runs once it is back, since notifications sent meanwhile are
 * lost. `listening` says whether a notification can arrive now: the relay
 * polls fast while it cannot. The event streams' loops listen the same way on
 * {@link STREAMS_CHANNEL}.
 */
export class OutboxWakeups {
  private client: pg.Client | undefined;
  private closed = false;
  private delay = FIRST_RECONNECT_MS;
  private timer: NodeJS.Timeout | undefined;
  listening = false;

  private constructor(
    private readonly config: pg.ClientConfig,
    private readonly onCommit: () => void,
    private readonly onError: (error: Error) => void,
    private readonly channel: string,
  ) {}

  /** Starts listening with the ORM's connection settings (its URL and role); resolves once the first attempt settled. */
  static async start(
    orm: MikroORM,
    onCommit: () => void,
    onError: (error: Error) => void = () => {},
    channel: string = OUTBOX_CHANNEL,
  ): Promise<OutboxWakeups> {
    const url = orm.config.get('clientUrl');
    if (url === undefined) throw new TypeError('The ORM has no URL to listen with.');
    const driver = orm.config.get('driverOptions') as { options?: string } | undefined;
    const wakeups = new OutboxWakeups(
      {
        connectionString: url,
        ...(driver?.options ? { options: driver.options } : {}),
        application_name: `${process.env.PGAPPNAME ?? 'meridian'}:${channel === OUTBOX_CHANNEL ? 'outbox' : 'streams'}-listen`.slice(0, 63),
        keepAlive: true,
      },
      onCommit,
      onError,
      channel,
    );
    await wakeups.connect();
    return wakeups;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client(this.config);
    this.client = client;
    client.on('notification', () => this.onCommit());
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error(`The ${this.channel} listening connection ended.`)));
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
      if (this.closed || this.client !== client) return;
      this.listening = true;
      this.delay = FIRST_RECONNECT_MS;
      // Whatever committed while nobody listened: look now.
      this.onCommit();
    } catch (error) {
      this.lost(client, error instanceof Error ? error : new Error(String(error)));
    }
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = false;
    client.removeAllListeners('end');
    client.on('error', () => {});
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.onError(error);
    this.timer = setTimeout(() => void this.connect(), this.delay);
    this.timer.unref();
    this.delay = Math.min(MAX_RECONNECT_MS, this.delay * 2);
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => undefined);
    }
  }
}
