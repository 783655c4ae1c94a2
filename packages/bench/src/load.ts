import autocannon from 'autocannon';

/** One HTTP request of a scenario; `next` is called for every request sent. */
export interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  path: string;
  body?: string;
  /** The bearer token of this request, when it is not the run's (a scenario that spreads over tenants). */
  token?: string;
}

/** Throughput and latency of one closed-loop run. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  /** Non-2xx responses plus connection errors and timeouts. */
  errors: number;
  /** CPU milliseconds the server process spent per request (Linux). */
  serverCpuMs?: number;
  /** CPU milliseconds all PostgreSQL processes spent per request (Linux; includes anything else they did meanwhile). */
  postgresCpuMs?: number;
  /** Cores that other processes on the machine kept busy meanwhile (Linux): noise. */
  otherCores?: number;
}

/** The value below which `q` of the sorted samples fall (nearest rank). */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/**
 * Runs autocannon against `baseUrl` for `seconds` with `connections` concurrent
 * connections; every request is built by `next`. Latencies come from each
 * response (autocannon's own histogram has no p95).
 */
export async function runLoad(options: {
  baseUrl: string;
  token: string;
  connections: number;
  seconds: number;
  next: () => RequestSpec;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' };
  const headersOf = (token: string | undefined) => (token === undefined ? headers : { ...headers, authorization: `Bearer ${token}` });
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.baseUrl,
        connections: options.connections,
        duration: options.seconds,
        timeout: 30,
        requests: [
          {
            setupRequest: (request) => {
              const spec = options.next();
              return {
                ...request,
                method: spec.method,
                path: spec.path,
                headers: headersOf(spec.token),
                ...(spec.body === undefined ? {} : { body: spec.body }),
              };
            },
          },
        ],
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
  const requests = latencies.length;
  return {
    requests,
    seconds: result.duration,
    rps: requests / result.duration,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    statuses,
    errors: result.non2xx + result.errors,
  };
}
