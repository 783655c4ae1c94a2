import { SqlCapture } from '@meridian/test-utils';
import type { RequestSpec } from './load.js';
import { openStatementLog } from './pg-log.js';
import type { ServerProcess } from './servers.js';

/** One request through fetch: undefined when it succeeded, else the status and the SCIM detail. */
export async function probe(baseUrl: string, token: string, spec: RequestSpec): Promise<string | undefined> {
  const response = await fetch(`${baseUrl}${spec.path}`, {
    method: spec.method,
    headers: { authorization: `Bearer ${spec.token ?? token}`, 'content-type': 'application/scim+json' },
    ...(spec.body === undefined ? {} : { body: spec.body }),
  });
  const text = await response.text();
  if (response.status < 300) return undefined;
  try {
    return `${response.status} ${String((JSON.parse(text) as { detail?: unknown }).detail ?? text.slice(0, 200))}`;
  } catch {
    return `${response.status} ${text.slice(0, 200)}`;
  }
}

/** A request to record: `warm` first (a process's first request also fills caches and prepares statements), then `measured`. */
export interface Probe {
  name: string;
  warm: RequestSpec;
  measured: RequestSpec;
}

/** A server to record: how to start it on a database URL, and its requests. */
interface Recorded {
  label: string;
  start: (databaseUrl: string) => Promise<ServerProcess>;
  probes: Probe[];
}

/** What each server sent per request, by label and request name, and where it was read. */
interface Recording {
  source: string;
  statements: Map<string, Map<string, string[]>>;
}

const settle = () => new Promise((r) => setTimeout(r, 100));

/**
 * Waits (up to 30 s) until a second passes in which the server sent nothing: a
 * hub's start-up work (the audit checkpoint sweep of every tenant's chain) would
 * otherwise be listed as the statements of whichever request ran meanwhile.
 */
async function startUpDone(mark: () => Promise<number>, since: (mark: number) => Promise<string[]>): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const at = await mark();
    await new Promise((r) => setTimeout(r, 1_000));
    if ((await since(at)).length === 0) return;
  }
}

async function sendProbes(
  server: ServerProcess,
  token: string,
  probes: Probe[],
  mark: () => Promise<number>,
  since: (mark: number) => Promise<string[]>,
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  await startUpDone(mark, since);
  for (const { name, warm, measured } of probes) {
    await probe(server.url, token, warm);
    await settle();
    const at = await mark();
    await probe(server.url, token, measured);
    await settle();
    found.set(name, await since(at));
  }
  return found;
}

/**
 * Sends one request of each kind to each server and lists the statements each
 * request executed: from PostgreSQL's own log when the server writes one this
 * process can read (pg-log.ts), else through the recording proxy, which counts
 * every Execute of a prepared statement as well. The servers are started for
 * the recording (new connections, which the logging applies to) and stopped.
 */
export async function recordStatements(databaseUrl: string, database: string, token: string, servers: Recorded[]): Promise<Recording> {
  const statements = new Map<string, Map<string, string[]>>();
  const log = await openStatementLog(databaseUrl, database);
  if (log) {
    try {
      for (const { label, start, probes } of servers) {
        const server = await start(databaseUrl);
        try {
          statements.set(label, await sendProbes(server, token, probes, log.mark, log.since));
        } finally {
          await server.stop();
        }
      }
    } finally {
      await log.close();
    }
    return { source: `PostgreSQL's log (log_statement = 'all' for the bench database during the recording; ${log.source})`, statements };
  }
  for (const { label, start, probes } of servers) {
    const target = new URL(databaseUrl);
    const capture = new SqlCapture(target.hostname, Number(target.port || 5432));
    const proxied = new URL(databaseUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(await capture.listen());
    const server = await start(proxied.toString());
    try {
      const mark = async () => performance.now();
      statements.set(label, await sendProbes(server, token, probes, mark, async (at) => capture.since(at)));
    } finally {
      await server.stop();
      await capture.close();
    }
  }
  return {
    source: 'a recording proxy (SqlCapture: every simple query and every Execute), PostgreSQL writes no log file this process can read',
    statements,
  };
}
