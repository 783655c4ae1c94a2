import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectorContext } from '@meridian/connector-sdk';
import { checkOutboundAddress, OutboundRefusedError, parseOutboundAllowList, systemClock } from '@meridian/core';
import { eventually } from '@meridian/test-utils';
import { Client } from 'ldapts';
import type { ConnectAddress } from '../src/index.js';

// A throwaway OpenLDAP slapd per test file: its own slapd.conf and mdb database in a temp dir, on a free
// loopback port, the schemas of the system's /etc/ldap/schema, a rootdn with a password, and optionally
// ldaps:// with a certificate from a test CA made here with openssl.

const SLAPD_CANDIDATES = ['/usr/sbin/slapd', '/usr/local/sbin/slapd', '/usr/local/libexec/slapd', '/usr/libexec/slapd'];
const SCHEMA_DIR = '/etc/ldap/schema';

export const BASE_DN = 'dc=example,dc=test';
export const ROOT_DN = `cn=admin,${BASE_DN}`;
export const ROOT_PASSWORD = 'slapd-test-secret';

/** A running test slapd. */
export interface Slapd {
  url: string;
  /** `ldaps://localhost:<port>` when started with TLS. */
  ldapsUrl: string | undefined;
  /** PEM of the test CA that signed the server certificate (with TLS). */
  caCertificate: string | undefined;
  dir: string;
  /** A bound admin client for fixtures (the test's own, not the connector's). */
  admin(): Promise<Client>;
  stop(): Promise<void>;
}

function slapdBinary(): string {
  const found = SLAPD_CANDIDATES.find((path) => existsSync(path));
  if (!found || !existsSync(join(SCHEMA_DIR, 'inetorgperson.schema'))) {
    throw new Error(
      'OpenLDAP slapd is not installed, so the LDAP tests cannot run. Install it with ' +
        '`apt-get install -y slapd ldap-utils` (Debian/Ubuntu; .ci/run does this) or `brew install openldap` ' +
        '(see docs/connector-ldap.md, "Running the tests").',
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
 * Waits up to 20 s until slapd accepts connections on `port`; a timeout shows slapd's output. A slapd that exited
 * makes the probe throw, so the error names its exit status; it is reported when the wait ends rather than at
 * once (a failed start costs 20 s), which keeps this a plain condition wait.
 */
async function listening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  await eventually(
    `slapd listening on port ${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`slapd exited (${child.exitCode})`);
      return await canConnect(port);
    },
    { timeoutMs: 20_000, explain: () => `slapd output:\n${log()}` },
  );
}

/** Makes a test CA and a server certificate for localhost and 127.0.0.1 with openssl; returns the paths. */
function makeTestCertificates(dir: string, subject = 'localhost'): { ca: string; cert: string; key: string; caKey: string } {
  const path = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Meridian Test CA',
  ]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', `/CN=${subject}`]);
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:${subject},IP:127.0.0.1\\n' > '${path('ext.cnf')}'`]);
  run([
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-out',
    path('server.pem'),
    '-days',
    '2',
    '-extfile',
    path('ext.cnf'),
  ]);
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server.key'), caKey: path('ca.key') };
}

/**
 * Starts slapd on free loopback ports with a fresh database holding only the
 * base entry. Throws a clear error when slapd is not installed.
 */
export async function startSlapd(options: { tls?: boolean } = {}): Promise<Slapd> {
  const binary = slapdBinary();
  const dir = await mkdtemp(join(tmpdir(), 'meridian-slapd-'));
  await mkdir(join(dir, 'data'));
  let tlsLines = '';
  let caCertificate: string | undefined;
  if (options.tls) {
    const certs = makeTestCertificates(dir);
    caCertificate = execFileSync('cat', [certs.ca], { encoding: 'utf8' });
    tlsLines = `TLSCACertificateFile ${certs.ca}\nTLSCertificateFile ${certs.cert}\nTLSCertificateKeyFile ${certs.key}\n`;
  }
  const conf = `include ${SCHEMA_DIR}/core.schema
include ${SCHEMA_DIR}/cosine.schema
include ${SCHEMA_DIR}/inetorgperson.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
${tlsLines}sizelimit unlimited
database mdb
maxsize 1073741824
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${dir}/data
index objectClass eq
index entryUUID eq
index uid,cn,mail eq
index member,uniqueMember eq
`;
  await writeFile(join(dir, 'slapd.conf'), conf);
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const urls = [`ldap://127.0.0.1:${port}/`, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])];
  let output = '';
  const child = spawn(binary, ['-d', '0', '-h', urls.join(' '), '-f', join(dir, 'slapd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await listening(port, child, () => output);
  if (tlsPort) await listening(tlsPort, child, () => output);
  const url = `ldap://127.0.0.1:${port}`;
  const admin = async () => {
    const client = new Client({ url });
    await client.bind(ROOT_DN, ROOT_PASSWORD);
    return client;
  };
  const setup = await admin();
  await setup.add(BASE_DN, { objectClass: ['dcObject', 'organization'], dc: 'example', o: 'Example' });
  await setup.unbind();
  return {
    url,
    ldapsUrl: tlsPort ? `ldaps://localhost:${tlsPort}` : undefined,
    caCertificate,
    dir,
    admin,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The hub's outbound policy for sockets, as the hub builds it: resolve the
 * name, check every address against the allow-list, connect to the first.
 */
export function policyAddress(allow: string): ConnectAddress {
  const list = parseOutboundAllowList(allow);
  return async (host) => {
    const addresses = (await lookup(host, { all: true })).map((a) => a.address).filter((a) => !a.includes(':'));
    for (const address of addresses) {
      const verdict = checkOutboundAddress(list, host, address);
      if (!verdict.allowed) throw new OutboundRefusedError(host, verdict, address);
    }
    return addresses[0] as string;
  };
}

/** A connector context for tests: a quiet logger and the system clock; `fetch` is never used by LDAP. */
export function testContext(): ConnectorContext {
  const quiet = () => undefined;
  return {
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    clock: systemClock,
    fetch: () => Promise.reject(new Error('the LDAP connector makes no HTTP requests')),
  };
}

/** Adds `ou=<name>` under the base DN (a container for users or groups). */
export async function addContainer(slapd: Slapd, name: string): Promise<string> {
  const dn = `ou=${name},${BASE_DN}`;
  const client = await slapd.admin();
  try {
    await client.add(dn, { objectClass: ['organizationalUnit'], ou: name });
  } finally {
    await client.unbind();
  }
  return dn;
}
