import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdminService,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type RequestContext,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import { Argon2PasswordHasher, PostgresAdminStore, PostgresDirectoryStore } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

const run = promisify(execFile);

/** RFC 8785 canonical JSON for what the audit log holds (strings, integers, booleans, null, objects, arrays), written independently of the hub. */
function canonicalize(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalize(object[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
// A fixed Ed25519 seed (base64 of 32 bytes), as an operator would configure it.
const SIGNING_KEY = Buffer.alloc(32, 7).toString('base64');
const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'req-audit-cli', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };

let db: TestDatabase;
let dataDir: string;
let emea: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'meridian-audit-'));
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  const resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context);
  emea = (await admin.createTenant(platform, { slug: 'emea', name: 'EMEA', community: 'coi' }, context)).id;
  await admin.createTenant(platform, { slug: 'apac', name: 'APAC', community: 'coi' }, context);
  for (let i = 1; i <= 9; i++) {
    await resources.create(
      scimCaller(emea),
      emea,
      'User',
      { schemas: [SCHEMA.user], userName: `user${i}@emea`, ...(i === 1 ? { password: 'Secret-Passw0rd!' } : {}) },
      context,
    );
  }
});
afterAll(() => db.close());

async function meridian(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        LOG_LEVEL: 'silent',
        MERIDIAN_DATA_DIR: dataDir,
        MERIDIAN_AUDIT_SIGNING_KEY: SIGNING_KEY,
        ...env,
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Line {
  chain: string;
  seq: number;
  action: string;
  diff: { before: unknown; after: Record<string, unknown> | null } | null;
  createdAt: string;
  hash: string;
  [key: string]: unknown;
}

describe('meridian audit', () => {
  it('verify exits 0 on intact chains and names them', async () => {
    const { code, stdout } = await meridian(['audit', 'verify']);
    expect(code).toBe(0);
    expect(stdout).toContain('platform: ok (1 entries, last seq 1, no checkpoint)');
    expect(stdout).toContain('tenant emea: ok (10 entries, last seq 10, no checkpoint)');
    expect(stdout).toContain('tenant apac: ok (1 entries');
    expect(stdout).toContain('3 chain(s) verified: ok.');
  });

  it('export writes one JSON object per line that matches the rows and whose hash anyone can recompute', async () => {
    const { code, stdout } = await meridian(['audit', 'export', '--tenant', 'emea']);
    expect(code).toBe(0);
    const lines = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    const rows = await db.query<{ seq: string; action: string; hash: string; created_at: Date }>(
      'select seq, action, hash, created_at from audit_event where chain = $1 order by seq',
      [emea],
    );
    expect(lines.map((l) => [l.seq, l.action, l.hash, l.createdAt])).toEqual(
      rows.map((r) => [Number(r.seq), r.action, r.hash, new Date(r.created_at).toISOString()]),
    );
    for (const line of lines) {
      const { hash, ...hashed } = line;
      expect(createHash('sha256').update(canonicalize(hashed)).digest('hex')).toBe(hash);
    }
    expect(stdout).not.toContain('Secret-Passw0rd!');

    const since = lines[5]?.createdAt as string;
    const later = await meridian(['audit', 'export', '--tenant', 'emea', '--since', since]);
    expect(
      later.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as Line).seq)[0],
    ).toBeLessThanOrEqual(6);
    const none = await meridian(['audit', 'export', '--tenant', 'emea', '--until', '2000-01-01T00:00:00Z']);
    expect(none.stdout).toBe('');
    const bad = await meridian(['audit', 'export', '--tenant', 'emea', '--since', 'yesterday']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--since must be an ISO 8601 date-time');
    const unknown = await meridian(['audit', 'export', '--tenant', 'nope']);
    expect(unknown.stderr).toContain("Tenant 'nope' not found.");
  });

  it('checkpoint signs every chain once, and checkpoints exports them with the public key', async () => {
    const first = await meridian(['audit', 'checkpoint']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('tenant emea: checkpoint at 10');
    const again = await meridian(['audit', 'checkpoint', '--json']);
    expect(JSON.parse(again.stdout).map((o: { status: string }) => o.status)).toEqual(['current', 'current', 'current']);

    const exported = JSON.parse((await meridian(['audit', 'checkpoints', '--json'])).stdout) as {
      publicKey: string;
      keyId: string;
      checkpoints: {
        chain: string;
        tenant: string | null;
        seq: number;
        hash: string;
        createdAt: string;
        keyId: string;
        signature: string;
      }[];
    };
    const emeaCheckpoint = exported.checkpoints.find((c) => c.tenant === 'emea');
    expect(emeaCheckpoint).toMatchObject({ chain: emea, seq: 10, keyId: exported.keyId });
    for (const c of exported.checkpoints) {
      const payload = canonicalize({ chain: c.chain, seq: c.seq, hash: c.hash, createdAt: c.createdAt, keyId: c.keyId });
      expect(verifySignature(null, Buffer.from(payload), createPublicKey(exported.publicKey), Buffer.from(c.signature, 'base64'))).toBe(
        true,
      );
    }
    await writeFile(join(dataDir, 'anchors.json'), JSON.stringify(exported));
  });

  it('verify exits 1 and names each break after tampering in PostgreSQL', async () => {
    await db.query(`update audit_event set diff = jsonb_set(diff, '{after,userName}', '"mallory@emea"') where chain = $1 and seq = 3`, [
      emea,
    ]);
    await db.query('delete from audit_event where chain = $1 and seq in (5, 6)', [emea]);
    await db.query('delete from audit_event where chain = $1 and seq = 10', [emea]);
    const { code, stdout } = await meridian(['audit', 'verify', '--tenant', 'emea']);
    expect(code).toBe(1);
    expect(stdout.trimEnd().split('\n')).toEqual([
      'tenant emea: entry 3 modified',
      'tenant emea: entries 5-6 deleted',
      'tenant emea: tail deleted: checkpoint at 10 but the chain ends at 9',
      '1 of 1 chain(s) have breaks.',
    ]);

    const asJson = await meridian(['audit', 'verify', '--json']);
    expect(asJson.code).toBe(1);
    const report = JSON.parse(asJson.stdout) as {
      ok: boolean;
      chains: { tenantSlug: string | null; ok: boolean; breaks: { kind: string }[] }[];
    };
    expect(report.ok).toBe(false);
    expect(report.chains.filter((c) => !c.ok).map((c) => [c.tenantSlug, c.breaks.map((b) => b.kind)])).toEqual([
      ['emea', ['modified', 'deleted', 'truncated']],
    ]);

    const refused = await meridian(['audit', 'checkpoint']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('tenant emea: refused at 9: tail deleted: checkpoint at 10 but the chain ends at 9');
  });

  it('verify --anchors still sees a deleted tail when the checkpoint rows are deleted too', async () => {
    await db.query('delete from audit_checkpoint where chain = $1', [emea]);
    const without = await meridian(['audit', 'verify', '--tenant', 'emea']);
    expect(without.stdout).not.toContain('tail deleted');
    const anchored = await meridian(['audit', 'verify', '--tenant', 'emea', '--anchors', join(dataDir, 'anchors.json')]);
    expect(anchored.code).toBe(1);
    expect(anchored.stdout).toContain('tenant emea: tail deleted: checkpoint at 10 but the chain ends at 9');
  });

  it('prune needs a retention, and the signing key never shows in config check', async () => {
    const noRetention = await meridian(['audit', 'prune']);
    expect(noRetention.code).toBe(1);
    expect(noRetention.stderr).toContain('MERIDIAN_AUDIT_RETENTION_DAYS');
    const kept = await meridian(['audit', 'prune', '--json'], { MERIDIAN_AUDIT_RETENTION_DAYS: '30' });
    const outcome = JSON.parse(kept.stdout) as { chains: { chain: string; status: string }[] };
    // Nothing is 30 days old; the tampered chain is kept as evidence either way.
    expect(new Set(outcome.chains.map((c) => c.status))).toEqual(new Set(['kept']));

    const shown = await meridian(['config', 'check', '--json']);
    expect(JSON.parse(shown.stdout).audit).toEqual({
      signingKey: '[set]',
      checkpointEveryEntries: 1000,
      checkpointEveryMinutes: 60,
    });
    expect(shown.stdout).not.toContain(SIGNING_KEY);
    const badKey = await meridian(['audit', 'verify'], { MERIDIAN_AUDIT_SIGNING_KEY: 'not-a-key' });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('MERIDIAN_AUDIT_SIGNING_KEY');
    expect(badKey.stderr).not.toContain('not-a-key');
  });

  it('generates a signing key into the data directory (mode 0600) when none is configured', async () => {
    const own = await mkdtemp(join(tmpdir(), 'meridian-audit-key-'));
    const result = await meridian(['audit', 'checkpoints', '--json'], { MERIDIAN_AUDIT_SIGNING_KEY: '', MERIDIAN_DATA_DIR: own });
    expect(JSON.parse(result.stdout).publicKey).toBeNull();
    const signed = await meridian(['audit', 'checkpoint'], { MERIDIAN_AUDIT_SIGNING_KEY: '', MERIDIAN_DATA_DIR: own });
    expect(signed.stdout).toContain('platform: checkpoint at');
    const file = join(own, 'audit-signing-key.pem');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toContain('BEGIN PRIVATE KEY');
  });
});
