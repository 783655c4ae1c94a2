import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** What one run of the `meridian` CLI printed, and how it exited. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/**
 * Runs the built CLI (`dist/main.js`, as `pnpm meridian` does) with `env` over this process's environment, and
 * resolves with its exit code and output whatever the code. BullMQ runs on PostgreSQL unless `env` names a
 * `REDIS_URL`: the test run's own one is not passed on.
 */
export async function runMeridian(env: Record<string, string | undefined>, args: string[]): Promise<CliRun> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  if (env.REDIS_URL === undefined) delete childEnv.REDIS_URL;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [main, ...args], { env: childEnv, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
