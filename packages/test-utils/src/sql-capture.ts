import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** A statement a client sent, with when it was sent. */
export interface CapturedStatement {
  at: number;
  sql: string;
}

/**
 * A TCP proxy in front of PostgreSQL that records the SQL text of every Query
 * ('Q') and Parse ('P') message its clients send (PostgreSQL protocol 3). The
 * bench points one hub process at it to list the statements one request costs.
 */
export class SqlCapture {
  readonly statements: CapturedStatement[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

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

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private proxy(client: Socket): void {
    const upstream = createConnection({ host: this.host, port: this.port });
    this.sockets.add(client).add(upstream);
    let buffer = Buffer.alloc(0);
    let started = false;
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
          if (code !== 80877103 && code !== 80877104) started = true;
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0] ?? 0);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const body = buffer.subarray(5, 1 + length);
        if (type === 'Q') this.record(body.subarray(0, body.indexOf(0)).toString());
        if (type === 'P') {
          const nameEnd = body.indexOf(0);
          this.record(body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1)).toString());
        }
        buffer = buffer.subarray(1 + length);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
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
