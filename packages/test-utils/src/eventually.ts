import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

/** What a probe answers while its condition does not hold yet. */
export type NotYet = undefined | null | false;

/** How long {@link eventually} waits, how often it looks, and what it adds to its timeout error. */
export interface EventuallyOptions {
  /** The bound on the whole wait, from the first call of the probe; 30 000 ms unless given. */
  timeoutMs?: number;
  /** The pause between the end of one call of the probe and the start of the next; 50 ms unless given. */
  intervalMs?: number;
  /**
   * Called once, when the wait timed out, for the state that explains it (a process's output, the rows the
   * probe read, the requests a fake received): its text ends the error message. An `explain` that throws
   * does not hide the timeout: its error is named in the message instead.
   */
  explain?: () => string | Promise<string>;
}

/**
 * Waits for a condition that something else (a worker, a child process, a replica, a browser) brings about,
 * by polling it, instead of sleeping for a fixed time.
 *
 * Calls `probe` at once, then again every `intervalMs` after the previous call ended, until it answers a
 * value other than `undefined`, `null` or `false`, and resolves with that value (`0`, `''` and `true` are
 * values). A probe that throws or rejects counts as "not yet", so it may read something that is not there
 * yet, or hold `expect(...)` assertions that fail until the condition holds. The probe is always called at
 * least once, and once more when `timeoutMs` has passed since the first call; if that last call does not
 * answer a value either, `eventually` rejects with an error that names `what`, the time waited, the number
 * of calls, the last answer, the last error the probe threw (its stack is the error's `cause`), and the text of `explain()`.
 *
 * A probe call that never settles is not cut short: the test's own timeout ends the test then.
 *
 * @param what - the condition, in words, as the error completes "Timed out waiting for …"
 * @param probe - answers the value waited for, or `undefined`/`null`/`false` (or throws) while it is not there
 * @returns the first value the probe answered
 *
 * @example
 * const link = await eventually('ada synced at the cloud', async () => {
 *   const [row] = await runtime.replication.resourceStatus(tenantId, 'User', ada);
 *   return row?.status === 'synced' ? row : undefined;
 * }, { timeoutMs: 20_000, explain: () => worker.output() });
 */
export async function eventually<T>(
  what: string,
  probe: () => T | NotYet | Promise<T | NotYet>,
  options: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 50;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let calls = 0;
  let lastAnswer: unknown;
  let lastError: unknown;
  let lastErrorCall = 0;
  for (;;) {
    calls++;
    try {
      const answer = await probe();
      if (answer !== undefined && answer !== null && answer !== false) return answer;
      lastAnswer = answer;
    } catch (error) {
      lastError = error;
      lastErrorCall = calls;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(intervalMs, left));
  }

  const lines = [`Timed out waiting for ${what} (${Date.now() - started} ms, ${calls} ${calls === 1 ? 'try' : 'tries'}).`];
  if (lastErrorCall === calls) lines.push(`The last try threw: ${describe(lastError)}`);
  else {
    lines.push(`The last try answered ${inspect(lastAnswer)}.`);
    if (lastErrorCall > 0) lines.push(`Try ${lastErrorCall} threw: ${describe(lastError)}`);
  }
  if (options.explain) {
    try {
      lines.push(await options.explain());
    } catch (error) {
      lines.push(`(explain() threw: ${describe(error)})`);
    }
  }
  throw new Error(lines.join('\n'), lastErrorCall > 0 ? { cause: lastError } : undefined);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : inspect(error);
}
