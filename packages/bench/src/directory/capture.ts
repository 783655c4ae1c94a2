import { SqlCapture } from '@meridian/test-utils';
import { type HubEnvironment, startHubProcess } from './hub-process.js';
import { postGraphql, type QueryScenario } from './queries.js';

/** The statements one request of each scenario sent to PostgreSQL, with the answer it gave. */
export interface CapturedQuery {
  statements: string[];
  people: number;
  errors: string[];
}

/**
 * Runs `meridian serve --role api` through a recording proxy (SqlCapture) and
 * lists the statements one request of each scenario sent, after a warm-up
 * request of the same kind. It waits until the hub's start-up work (the audit
 * checkpoint sweep, 4 statements per tenant) is over first, and repeats a
 * request whose window caught background statements.
 */
export async function captureStatements(
  hub: HubEnvironment,
  databaseUrl: string,
  token: string,
  scenarios: QueryScenario[],
): Promise<Map<string, CapturedQuery>> {
  const target = new URL(databaseUrl);
  const capture = new SqlCapture(target.hostname, Number(target.port || 5432));
  const port = await capture.listen();
  const proxied = new URL(databaseUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  const server = await startHubProcess(hub, 'api', proxied.toString());
  const found = new Map<string, CapturedQuery>();
  try {
    await quiet(capture, 1_500, 60_000);
    for (const scenario of scenarios) {
      await postGraphql(server.url, token, scenario.body);
      for (let attempt = 1; ; attempt++) {
        await quiet(capture, 300, 10_000);
        const since = performance.now();
        const answer = await postGraphql(server.url, token, scenario.body);
        await new Promise((r) => setTimeout(r, 150));
        const statements = capture.since(since);
        const background = statements.some((s) => /\baudit_/.test(s));
        if (!background || attempt === 3) {
          found.set(scenario.key, { statements, people: answer.people, errors: answer.errors });
          break;
        }
      }
    }
  } finally {
    await server.stop();
    await capture.close();
  }
  return found;
}

/** Waits until the proxy saw no statement for `ms` (at most `limit` ms). */
async function quiet(capture: SqlCapture, ms: number, limit: number): Promise<void> {
  const deadline = performance.now() + limit;
  for (;;) {
    const last = capture.statements.at(-1)?.at ?? 0;
    if (performance.now() - last >= ms || performance.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
