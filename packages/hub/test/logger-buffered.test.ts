import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

// `meridian serve` writes its log lines asynchronously (runtime/logger.ts, `buffered`): lines are gathered and go out
// together. A process that exits, by process.exit as the hub's stop does, still writes them all; a line logged alone
// in a process that goes on goes out without waiting for others.

const logger = join(import.meta.dirname, '..', 'dist', 'runtime', 'logger.js');

/** Runs `body` in a fresh Node process with `log`, the buffered hub logger at info, and answers its standard output. */
function run(body: string): string {
  const script = `import { createHubLogger } from ${JSON.stringify(logger)};
    const log = createHubLogger({ logLevel: 'info' }, { buffered: true });
    ${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

describe('the buffered logger of meridian serve', () => {
  it('writes every line logged before process.exit, in order', () => {
    const out = run(`for (let i = 0; i < 20000; i++) log.info({ i }, 'line'); process.exit(0);`);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { i: number; msg: string });
    expect(lines).toHaveLength(20_000);
    expect(lines.every((l, k) => l.i === k && l.msg === 'line')).toBe(true);
  });

  it('writes a line logged alone while the process goes on, without waiting for more lines or the exit', async () => {
    const script = `import { createHubLogger } from ${JSON.stringify(logger)};
      const log = createHubLogger({ logLevel: 'info' }, { buffered: true });
      log.info('alone');
      setInterval(() => {}, 60_000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
        child.once('exit', (code) => reject(new Error(`The process exited (${code}) before writing its line.`)));
      });
      expect(JSON.parse(first.trim())).toMatchObject({ msg: 'alone' });
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('writes the lines of a process that ends on its own, and still redacts credentials', () => {
    const out = run(`log.info({ headers: { authorization: 'Bearer mrd_secret' } }, 'request'); setTimeout(() => {}, 10);`);
    expect(out).toContain('"msg":"request"');
    expect(out).not.toContain('mrd_secret');
  });
});
