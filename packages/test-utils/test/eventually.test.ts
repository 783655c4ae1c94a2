import { describe, expect, it } from '@jest/globals';
import { eventually } from '@meridian/test-utils';

describe('eventually', () => {
  it('polls until the probe answers a value, and resolves with it', async () => {
    let calls = 0;
    const value = await eventually('the third call', () => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
    expect(calls).toBe(3);
  });

  it('takes null and false for "not yet", and 0 or an empty string for values', async () => {
    const answers: unknown[] = [null, false, undefined, 0];
    expect(await eventually('a zero', () => answers.shift() as number | null | false | undefined, { intervalMs: 1 })).toBe(0);
    expect(answers).toEqual([]);
    expect(await eventually('an empty string', () => '')).toBe('');
  });

  it('waits on async probes, and counts a probe that throws or rejects as "not yet"', async () => {
    let calls = 0;
    const value = await eventually(
      'the row',
      async () => {
        calls++;
        if (calls === 1) throw new Error('relation does not exist yet');
        expect(calls).toBeGreaterThan(2);
        return 'row';
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('row');
    expect(calls).toBe(3);
  });

  it('names the condition, the last answer, the last error and the explanation when it times out', async () => {
    let calls = 0;
    const failure = eventually(
      'the replica to catch up',
      () => {
        calls++;
        if (calls === 1) throw new Error('connection refused');
        return false;
      },
      { timeoutMs: 100, intervalMs: 10, explain: () => 'replay lsn 0/3000060' },
    );
    await expect(failure).rejects.toThrow(/^Timed out waiting for the replica to catch up \(\d+ ms, \d+ tries\)\.$/m);
    const error = (await failure.catch((e: unknown) => e)) as Error;
    const lines = error.message.split('\n');
    expect(lines.slice(1)).toEqual(['The last try answered false.', 'Try 1 threw: Error: connection refused', 'replay lsn 0/3000060']);
    expect(error.cause).toEqual(new Error('connection refused'));
    // One call at the start and a last one once the time is up, at least.
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('reports the error of the last call when that one threw, and survives an explain() that throws', async () => {
    const failure = eventually(
      'slapd listening',
      async () => {
        throw new Error('slapd exited (1)');
      },
      {
        timeoutMs: 0,
        explain: async () => {
          throw new Error('no log');
        },
      },
    );
    const error = (await failure.catch((e: unknown) => e)) as Error;
    expect(error.message.split('\n')).toEqual([
      expect.stringMatching(/^Timed out waiting for slapd listening \(\d+ ms, 1 try\)\.$/),
      'The last try threw: Error: slapd exited (1)',
      '(explain() threw: Error: no log)',
    ]);
  });
});
