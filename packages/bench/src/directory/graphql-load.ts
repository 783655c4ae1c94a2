import autocannon from 'autocannon';
import { machineBusyMs, postgresCpuMs, postgresDelta, processCpuMs } from '../cpu.js';
import { type LoadResult, percentile } from '../load.js';
import type { BenchProcess } from './hub-process.js';
import { postGraphql } from './queries.js';

/** Latency of requests sent one at a time. */
export interface SequentialResult {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
}

/** Sends `samples` requests one after the other (at most for `maxSeconds`), after 5 warm-up requests. */
export async function sequential(
  baseUrl: string,
  path: string,
  token: string,
  body: string,
  samples: number,
  maxSeconds: number,
): Promise<SequentialResult> {
  for (let i = 0; i < 5; i++) await postGraphql(baseUrl, token, body, path);
  const times: number[] = [];
  let errors = 0;
  const deadline = performance.now() + maxSeconds * 1000;
  while (times.length < samples && (times.length < 20 || performance.now() < deadline)) {
    const answer = await postGraphql(baseUrl, token, body, path);
    if (answer.status !== 200 || answer.errors.length > 0) errors++;
    times.push(answer.ms);
  }
  times.sort((a, b) => a - b);
  return { n: times.length, p50: percentile(times, 0.5), p95: percentile(times, 0.95), p99: percentile(times, 0.99), errors };
}

/** A closed loop of `connections` clients posting the same GraphQL body for `seconds`. */
async function load(options: {
  baseUrl: string;
  path: string;
  token: string;
  body: string;
  connections: number;
  seconds: number;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.baseUrl}${options.path}`,
        method: 'POST',
        connections: options.connections,
        duration: options.seconds,
        timeout: 60,
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: options.body,
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
    });
  });
  latencies.sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stats.count ?? 0;
  return {
    requests: latencies.length,
    seconds: result.duration,
    rps: latencies.length / result.duration,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    statuses,
    errors: result.non2xx + result.errors,
  };
}

/**
 * One measured run against a server: a 2 s warm-up, then `seconds` of load,
 * with the CPU the server process and PostgreSQL spent per request (Linux
 * /proc) and how busy other processes kept the machine meanwhile.
 */
export async function measureLoad(
  server: BenchProcess,
  path: string,
  token: string,
  body: string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  await load({ baseUrl: server.url, path, token, body, connections, seconds: 2 });
  const cpuBefore = await processCpuMs(server.pid);
  const pgBefore = await postgresCpuMs();
  const busyBefore = await machineBusyMs();
  const selfBefore = process.cpuUsage();
  const result = await load({ baseUrl: server.url, path, token, body, connections, seconds });
  const self = process.cpuUsage(selfBefore);
  const busyAfter = await machineBusyMs();
  const cpuAfter = await processCpuMs(server.pid);
  const pgSpent = postgresDelta(pgBefore, await postgresCpuMs());
  if (result.requests > 0) {
    if (cpuBefore !== undefined && cpuAfter !== undefined) result.serverCpuMs = (cpuAfter - cpuBefore) / result.requests;
    if (pgSpent !== undefined) result.postgresCpuMs = pgSpent / result.requests;
  }
  if (busyBefore !== undefined && busyAfter !== undefined && cpuBefore !== undefined && cpuAfter !== undefined && pgSpent !== undefined) {
    const others = busyAfter - busyBefore - (cpuAfter - cpuBefore) - pgSpent - (self.user + self.system) / 1000;
    result.otherCores = Math.max(0, others) / (result.seconds * 1000);
  }
  return result;
}

/** The round with the most requests per second, with the lowest CPU per request of all rounds (contention only adds to it). */
export function bestRound(rounds: LoadResult[]): LoadResult {
  const [first, ...rest] = rounds;
  if (!first) throw new TypeError('--rounds is at least 1');
  const top = rest.reduce((a, b) => (b.rps > a.rps ? b : a), first);
  const lowest = (pick: (r: LoadResult) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? Math.min(...values) : undefined;
  };
  const serverCpuMs = lowest((r) => r.serverCpuMs);
  const postgresCpuMs = lowest((r) => r.postgresCpuMs);
  return { ...top, ...(serverCpuMs === undefined ? {} : { serverCpuMs }), ...(postgresCpuMs === undefined ? {} : { postgresCpuMs }) };
}
