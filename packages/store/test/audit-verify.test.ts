import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdminService,
  type AuditBreak,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type RequestContext,
  ResourceService,
  SCHEMA,
  systemClock,
} from '@meridian/core';
import {
  Argon2PasswordHasher,
  type AuditHashInput,
  generateAuditSigningKey,
  hashAuditEntry,
  PostgresAdminStore,
  PostgresAuditLog,
  PostgresDirectoryStore,
  signCheckpoint,
  staticAuditKeyring,
  verifyAuditChain,
} from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

const context: RequestContext = { actor: { type: 'cli', id: 'test' }, requestId: 'req-audit', sourceAddress: '127.0.0.1' };
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };
const key = generateAuditSigningKey();

let db: TestDatabase;
let admin: AdminService;
let resources: ResourceService;
let log: PostgresAuditLog;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  resources = new ResourceService(new PostgresDirectoryStore(db.orm, systemClock), new Argon2PasswordHasher());
  log = new PostgresAuditLog(db.orm, systemClock, { keyring: staticAuditKeyring(key) });
  await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context);
});

afterAll(() => db.close());

/** A tenant whose chain has exactly `entries` entries: tenant.created, then user.created. */
async function chainOf(slug: string, entries: number): Promise<string> {
  const tenant = await admin.createTenant(platform, { slug, name: slug, community: 'coi' }, context);
  for (let i = 1; i < entries; i++) {
    await resources.create(
      scimCaller(tenant.id),
      tenant.id,
      'User',
      { schemas: [SCHEMA.user], userName: `u${i}@${slug}`, displayName: `User ${i}` },
      context,
    );
  }
  return tenant.id;
}

async function verify(chain: string) {
  const [result] = await log.verify({ chain });
  if (!result) throw new Error('no result');
  return result;
}

const messages = (breaks: AuditBreak[]) => breaks.map((b) => b.message);

interface Row {
  id: string;
  chain: string;
  seq: string;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string;
  action: string;
  resource_type: string;
  resource_id: string;
  request_id: string;
  source_address: string | null;
  diff: Record<string, unknown> | null;
  created_at: Date;
  prev_hash: string;
  hash: string;
}

async function row(chain: string, seq: number): Promise<Row> {
  const [found] = await db.query<Row>('select * from audit_event where chain = $1 and seq = $2', [chain, seq]);
  if (!found) throw new Error(`no entry ${seq}`);
  return found;
}

function hashInput(r: Row, changes: Partial<AuditHashInput> = {}): AuditHashInput {
  return {
    chain: r.chain,
    seq: Number(r.seq),
    tenantId: r.tenant_id,
    actorType: r.actor_type,
    actorId: r.actor_id,
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    requestId: r.request_id,
    sourceAddress: r.source_address,
    diff: r.diff,
    createdAt: new Date(r.created_at).toISOString(),
    prevHash: r.prev_hash,
    ...changes,
  };
}

