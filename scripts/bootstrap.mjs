#!/usr/bin/env node
// Entry point of `npm start` and `npm test` on a machine that has only Node (20 or
// newer) and npm: installs the workspace with the pinned pnpm, builds, then runs
// the hub (or the tests) on the project's own Node 24 (the `node` devDependency).
//
// `npm start` must behave like a service: the hub is this process's only child
// that matters, every SIGINT/SIGTERM reaches it once, and its exit status is ours.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubHeapFlags } from './hub-heap-flags.mjs';

const PNPM = 'pnpm@12.21.0';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tasks = { start: startHub, test: () => pnpm(['run', 'test:all', ...process.argv.slice(3)]) };
const task = tasks[process.argv[2]];
if (!task) {
  console.error(`usage: node scripts/bootstrap.mjs ${Object.keys(tasks).join('|')} [args]`);
  process.exit(2);
}

const quiet = { TURBO_TELEMETRY_DISABLED: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false' };

/** The project's Node 24 once installed; the running Node otherwise (Windows, or an install without it). */
function projectNode() {
  const candidate = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node.exe' : 'node');
  return existsSync(candidate) ? candidate : process.execPath;
}

/**
 * Runs a child to its end and resolves with its exit status. Signals to this
 * process reach the child exactly once: a Ctrl+C in a terminal reaches both
 * this process and npm (which forwards it again), so the copies of one SIGINT
 * that arrive together count once; a second Ctrl+C or SIGTERM is forwarded.
 */
function runChild(command, args, { detached = false, env = {} } = {}) {
  return new Promise((resolveStatus) => {
    const child = spawn(command, args, {
      cwd: root,
      stdio: 'inherit',
      // In a process group of its own the child hears signals only from us, once each.
      detached,
      env: { ...process.env, ...quiet, ...env },
    });
    let lastInterrupt = 0;
    const forward = (signal) => {
      if (signal === 'SIGINT') {
        const now = Date.now();
        if (now - lastInterrupt < 500) return;
        lastInterrupt = now;
      }
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, forward);
    child.on('error', (error) => {
      console.error(`error: cannot run ${command}: ${error.message}`);
      resolveStatus(1);
    });
    child.on('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      resolveStatus(code ?? (signal ? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1) : 1));
    });
  });
}

function pnpm(args) {
  return runChild(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--yes', PNPM, ...args]);
}

async function install() {
  const installed = existsSync(join(root, 'node_modules', '.modules.yaml'));
  return pnpm(['install', '--frozen-lockfile', ...(installed ? ['--prefer-offline'] : [])]);
}

async function startHub() {
  const built = await pnpm(['run', 'build:hub']);
  if (built !== 0) return built;
  const heap = hubHeapFlags(process.env.NODE_OPTIONS);
  return runChild(projectNode(), [...heap, join('packages', 'hub', 'dist', 'main.js'), 'serve', ...process.argv.slice(3)], {
    detached: process.platform !== 'win32',
  });
}

let status = await install();
if (status === 0) status = await task();
process.exit(status);
