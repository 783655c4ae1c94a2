// The receivers of the SSF bench, in a process of their own (as a relying
// party's would be): one HTTP server per receiver, answering pushed SETs
// (RFC 8935) with 202 and the bare BullMQ baseline's writes with 201/200, and
// one long-polling client (RFC 8936) per poll stream, acknowledging what it got
// in its next request. Nothing is verified: the bench measures the transmitter,
// and a receiver's signature check costs the same behind either system. Each
// receipt is stamped with the wall clock when its request (or poll answer) was
// read. Configured by BENCH_SSF_RECEIVERS (JSON); talks to the parent over IPC.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { markerSeq } from '../replication/workload.js';

/** What the parent passes in BENCH_SSF_RECEIVERS. */
export interface ReceiverProcessConfig {
  servers: number;
  maxEvents: number;
}

/** One receipt: the receiver's index, the SET's jti (or the baseline job's change), what it is about, when. */
export type Receipt = [receiver: number, id: string, key: string, at: number];

export type ToReceivers =
  | { type: 'poll'; streams: { receiver: number; url: string; token: string }[] }
  | { type: 'count' }
  | { type: 'collect' }
  | { type: 'stop' };

export type FromReceivers =
  | { type: 'ready'; urls: string[] }
  | { type: 'polling' }
  | { type: 'count'; received: number; errors: number; lastError: string | undefined }
  | { type: 'collect'; receipts: Receipt[] };

const config = JSON.parse(process.env.BENCH_SSF_RECEIVERS ?? '{}') as ReceiverProcessConfig;
const now = () => performance.timeOrigin + performance.now();
let receipts: Receipt[] = [];
let errors = 0;
let lastError: string | undefined;

function failed(message: string): void {
  errors++;
  lastError = message;
}

/**
 * What a SET is about, read without verifying it: the resource and the
 * version its notice carries (RFC 9967 §2.3), which the bench maps to the write
 * that made it. Only the payload segment is decoded (RFC 7515 §3.1).
 */
function setReceipt(receiver: number, token: string, at: number): Receipt {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    jti: string;
    sub_id?: { id?: string };
    events?: Record<string, { version?: string }>;
  };
  const version = Object.values(payload.events ?? {}).find((e) => typeof e.version === 'string')?.version ?? '';
  return [receiver, payload.jti, `${payload.sub_id?.id ?? '?'}/${version.replace(/\D/g, '')}`, at];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** The baseline's change number of a SCIM create (its `title`) or PatchOp (the `title` operation). */
function baselineSeq(body: Record<string, unknown>): number | undefined {
  if ('title' in body) return markerSeq(body.title);
  const operations = (body.Operations ?? []) as { path?: string; value?: unknown }[];
  return markerSeq(operations.find((o) => o.path === 'title')?.value);
}

function receiverServer(receiver: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    void readBody(req).then(
      (body) => {
        const at = now();
        try {
          if (req.headers['content-type']?.startsWith('application/secevent+jwt')) {
            receipts.push(setReceipt(receiver, body, at));
            res.writeHead(202).end();
            return;
          }
          // The baseline: a SCIM create (answered with the id the worker uses for the update) or a PATCH.
          const parsed = JSON.parse(body) as Record<string, unknown>;
          const seq = baselineSeq(parsed);
          if (seq === undefined) throw new Error(`no bench marker in ${req.method} ${req.url}`);
          receipts.push([receiver, String(seq), `b${seq}`, at]);
          const reply = req.method === 'POST' ? { id: String(parsed.externalId ?? seq) } : {};
          res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/scim+json' }).end(JSON.stringify(reply));
        } catch (error) {
          failed(`receiver ${receiver}: ${(error as Error).message}`);
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"err":"invalid_request"}');
        }
      },
      (error: unknown) => failed(String(error)),
    );
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

let stopping = false;
const abort = new AbortController();

/**
 * One RFC 8936 poller: long polls (`returnImmediately` false), acknowledging
 * in each request the SETs of the answer before, until the bench stops it.
 */
async function poller(receiver: number, url: string, token: string): Promise<void> {
  let ack: string[] = [];
  const request = async (body: Record<string, unknown>, signal?: AbortSignal) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`poll ${response.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as { sets: Record<string, string>; moreAvailable?: boolean };
  };
  while (!stopping) {
    try {
      const answer = await request({ maxEvents: config.maxEvents, returnImmediately: false, ack }, abort.signal);
      const at = now();
      ack = Object.keys(answer.sets);
      for (const set of Object.values(answer.sets)) receipts.push(setReceipt(receiver, set, at));
    } catch (error) {
      if (stopping) break;
      failed(`poller ${receiver}: ${(error as Error).message}`);
      // A failing poll is retried after a pause, not in a tight loop.
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  // Acknowledges the last answer, so that nothing stays delivered-but-unacknowledged.
  if (ack.length > 0) await request({ maxEvents: 0, returnImmediately: true, ack }).catch(() => undefined);
}

const servers = await Promise.all(Array.from({ length: config.servers }, (_, k) => receiverServer(k)));
const pollers: Promise<void>[] = [];
const send = (message: FromReceivers) => process.send?.(message);

process.on('message', (message: ToReceivers) => {
  switch (message.type) {
    case 'poll':
      for (const s of message.streams) pollers.push(poller(s.receiver, s.url, s.token));
      send({ type: 'polling' });
      return;
    case 'count':
      send({ type: 'count', received: receipts.length, errors, lastError });
      return;
    case 'collect':
      send({ type: 'collect', receipts });
      receipts = [];
      return;
    case 'stop':
      void stop();
      return;
  }
});

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  abort.abort();
  await Promise.all(pollers);
  for (const { server } of servers) server.closeAllConnections();
  await Promise.all(servers.map(({ server }) => new Promise((r) => server.close(r))));
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
send({ type: 'ready', urls: servers.map((s) => s.url) });