/** Inserts a row as an attacker with database access would, bypassing the hub. */
async function forge(entry: AuditHashInput, hash: string): Promise<void> {
  await db.query(
    `insert into audit_event (chain, seq, tenant_id, actor_type, actor_id, action, resource_type, resource_id, request_id,
       source_address, diff, created_at, prev_hash, hash)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      entry.chain,
      entry.seq,
      entry.tenantId,
      entry.actorType,
      entry.actorId,
      entry.action,
      entry.resourceType,
      entry.resourceId,
      entry.requestId,
      entry.sourceAddress,
      JSON.stringify(entry.diff),
      entry.createdAt,
      entry.prevHash,
      hash,
    ],
  );
}

describe('audit chain verification', () => {
  it('accepts an intact chain written through the services', async () => {
    const chain = await chainOf('intact', 12);
    const result = await verify(chain);
    expect(result).toMatchObject({ chain, tenantSlug: 'intact', ok: true, entriesChecked: 12, lastSeq: 12, breaks: [] });
    const all = await log.verify();
    expect(all.every((r) => r.ok)).toBe(true);
    expect(all.map((r) => r.tenantSlug)).toEqual(expect.arrayContaining([null, 'intact']));
  });

  it('names a modified entry', async () => {
    const chain = await chainOf('modified', 10);
    await db.query(`update audit_event set diff = jsonb_set(diff, '{after,displayName}', '"Mallory"') where chain = $1 and seq = 7`, [
      chain,
    ]);
    const result = await verify(chain);
    expect(result.ok).toBe(false);
    expect(result.breaks).toEqual([{ kind: 'modified', fromSeq: 7, toSeq: 7, message: 'entry 7 modified' }]);
    expect(result.lastSeq).toBe(10);
  });

  it('names a modified entry whose hash was recomputed to hide it', async () => {
    const chain = await chainOf('rehashed', 10);
    const original = await row(chain, 4);
    const forged = hashInput(original, { actorId: 'somebody-else' });
    await db.query('update audit_event set actor_id = $3, hash = $4 where chain = $1 and seq = $2', [
      chain,
      4,
      'somebody-else',
      hashAuditEntry(forged),
    ]);
    expect(messages((await verify(chain)).breaks)).toEqual([
      'entry 4 modified: its hash was recomputed; entry 5 still points to the original',
    ]);
  });

  it('names deleted entries, one or a range', async () => {
    const chain = await chainOf('deleted', 16);
    await db.query('delete from audit_event where chain = $1 and seq = 5', [chain]);
    await db.query('delete from audit_event where chain = $1 and seq in (12, 13)', [chain]);
    const result = await verify(chain);
    expect(result.breaks).toEqual([
      { kind: 'deleted', fromSeq: 5, toSeq: 5, message: 'entry 5 deleted' },
      { kind: 'deleted', fromSeq: 12, toSeq: 13, message: 'entries 12-13 deleted' },
    ]);
    expect(result.lastSeq).toBe(16);
    expect(result.entriesChecked).toBe(13);
  });

  it('names a forged entry appended after the chain', async () => {
    const chain = await chainOf('appended', 6);
    const last = await row(chain, 6);
    await forge(hashInput(last, { seq: 7, actorId: 'ghost', prevHash: 'f'.repeat(64) }), 'e'.repeat(64));
    expect((await verify(chain)).breaks).toEqual([{ kind: 'inserted', fromSeq: 7, toSeq: 7, message: 'entry 7 inserted' }]);
  });

  it('names a forged entry inserted in the middle, and the entries renumbered to make room', async () => {
    const chain = await chainOf('inserted', 24);
    // Make room at 20 the way an attacker must (seq is unique per chain), then insert a well-formed forgery there.
    await db.query('update audit_event set seq = -seq where chain = $1 and seq >= 20', [chain]);
    await db.query('update audit_event set seq = -seq + 1 where chain = $1 and seq < 0', [chain]);
    const predecessor = await row(chain, 19);
    const forged = hashInput(predecessor, { seq: 20, actorId: 'ghost', prevHash: predecessor.hash, requestId: 'forged' });
    await forge(forged, hashAuditEntry(forged));
    const result = await verify(chain);
    expect(messages(result.breaks)).toEqual(['entry 20 inserted', 'entries 21-25 renumbered: written as 20-24']);
    expect(result.breaks.map((b) => b.kind)).toEqual(['inserted', 'renumbered']);
    expect(result.lastSeq).toBe(24);
  });

  it('names two entries whose seqs were swapped', async () => {
    const chain = await chainOf('swapped', 10);
    await db.query('update audit_event set seq = -1 where chain = $1 and seq = 5', [chain]);
    await db.query('update audit_event set seq = 5 where chain = $1 and seq = 6', [chain]);
    await db.query('update audit_event set seq = 6 where chain = $1 and seq = -1', [chain]);
    expect((await verify(chain)).breaks).toEqual([
      { kind: 'reordered', fromSeq: 5, toSeq: 6, message: 'entries 5-6 reordered: entry 5 was written as 6, 6 as 5' },
    ]);
  });

  it('names entries swapped further apart', async () => {
    const chain = await chainOf('far-swap', 12);
    await db.query('update audit_event set seq = -1 where chain = $1 and seq = 3', [chain]);
    await db.query('update audit_event set seq = 3 where chain = $1 and seq = 9', [chain]);
    await db.query('update audit_event set seq = 9 where chain = $1 and seq = -1', [chain]);
    expect(messages((await verify(chain)).breaks)).toEqual(['entries 3-9 reordered: entry 3 was written as 9, 9 as 3']);
  });

  it('names a deleted entry when the rest were renumbered to hide the gap', async () => {
    const chain = await chainOf('closed-gap', 10);
    await db.query('delete from audit_event where chain = $1 and seq = 4', [chain]);
    await db.query('update audit_event set seq = seq - 1 where chain = $1 and seq > 4', [chain]);
    expect(messages((await verify(chain)).breaks)).toEqual(['entry 4 deleted', 'entries 4-9 renumbered: written as 5-10']);
  });

  it('names a tail deleted after a signed checkpoint', async () => {
    const chain = await chainOf('tail', 31);
    const outcomes = await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    expect(outcomes.find((o) => o.chain === chain)).toMatchObject({ status: 'created', seq: 31 });
    const [checkpoint] = await log.checkpoints(chain);
    expect(checkpoint).toMatchObject({ chain, seq: 31, keyId: key.keyId });

    await db.query('delete from audit_event where chain = $1 and seq >= 30', [chain]);
    const result = await verify(chain);
    expect(result.breaks).toEqual([
      { kind: 'truncated', fromSeq: 30, toSeq: 31, message: 'tail deleted: checkpoint at 31 but the chain ends at 29' },
    ]);
    expect(result.lastCheckpoint).toMatchObject({ seq: 31, keyId: key.keyId });

    // The hub never signs over a broken chain.
    const refused = await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    expect(refused.find((o) => o.chain === chain)).toMatchObject({ status: 'refused', seq: 29 });
  });

  it('names a tail deleted after a checkpoint even when the checkpoint rows were deleted too, given the exported copy', async () => {
    const chain = await chainOf('anchored', 8);
    await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    const exported = await log.checkpoints(chain);
    await db.query('delete from audit_checkpoint where chain = $1', [chain]);
    await db.query('delete from audit_event where chain = $1 and seq = 8', [chain]);
    expect((await verify(chain)).ok).toBe(true);
    const [result] = await log.verify({ chain, anchored: { publicKey: key.publicPem, checkpoints: exported } });
    expect(messages(result?.breaks ?? [])).toEqual(['tail deleted: checkpoint at 8 but the chain ends at 7']);
  });

  it('rejects a forged checkpoint signature and a checkpoint from another key', async () => {
    const chain = await chainOf('forged-cp', 6);
    await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    // A forger moves the checkpoint back to cover a deleted tail; the old signature no longer fits.
    await db.query('update audit_checkpoint set seq = 5, hash = $2 where chain = $1', [chain, (await row(chain, 5)).hash]);
    const intruder = generateAuditSigningKey();
    const foreign = signCheckpoint(intruder, { chain, seq: 6, hash: (await row(chain, 6)).hash, createdAt: new Date() });
    await db.query('insert into audit_checkpoint (chain, seq, hash, created_at, key_id, signature) values ($1, $2, $3, $4, $5, $6)', [
      chain,
      foreign.seq,
      foreign.hash,
      foreign.createdAt,
      foreign.keyId,
      foreign.signature,
    ]);
    const result = await verify(chain);
    expect(result.breaks).toEqual([
      { kind: 'forged_checkpoint', fromSeq: 5, toSeq: 5, message: 'checkpoint at 5 has an invalid signature' },
      {
        kind: 'forged_checkpoint',
        fromSeq: 6,
        toSeq: 6,
        message: `checkpoint at 6 is signed by an unknown key ${intruder.keyId}`,
      },
    ]);
    expect(result.lastCheckpoint).toBeNull();
  });

  it('names every break of a chain tampered in several ways', async () => {
    const chain = await chainOf('several', 31);
    await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    await db.query(`update audit_event set action = 'user.deleted' where chain = $1 and seq = 7`, [chain]);
    await db.query('delete from audit_event where chain = $1 and seq in (12, 13)', [chain]);
    await db.query('delete from audit_event where chain = $1 and seq >= 30', [chain]);
    const last = await row(chain, 29);
    await forge(hashInput(last, { seq: 30, prevHash: 'a'.repeat(64) }), 'b'.repeat(64));
    expect(messages((await verify(chain)).breaks)).toEqual([
      'entry 7 modified',
      'entries 12-13 deleted',
      'entry 30 inserted',
      'tail deleted: checkpoint at 31 but the chain ends at 29',
    ]);
  });

  it('reports a tenant whose whole chain was deleted', async () => {
    const chain = await chainOf('emptied', 3);
    await db.query('delete from audit_event where chain = $1', [chain]);
    expect(messages((await verify(chain)).breaks)).toEqual(['entry 1 deleted: the chain is empty']);
  });
});

describe('checkpoints', () => {
  it('are idempotent and follow the policy', async () => {
    const chain = await chainOf('policy', 3);
    const first = await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    expect(first.find((o) => o.chain === chain)?.status).toBe('created');
    const again = await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    expect(again.find((o) => o.chain === chain)?.status).toBe('current');
    await resources.create(scimCaller(chain), chain, 'User', { schemas: [SCHEMA.user], userName: 'late@policy' }, context);
    const notDue = await log.checkpoint({ everyEntries: 5, everyMs: 3_600_000 });
    expect(notDue.find((o) => o.chain === chain)).toMatchObject({ status: 'current', seq: 4 });
    const due = await log.checkpoint({ everyEntries: 5, everyMs: 0 });
    expect(due.find((o) => o.chain === chain)).toMatchObject({ status: 'created', seq: 4 });
    expect((await log.checkpoints(chain)).map((c) => c.seq)).toEqual([3, 4]);
  });

  it('carry a signature anyone can check with the exported public key', async () => {
    const { verify: verifySignature, createPublicKey } = await import('node:crypto');
    const canonicalize = (await import('canonicalize')).default;
    const [checkpoint] = await log.checkpoints();
    const exported = await log.publicKey();
    expect(exported?.keyId).toBe(key.keyId);
    if (!checkpoint || !exported) throw new Error('no checkpoint');
    const payload = canonicalize({
      chain: checkpoint.chain,
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      createdAt: checkpoint.createdAt.toISOString(),
      keyId: checkpoint.keyId,
    });
    const ok = verifySignature(
      null,
      Buffer.from(payload ?? ''),
      createPublicKey(exported.pem),
      Buffer.from(checkpoint.signature, 'base64'),
    );
    expect(ok).toBe(true);
  });
});

describe('retention', () => {
  it('prunes up to a signed checkpoint, keeps it as the anchor, records the prune, and the rest still verifies', async () => {
    const chain = await chainOf('retained', 9);
    await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    await resources.create(scimCaller(chain), chain, 'User', { schemas: [SCHEMA.user], userName: 'after@retained' }, context);

    const outcomes = await log.prune(new Date(Date.now() + 60_000), context);
    expect(outcomes.find((o) => o.chain === chain)).toMatchObject({ status: 'pruned', anchorSeq: 9, deletedEntries: 9 });
    const left = await db.query<{ seq: string; action: string }>('select seq, action from audit_event where chain = $1 order by seq', [
      chain,
    ]);
    expect(left.map((r) => [Number(r.seq), r.action])).toEqual([
      [10, 'user.created'],
      [11, 'audit.pruned'],
    ]);
    const result = await verify(chain);
    expect(result).toMatchObject({ ok: true, anchor: { seq: 9 }, lastSeq: 11, breaks: [] });

    // New writes continue the chain after the prune.
    await resources.create(scimCaller(chain), chain, 'User', { schemas: [SCHEMA.user], userName: 'later@retained' }, context);
    expect(await verify(chain)).toMatchObject({ ok: true, lastSeq: 12 });

    // An attacker who removes the anchor cannot pass the pruned chain off as complete.
    await db.query('delete from audit_anchor where chain = $1', [chain]);
    expect(messages((await verify(chain)).breaks)).toEqual(['entries 1-9 deleted']);
  });

  it('keeps chains without a checkpoint old enough, and refuses to prune away evidence', async () => {
    const chain = await chainOf('evidence', 5);
    expect((await log.prune(new Date(Date.now() + 60_000), context)).find((o) => o.chain === chain)?.status).toBe('kept');
    await log.checkpoint({ everyEntries: 1, everyMs: 0 });
    await db.query(`update audit_event set actor_id = 'x' where chain = $1 and seq = 2`, [chain]);
    const refused = (await log.prune(new Date(Date.now() + 60_000), context)).find((o) => o.chain === chain);
    expect(refused).toMatchObject({ status: 'refused', deletedEntries: 0 });
    expect(messages(refused?.breaks ?? [])).toEqual(['entry 2 modified']);
    expect((await db.query('select 1 from audit_event where chain = $1', [chain])).length).toBe(5);
  });
});

describe('authentication failures', () => {
  it('are appended to the platform chain without the secret', async () => {
    const secret = 'mrd_SuperSecretValueThatMustNeverBeStored0123456789';
    await log.recordAuthenticationFailure({
      sourceAddress: '203.0.113.7',
      requestId: 'req-401',
      reason: 'invalid_token',
      tokenPrefix: secret,
    });
    await log.recordAuthenticationFailure({ sourceAddress: undefined, requestId: 'req-401b', reason: 'missing_token' });
    const rows = await db.query<Row>(`select * from audit_event where chain = '' and action = 'auth.failed' order by seq`);
    expect(rows.map((r) => [r.actor_type, r.actor_id, r.resource_id, r.source_address, r.diff])).toEqual([
      ['anonymous', 'prefix:mrd_Supe', 'mrd_Supe', '203.0.113.7', { before: null, after: { reason: 'invalid_token', prefix: 'mrd_Supe' } }],
      ['anonymous', 'anonymous', '', null, { before: null, after: { reason: 'missing_token' } }],
    ]);
    expect(JSON.stringify(rows)).not.toContain('SuperSecret');
    expect((await verify('')).ok).toBe(true);
    await expect(
      log.recordAuthenticationFailure({ sourceAddress: null, requestId: 'x', reason: 'nope' as 'invalid_token' }),
    ).rejects.toThrow(TypeError);
  });
});

describe('verifyAuditChain on rows in memory', () => {
  it('classifies entries moved further than its window as deleted there and inserted here', async () => {
    const rows = [] as (AuditHashInput & { hash: string })[];
    let prev = '0'.repeat(64);
    for (let seq = 1; seq <= 40; seq++) {
      const input: AuditHashInput = {
        chain: 'c',
        seq,
        tenantId: null,
        actorType: 'system',
        actorId: 't',
        action: 'user.created',
        resourceType: 'User',
        resourceId: String(seq),
        requestId: 'r',
        sourceAddress: null,
        diff: null,
        createdAt: new Date(0).toISOString(),
        prevHash: prev,
      };
      prev = hashAuditEntry(input);
      rows.push({ ...input, hash: prev });
    }
    const intact = await verifyAuditChain(rows, { window: 8 });
    expect(intact).toMatchObject({ entriesChecked: 40, lastSeq: 40, breaks: [] });
    // Entry 3 moved to the end (seq 41) by an attacker: within the window it is a move...
    const moved = rows.filter((r) => r.seq !== 3).concat([{ ...(rows[2] as AuditHashInput & { hash: string }), seq: 41 }]);
    const near = await verifyAuditChain(moved);
    expect(near.breaks.map((b) => b.message)).toEqual(['entries 4-41 reordered: entry 41 was written as 3']);
    // ...beyond a window of 8 it is a deletion there and an entry that does not belong here.
    const far = await verifyAuditChain(moved, { window: 8, searchRadius: 0 });
    expect(far.breaks.map((b) => b.message)).toEqual(['entry 3 deleted', 'entry 41 inserted']);
    // A copy of an entry, appended.
    const copied = await verifyAuditChain([...rows, { ...(rows[5] as AuditHashInput & { hash: string }), seq: 41 }]);
    expect(copied.breaks.map((b) => b.message)).toEqual(['entry 41 inserted: a copy of entry 6']);
  });
});

describe('entries the database chains (meridian_append_audit)', () => {
  it('verify what any text in a change hashes to: quotes, backslashes, control characters, non-ASCII, stand-in look-alikes', async () => {
    const tenant = await admin.createTenant(platform, { slug: 'odd-text', name: 'Odd text', community: 'coi' }, context);
    const odd = [
      'back\\slash "quoted" \'single\'',
      'Zoë 李 😀 \u0001 tab\t',
      '"seq":9007199254740991,"prevHash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"',
      "E'\\x00' || chr(0) -- ;",
    ];
    for (const [i, text] of odd.entries()) {
      await resources.create(
        scimCaller(tenant.id),
        tenant.id,
        'User',
        { schemas: [SCHEMA.user], userName: `odd${i}@example.org`, displayName: text, nickName: text },
        { ...context, requestId: `req-${text.slice(0, 20)}` },
      );
    }
    const [result] = await log.verify({ chain: tenant.id });
    expect(result).toMatchObject({ ok: true, entriesChecked: odd.length + 1, lastSeq: odd.length + 1 });
  });
});
