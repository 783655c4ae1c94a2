import { createServer } from 'node:net';
import { type Principal, type RequestContext, STREAM_EVENT } from '@meridian/core';
import pg from 'pg';
import { type HubSetup, startWorker, type WorkerProcess } from '../replication/hub.js';

const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
const setup: RequestContext = { actor: { type: 'system', id: 'bench' }, requestId: 'bench-ssf-setup' };

/** The application_name of the hub's API process's connections (the worker's is the replication bench's). */
const API_APP = 'bench-hub-api';

/** The events every stream asks for: one SET per write (a create's or a PATCH's notice, RFC 9967 §2.3). */
const EVENTS = [STREAM_EVENT.createNotice, STREAM_EVENT.patchNotice];

/** A free TCP port of 127.0.0.1 (asked of the kernel, then released for the hub to bind). */
export function freePort(): Promise<number> {
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

/**
 * Points every hub process of the run at `port` (the issuer, and the poll
 * endpoint the streams name, are under the public URL) and lifts the rate
 * limits: the pollers all come from 127.0.0.1, well past the per-address budget.
 */
export function listenOn(hub: HubSetup, port: number): void {
  Object.assign(hub.env, {
    PORT: String(port),
    MERIDIAN_PUBLIC_URL: `http://127.0.0.1:${port}`,
    MERIDIAN_RATE_LIMIT_PER_TOKEN: '0',
    MERIDIAN_RATE_LIMIT_PER_TENANT: '0',
    MERIDIAN_RATE_LIMIT_PER_IP: '0',
  });
}

/** The hub's processes: `split` a worker and an API process, `all` one process doing both. */
export async function startHub(
  hub: HubSetup,
  topology: 'split' | 'all',
): Promise<{ worker: WorkerProcess; api: WorkerProcess | undefined }> {
  if (topology === 'all') return { worker: await startWorker(hub, undefined, undefined, { role: 'all' }), api: undefined };
  const api = await startWorker(hub, undefined, undefined, { role: 'api', env: { PGAPPNAME: API_APP } });
  try {
    return { worker: await startWorker(hub), api };
  } catch (error) {
    await api.stop();
    throw error;
  }
}

/** A receiver's stream, as the transmitter answered its creation (SSF 1.0 §8.1.1.1). */
export interface BenchStream {
  receiver: number;
  id: string;
  method: 'push' | 'poll';
  token: string;
  /** Where a poll receiver polls (the stream's `delivery.endpoint_url`). */
  pollUrl: string | undefined;
}

/**
 * Issues a community API token per receiver (`hr_reader`: `events.receive`
 * and `directory.read`, so its stream carries every User of the community;
 * a `relying_party` token gets no stream, docs/events.md) and has each create
 * its stream over HTTP: push to `pushUrls[k]/events`, or poll.
 */
export async function createStreams(hub: HubSetup, base: string, pushUrls: string[], polls: number): Promise<BenchStream[]> {
  const streams: BenchStream[] = [];
  const methods = [...pushUrls.map((url) => ({ url })), ...Array.from({ length: polls }, () => ({ url: undefined }))];
  for (const [receiver, { url }] of methods.entries()) {
    const { token } = await hub.runtime.admin.issueToken(platform, { community: 'bench', role: 'hr_reader' }, setup);
    const delivery = url === undefined ? { method: 'urn:ietf:rfc:8936' } : { method: 'urn:ietf:rfc:8935', endpoint_url: `${url}/events` };
    const response = await fetch(`${base}/oidc/bench/ssf/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ delivery, events_requested: EVENTS, description: `bench receiver ${receiver}` }),
    });
    const body = (await response.json()) as { stream_id?: string; delivery?: { endpoint_url?: string } };
    if (response.status !== 201 || !body.stream_id)
      throw new Error(`Creating stream ${receiver}: ${response.status} ${JSON.stringify(body)}`);
    streams.push({
      receiver,
      id: body.stream_id,
      method: url === undefined ? 'poll' : 'push',
      token,
      pollUrl: url === undefined ? body.delivery?.endpoint_url : undefined,
    });
  }
  return streams;
}

/** Per stream, what the hub's own counts say (pending, delivered, acknowledged, failed, dead), through the admin API. */
export async function streamCounts(hub: HubSetup): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const { counts } of await hub.runtime.streams.service.adminList(platform, 'bench')) {
    for (const [state, n] of Object.entries(counts)) totals[state] = (totals[state] ?? 0) + n;
  }
  return totals;
}

/**
 * When the hub stored each SET (its producer step's clock), by jti, read as
 * the superuser after the phase: it splits commit → receipt into the
 * producer's part and delivery's. Read-only; undefined when the table is not
 * as this bench knows it.
 */
export async function storedAt(databaseUrl: string, jtis: string[]): Promise<Map<string, number> | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ jti: string; at: number }>(
      'select jti, extract(epoch from created_at) * 1000 as at from event_stream_set where jti = any($1::text[])',
      [jtis],
    );
    return new Map(rows.map((r) => [r.jti, Number(r.at)]));
  } catch {
    return undefined;
  } finally {
    await client.end();
  }
}
