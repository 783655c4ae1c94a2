import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ldapTool } from './ldap-tools.js';

// The bench's own throwaway OpenLDAP slapd (the connector's tests have theirs; the bench imports no test file):
// a slapd.conf and an mdb database in a temp dir, on a free loopback port, with the connector tests' indexes
// and the monitor backend, whose operation and connection counters say what a phase asked of the server.
// employeeNumber is indexed too: the target's match before each first push searches `(|(uid=…)(employeeNumber=…))`,
// and an OR with an unindexed term makes slapd test every entry of the container, once per new user.

const SLAPD_CANDIDATES = ['/usr/sbin/slapd', '/usr/local/sbin/slapd', '/usr/local/libexec/slapd', '/usr/libexec/slapd'];
const SCHEMA_DIR = '/etc/ldap/schema';

const BASE_DN = 'dc=bench,dc=test';
const ROOT_DN = `cn=admin,${BASE_DN}`;
/** Where every bench entry lives. */
export const PEOPLE_DN = `ou=people,${BASE_DN}`;

/** Operations a slapd completed, by kind, and connections it accepted (cn=Monitor). */
export interface SlapdCounters {
  operations: Record<string, number>;
  connections: number;
}

/** A running bench slapd. */
export interface Slapd {
  url: string;
  /** The root DN the tools and the hub bind as. */
  bindDn: string;
  pid: number | undefined;
  dir: string;
  /** The root password, in a file (the tools' `-y`), so that it shows in no process list. */
  passwordFile: string;
  /** The root password itself, for the hub's target and source (sealed there). */
  password: string;
  counters(): Promise<SlapdCounters>;
  stop(): Promise<void>;
}

function slapdBinary(): string {
  const found = SLAPD_CANDIDATES.find((path) => existsSync(path));
  if (!found || !existsSync(join(SCHEMA_DIR, 'inetorgperson.schema'))) {
    throw new Error(
      'OpenLDAP slapd is not installed, so the LDAP bench cannot run. Install it with ' +
        '`apt-get install -y slapd ldap-utils` (Debian/Ubuntu) or `brew install openldap` (see docs/connector-ldap.md).',
    );
  }
  return found;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts slapd on a free loopback port with a fresh database holding the
 * base entry and `ou=people`. Throws a clear error when slapd is not installed.
 */
export async function startSlapd(label: string, password: string): Promise<Slapd> {
  const binary = slapdBinary();
  const dir = await mkdtemp(join(tmpdir(), `meridian-bench-slapd-${label}-`));
  await mkdir(join(dir, 'data'));
  const passwordFile = join(dir, 'password');
  // The tools' -y sends the file's bytes as they are: no trailing newline.
  await writeFile(passwordFile, password, { mode: 0o600 });
  // rootpw in slapd.conf is the server's own secret; the file is readable by this user only.
  const conf = `include ${SCHEMA_DIR}/core.schema
include ${SCHEMA_DIR}/cosine.schema
include ${SCHEMA_DIR}/inetorgperson.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit unlimited
database mdb
maxsize 4294967296
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${password}
directory ${dir}/data
index objectClass eq
index entryUUID eq
index uid,cn,mail eq
index member,uniqueMember eq
index employeeNumber eq
database monitor
access to dn.subtree="cn=Monitor" by dn.exact="${ROOT_DN}" read by * none
`;
  await writeFile(join(dir, 'slapd.conf'), conf, { mode: 0o600 });
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(binary, ['-d', '0', '-h', `ldap://127.0.0.1:${port}/`, '-f', join(dir, 'slapd.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`slapd exited (${child.exitCode}) before it listened:\n${output}`);
    if (Date.now() > deadline) throw new Error(`slapd did not listen on port ${port} within 20 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = `ldap://127.0.0.1:${port}`;
  const slapd: Slapd = {
    url,
    bindDn: ROOT_DN,
    pid: child.pid,
    dir,
    passwordFile,
    password,
    async counters() {
      const text = await ldapTool(slapd, 'ldapsearch', [
        '-LLL',
        '-b',
        'cn=Monitor',
        '(|(objectClass=monitorOperation)(cn=Total))',
        'monitorOpCompleted',
        'monitorCounter',
      ]);
      const operations: Record<string, number> = {};
      let connections = 0;
      for (const block of text.stdout.split(/\n\n+/)) {
        const dn = /^dn: cn=([^,]+),cn=([^,]+),cn=Monitor$/im.exec(block);
        if (!dn) continue;
        const completed = /^monitorOpCompleted: (\d+)$/m.exec(block);
        const counter = /^monitorCounter: (\d+)$/m.exec(block);
        if (dn[2]?.toLowerCase() === 'operations' && completed) operations[(dn[1] as string).toLowerCase()] = Number(completed[1]);
        if (dn[2]?.toLowerCase() === 'connections' && dn[1]?.toLowerCase() === 'total' && counter) connections = Number(counter[1]);
      }
      return { operations, connections };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await ldapTool(
      slapd,
      'ldapadd',
      [],
      `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: Bench\n\n` +
        `dn: ${PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n\n`,
    );
  } catch (error) {
    await slapd.stop();
    throw error;
  }
  return slapd;
}

/**
 * What a phase asked of a slapd between two readings of its counters. A
 * reading is itself a connection, a bind, a search and an unbind; its bind
 * and its connection count in the reading, its search and unbind in the next
 * one: one of each is taken off.
 */
export function counterDelta(before: SlapdCounters, after: SlapdCounters): SlapdCounters {
  const own: Record<string, number> = { bind: 1, search: 1, unbind: 1 };
  const operations: Record<string, number> = {};
  for (const [name, n] of Object.entries(after.operations)) {
    const d = n - (before.operations[name] ?? 0) - (own[name] ?? 0);
    if (d > 0) operations[name] = d;
  }
  return { operations, connections: after.connections - before.connections - 1 };
}
