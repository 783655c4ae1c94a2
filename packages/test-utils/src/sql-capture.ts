import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A statement a client sent, with when it was sent. */
export interface CapturedStatement {
  at: number;
  sql: string;
}

/**
 * A TCP proxy in front of PostgreSQL that records every statement its clients
 * have executed (PostgreSQL protocol 3): the text of each simple Query ('Q'),
 * and for the extended protocol the text of the prepared statement ('P') once
 * per Execute ('E') of a portal bound ('B') to it, so a named statement
 * prepared once and executed a thousand times is recorded a thousand times.
 * The bench points one hub process at it to list the statements one request costs.
 */
export class SqlCapture {
  readonly statements: CapturedStatement[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** ReadyForQuery messages the server still owes: one per startup, simple Query and extended-protocol Sync. */
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Listens on a free port of 127.0.0.1; returns it. */
  async listen(): Promise<number> {
    this.server = createServer((client) => this.proxy(client));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Statements sent from `since` on. */
  since(since: number): string[] {
    return this.statements.filter((s) => s.at >= since).map((s) => s.sql);
  }

  /**
   * Resolves once the server has answered everything the clients sent (a
   * ReadyForQuery for every startup, Query and Sync), so no statement of a
   * finished request is still on its way to {@link statements}.
   */
  quiet(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private proxy(client: Socket): void {
    const upstream = createConnection({ host: this.host, port: this.port });
    this.sockets.add(client).add(upstream);
    let buffer = Buffer.alloc(0);
    let started = false;
    // Per connection: prepared statements by name, and what each portal is bound to.
    const prepared = new Map<string, string>();
    const portals = new Map<string, string>();
    let answerBytes = 0;
    let owed = 0;
    const owe = (n: number) => {
      owed += n;
      this.owe(n);
    };
    let fromServer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          // Startup, SSLRequest and GSSENCRequest carry no type byte.
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code !== 80877103 && code !== 80877104) {
            started = true;
            owe(1);
          } else {
            // The server answers an SSLRequest or GSSENCRequest with one byte, not a message.
            answerBytes++;
          }
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0] ?? 0);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        if (type === 'Q' || type === 'S') owe(1);
        if (type === 'Q') this.record(body.subarray(0, body.indexOf(0)).toString());
        if (type === 'P') {
          // Parse: statement name, then its text. The unnamed statement ('') is replaced by the next Parse.
          const nameEnd = body.indexOf(0);
          prepared.set(body.subarray(0, nameEnd).toString(), body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString());
        }
        if (type === 'B') {
          // Bind: portal name, then the statement name.
          const portalEnd = body.indexOf(0);
          const statement = body.subarray(portalEnd + 1, body.indexOf(0, portalEnd + 1)).toString();
          portals.set(body.subarray(0, portalEnd).toString(), prepared.get(statement) ?? `(prepared statement ${statement})`);
        }
        if (type === 'E') {
          const sql = portals.get(body.subarray(0, body.indexOf(0)).toString());
          if (sql !== undefined) this.record(sql);
        }
        if (type === 'C' && body[0] === 0x53) prepared.delete(body.subarray(1, body.indexOf(0, 1)).toString());
        buffer = buffer.subarray(1 + length);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      fromServer = Buffer.concat([fromServer, chunk]);
      for (;;) {
        if (answerBytes > 0) {
          if (fromServer.length < 1) return;
          fromServer = fromServer.subarray(1);
          answerBytes--;
          continue;
        }
        if (fromServer.length < 5) return;
        const length = fromServer.readInt32BE(1);
        if (fromServer.length < 1 + length) return;
        if (fromServer[0] === 0x5a && owed > 0) owe(-1); // 'Z', ReadyForQuery
        fromServer = fromServer.subarray(1 + length);
      }
    });
    const end = () => {
      owe(-owed); // a closed connection owes nothing more
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  private owe(n: number): void {
    this.inFlight += n;
    if (this.inFlight === 0) for (const resolve of this.waiting.splice(0)) resolve();
  }

  private record(sql: string): void {
    // Token hashes stay out of the report, even a bench token's.
    const text = sql
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/'[0-9a-f]{64}'/g, "'…'");
    this.statements.push({ at: performance.now(), sql: text });
  }
}
