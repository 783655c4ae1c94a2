// The whole test suite as a few jest runs one after the other (`--shard=i/n`),
// each in its own process. On a 2-core machine jest runs the tests in its own
// process (one worker or fewer means in band), and every test file that loads
// the hub leaves some memory behind in it (module graphs held by global
// registries), so one run over all ~150 files outgrew Node's default heap.
// A run given test paths, a name pattern or its own --shard is run as asked,
// in one process. MERIDIAN_TEST_SHARDS sets the number of parts (default 3).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const jest = fileURLToPath(new URL('../node_modules/jest/bin/jest.js', import.meta.url));
const args = process.argv.slice(2);
const shards = Number(process.env.MERIDIAN_TEST_SHARDS ?? 3);
// Options that take a value as the next argument, so that value is not read as a test path.
const valued = new Set(['-t', '--testNamePattern', '--selectProjects', '--maxWorkers', '-w', '--testTimeout', '--shard', '--config', '-c']);
const asked = args.some(
  (arg, i) =>
    (!arg.startsWith('-') && !valued.has(args[i - 1] ?? '')) ||
    arg.startsWith('--shard') ||
    arg === '-t' ||
    arg.startsWith('--testNamePattern'),
);

function run(extra) {
  const result = spawnSync(process.execPath, ['--experimental-vm-modules', jest, ...extra, ...args], { stdio: 'inherit' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (asked || !Number.isInteger(shards) || shards <= 1) {
  process.exit(run([]));
}
const failed = [];
for (let i = 1; i <= shards; i++) {
  console.log(`\n== Tests, part ${i} of ${shards}\n`);
  if (run([`--shard=${i}/${shards}`, '--passWithNoTests']) !== 0) failed.push(i);
}
if (failed.length > 0) {
  console.error(`\nTest part(s) ${failed.join(', ')} of ${shards} failed; their summaries are above.`);
  process.exit(1);
}
console.log(`\nAll ${shards} test parts passed.`);
