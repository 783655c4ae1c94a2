import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

// ADR 0036: with `--max-old-space-size=192` alone, V8 under the SCIM load stopped scavenging the young generation and
// ran full collections back to back (a third of the hub's CPU, 8 to 10 times its CPU per request). Every way this
// repository starts the hub must also give 16 MB semi-spaces; which one is missing is what these tests name.

const repo = join(import.meta.dirname, '..', '..', '..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

/** The flags `npm start` passes (scripts/bootstrap.mjs, through scripts/hub-heap-flags.mjs) for a NODE_OPTIONS. */
function bootstrapFlags(nodeOptions: string): string[] {
  const script = `import { hubHeapFlags } from ${JSON.stringify(join(repo, 'scripts', 'hub-heap-flags.mjs'))};
    console.log(JSON.stringify(hubHeapFlags(process.env.OPTIONS_UNDER_TEST)));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', OPTIONS_UNDER_TEST: nodeOptions },
    }),
  );
}

/** V8's heap limit in MB with these flags: the old generation plus three semi-spaces. */
function heapLimitMb(flags: string[]): number {
  const out = execFileSync(process.execPath, [...flags, '-e', "console.log(require('v8').getHeapStatistics().heap_size_limit)"], {
    encoding: 'utf8',
  });
  return Number(out) / 1024 / 1024;
}

const WANTED = ['--max-old-space-size=192', '--max-semi-space-size=16'];

describe('the hub starts with a young generation next to its heap limit: regression for "the heap limit stopped the young generation"', () => {
  it('npm start passes both sizes, and keeps either one that NODE_OPTIONS sets', () => {
    expect(bootstrapFlags('')).toEqual(WANTED);
    expect(bootstrapFlags('--max-old-space-size=512')).toEqual(['--max-semi-space-size=16']);
    expect(bootstrapFlags('--max-semi-space-size=32 --enable-source-maps')).toEqual(['--max-old-space-size=192']);
    expect(bootstrapFlags('--max-old-space-size=512 --max-semi-space-size=32')).toEqual([]);
  });

  it('pnpm hub passes both sizes', () => {
    const script = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.hub ?? '';
    for (const flag of WANTED) expect(script).toContain(` ${flag} `);
  });

  it("the container image's NODE_OPTIONS sets both sizes", () => {
    const env = /NODE_OPTIONS="([^"]*)"/.exec(read('infra/Dockerfile'))?.[1] ?? '';
    expect(env.split(/\s+/).sort()).toEqual([...WANTED].sort());
  });

  it("the benchmarks' hub gets both sizes", () => {
    const servers = read('packages/bench/src/servers.ts');
    for (const flag of WANTED) expect(servers).toContain(`'${flag}'`);
  });

  it('V8 takes the sizes: 192 MB of old generation and three 16 MB semi-spaces', () => {
    expect(heapLimitMb(WANTED)).toBe(192 + 3 * 16);
    expect(heapLimitMb(['--max-old-space-size=192', '--max-semi-space-size=8'])).toBe(192 + 3 * 8);
  });
});
