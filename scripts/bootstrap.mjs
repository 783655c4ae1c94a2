#!/usr/bin/env node
// Entry point of `npm start` and `npm test` on a machine that has only Node (20 or
// newer) and npm: installs the workspace with the pinned pnpm, then runs the
// pnpm script, which puts the project's own Node 24 (the `node` devDependency)
// first on PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PNPM = 'pnpm@12.21.0';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const scripts = { start: 'hub', test: 'test:all' };
const [task, ...rest] = process.argv.slice(2);
const script = scripts[task];
if (!script) {
  console.error(`usage: node scripts/bootstrap.mjs ${Object.keys(scripts).join('|')} [args]`);
  process.exit(2);
}

function pnpm(args) {
  const result = spawnSync('npx', ['--yes', PNPM, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', npm_config_update_notifier: 'false' },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

const installed = existsSync(join(root, 'node_modules', '.modules.yaml'));
const status = pnpm(['install', '--frozen-lockfile', ...(installed ? ['--prefer-offline'] : [])]);
if (status !== 0) process.exit(status);
process.exit(pnpm(['run', script, ...rest]));
