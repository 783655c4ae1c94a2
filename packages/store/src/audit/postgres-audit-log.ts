// Over 600 lines on purpose: the one implementation of core's AuditLog port (append, read, verify, signed
// checkpoints, retention, authentication failures); the hashing and appending it shares live in their own files.
import type { KeyObject } from 'node:crypto';
import {
  type AnchoredCheckpoints,
  type AuditBreak,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditLog,
  type AuditPublicKey,
  type AuditQuery,
  type AuditVerifyOptions,
  type AuthenticationFailure,
  type AuthenticationFailureSummary,
  type ChainVerification,
  type CheckpointOutcome,
  type CheckpointPolicy,
  type CheckpointSummary,
  type Clock,
  describeAuditBreak,
  MeridianError,
  type Page,
  type PageRequest,
  PLATFORM_CHAIN,
  type PruneOutcome,
  type RequestContext,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { asPlatform } from '../orm/unit-of-work.js';
import { appendAuditEntry, recordAuthenticationFailure, recordAuthenticationFailureSummary } from './append-audit-entry.js';
import {
  type AuditKeyring,
  auditKeyId,
  parseAuditPublicKey,
  signCheckpoint,
  staticAuditKeyring,
  verifyCheckpointSignature,
} from './signing-key.js';
import { type ChainStart, GENESIS_START, type StoredAuditRow, type TrustedCheckpoint, verifyAuditChain } from './verify-audit-chain.js';

interface AuditRow {
  id: string;
  chain: string;
  seq: string | number;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string;
  action: string;
  resource_type: string;
  resource_id: string;
  request_id: string;
  source_address: string | null;
  diff: Record<string, unknown> | null;
  created_at: Date | string;
  prev_hash: string;
  hash: string;
}

interface CheckpointRow {
  id: string;
  chain: string;
  seq: string | number;
  hash: string;
  created_at: Date | string;
  key_id: string;
  signature: string;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    chain: row.chain,
    seq: Number(row.seq),
    tenantId: row.tenant_id,
    actorType: row.actor_type,
    actorId: row.actor_id,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    requestId: row.request_id,
    sourceAddress: row.source_address,
    diff: row.diff,
    createdAt: new Date(row.created_at),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toStored(row: AuditRow): StoredAuditRow {
  return {
    chain: row.chain,
    seq: Number(row.seq),
    tenantId: row.tenant_id,
    actorType: row.actor_type,
    actorId: row.actor_id,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    requestId: row.request_id,
    sourceAddress: row.source_address,
    diff: row.diff,
    createdAt: new Date(row.created_at).toISOString(),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toCheckpoint(row: CheckpointRow): AuditCheckpoint {
  return {
    chain: row.chain,
    seq: Number(row.seq),
    hash: row.hash,
    createdAt: new Date(row.created_at),
    keyId: row.key_id,
    signature: row.signature,
  };
}

const summary = (c: AuditCheckpoint): CheckpointSummary => ({ seq: c.seq, hash: c.hash, createdAt: c.createdAt, keyId: c.keyId });

const ACTOR = /^(token|cli|system|anonymous):(.+)$/;

/** The conditions of an auditor's query, for `where`. */
function queryConditions(chain: string, query: AuditQuery): { sql: string[]; params: unknown[] } {
  const sql = ['chain = ?'];
  const params: unknown[] = [chain];
  if (query.actor !== undefined) {
    const typed = ACTOR.exec(query.actor);
    if (typed) {
      sql.push('actor_type = ? and actor_id = ?');
      params.push(typed[1], typed[2]);
    } else {
      sql.push('actor_id = ?');
      params.push(query.actor);
    }
  }
  for (const [column, value] of [
    ['resource_type', query.resourceType],
    ['resource_id', query.resourceId],
    ['action', query.action],
  ] as const) {
    if (value !== undefined) {
      sql.push(`${column} = ?`);
      params.push(value);
    }
  }
  if (query.since !== undefined) {
    sql.push('created_at >= ?');
    params.push(query.since);
  }
  if (query.until !== undefined) {
    sql.push('created_at < ?');
    params.push(query.until);
  }
  return { sql, params };
}

/** The position of an entry in a chain, as an opaque cursor. */
function encodeAuditCursor(chain: string, seq: number): string {
  return Buffer.from(JSON.stringify({ c: chain, s: seq })).toString('base64url');
}

function decodeAuditCursor(chain: string, cursor: string): number {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c?: unknown; s?: unknown };
    if (value.c === chain && typeof value.s === 'number' && Number.isSafeInteger(value.s) && value.s >= 0) return value.s;
  } catch {
    // fall through
  }
  throw new MeridianError('INVALID_CURSOR', 'The cursor is not valid for this audit log.', { field: 'after' });
}

const BATCH = 500;

/** Loose index scan over `audit_event_chain_seq_key`: each chain's head without reading every row. */
const CHAIN_HEADS_SQL = `
  with recursive chains (chain) as (
    (select chain from audit_event order by chain limit 1)
    union all
    select (select e.chain from audit_event e where e.chain > c.chain order by e.chain limit 1) from chains c where c.chain is not null
  )
  select c.chain, h.seq, h.hash, h.created_at
    from chains c
    cross join lateral (select seq, hash, created_at from audit_event e where e.chain = c.chain order by seq desc limit 1) h
   where c.chain is not null`;

interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

/** Options of {@link PostgresAuditLog}. */
export interface PostgresAuditLogOptions {
  /** Where checkpoint keys come from; without one nothing is signed and no checkpoint verifies. */
  keyring?: AuditKeyring | undefined;
  /** Rows the verifier keeps around to tell a move from a deletion (see `verifyAuditChain`). */
  window?: number | undefined;
}

/**
 * The PostgreSQL implementation of the core {@link AuditLog}: reads and
 * verifies `audit_event`, signs `audit_checkpoint` rows with Ed25519 and
 * prunes up to a signed checkpoint (`audit_anchor`). Every statement runs in a
 * transaction with `meridian.scope = 'platform'`, since the audit log is read
 * across tenants.
 */
export class PostgresAuditLog implements AuditLog {
  private readonly keyring: AuditKeyring;
  private readonly window: number | undefined;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    options: PostgresAuditLogOptions = {},
  ) {
    this.keyring = options.keyring ?? staticAuditKeyring(undefined);
    this.window = options.window;
  }

  private transaction<T>(work: (em: EntityManager) => Promise<T>, readOnly = false): Promise<T> {
    // One snapshot for a whole read: a verification never sees half of a concurrent prune.
    return asPlatform(this.orm, work, readOnly ? { transaction: { readOnly: true, isolationLevel: 'repeatable read' } } : {});
  }

  async list(chain: string, query: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>> {
    const { sql, params } = queryConditions(chain, query);
    const afterSeq = page.after === undefined ? undefined : decodeAuditCursor(chain, page.after);
    return this.transaction(async (em) => {
      const [count] = await em.execute<{ total: string }[]>(`select count(*) as total from audit_event where ${sql.join(' and ')}`, params);
      const keyset = afterSeq === undefined ? [] : ['seq > ?'];
      const rows = await em.execute<AuditRow[]>(
        `select * from audit_event where ${[...sql, ...keyset].join(' and ')} order by seq limit ?`,
        [...params, ...(afterSeq === undefined ? [] : [afterSeq]), page.first + 1],
      );
      const items = rows.slice(0, page.first).map(toEntry);
      const cursors = items.map((e) => encodeAuditCursor(chain, e.seq));
      return {
        items,
        cursors,
        totalCount: Number(count?.total ?? 0),
        endCursor: cursors[cursors.length - 1] ?? null,
        hasNextPage: rows.length > page.first,
      };
    }, true);
  }

  async *stream(chain: string, query: AuditQuery): AsyncIterable<AuditEntry> {
    const { sql, params } = queryConditions(chain, query);
    let after = -1;
    for (;;) {
      const rows = await this.transaction(
        (em) =>
          em.execute<AuditRow[]>(`select * from audit_event where ${sql.join(' and ')} and seq > ? order by seq limit ?`, [
            ...params,
            after,
            BATCH,
          ]),
        true,
      );
      for (const row of rows) yield toEntry(row);
      const last = rows[rows.length - 1];
      if (!last || rows.length < BATCH) return;
      after = Number(last.seq);
    }
  }

  /** The signing key's public half, generating the key first when none exists (the serving hub calls it on start). */
  async signingKey(): Promise<AuditPublicKey & { fingerprint: string }> {
    const key = await this.keyring.signer();
    return { keyId: key.keyId, pem: key.publicPem, fingerprint: key.fingerprint };
  }

  async publicKey(): Promise<AuditPublicKey | undefined> {
    const key = await this.keyring.current();
    return key ? { keyId: key.keyId, pem: key.publicPem } : undefined;
  }

  async checkpoints(chain?: string): Promise<AuditCheckpoint[]> {
    const rows = await this.transaction(
      (em) =>
        chain === undefined
          ? em.execute<CheckpointRow[]>('select * from audit_checkpoint order by chain, seq')
          : em.execute<CheckpointRow[]>('select * from audit_checkpoint where chain = ? order by seq', [chain]),
      true,
    );
    return rows.map(toCheckpoint);
  }

  async recordAuthenticationFailure(failure: AuthenticationFailure): Promise<void> {
    await this.transaction((em) => recordAuthenticationFailure(em, failure, this.clock.now()));
  }

  async recordAuthenticationFailures(summaries: readonly AuthenticationFailureSummary[]): Promise<void> {
    if (summaries.length === 0) return;
    // Chains in a fixed order, so that two processes flushing at once take the chain locks in the same order.
    const ordered = [...summaries].sort(
      (a, b) => (a.tenantId ?? '').localeCompare(b.tenantId ?? '') || a.minute.getTime() - b.minute.getTime(),
    );
    await this.transaction(async (em) => {
      const now = this.clock.now();
      for (const summary of ordered) await recordAuthenticationFailureSummary(em, summary, now);
    });
  }

  // ---- verification --------------------------------------------------------

  async verify(options: AuditVerifyOptions = {}): Promise<ChainVerification[]> {
    const verifiers = await this.keyring.verifiers();
    const anchored = options.anchored === undefined ? undefined : parseAnchored(options.anchored);
    const { chains, slugs } = await this.transaction(async (em) => {
      const tenants = await em.execute<{ id: string; slug: string }[]>('select id::text as id, slug from tenant order by slug');
      const slugs = new Map(tenants.map((t) => [t.id, t.slug]));
      if (options.chain !== undefined) return { chains: [options.chain], slugs };
      const found = new Set<string>([PLATFORM_CHAIN, ...tenants.map((t) => t.id)]);
      for (const row of await em.execute<{ chain: string }[]>(CHAIN_HEADS_SQL)) found.add(row.chain);
      for (const row of await em.execute<{ chain: string }[]>('select distinct chain from audit_checkpoint')) found.add(row.chain);
      for (const checkpoint of anchored?.checkpoints ?? []) found.add(checkpoint.chain);
      // The platform chain first, then tenants by slug, then chains no tenant owns.
      const order = (chain: string) => (chain === PLATFORM_CHAIN ? '0' : slugs.has(chain) ? `1${slugs.get(chain)}` : `2${chain}`);
      return { chains: [...found].sort((a, b) => order(a).localeCompare(order(b))), slugs };
    }, true);
    const results: ChainVerification[] = [];
    for (const chain of chains) {
      results.push(await this.verifyChain(chain, slugs.get(chain) ?? null, verifiers, anchored));
    }
    return results;
  }

  private verifyChain(
    chain: string,
    tenantSlug: string | null,
    verifiers: ReadonlyMap<string, KeyObject>,
    anchored: { key: KeyObject; checkpoints: AuditCheckpoint[] } | undefined,
  ): Promise<ChainVerification> {
    return this.transaction(async (em) => {
      const breaks: AuditBreak[] = [];
      const checkVerified = (checkpoint: AuditCheckpoint, keys: ReadonlyMap<string, KeyObject>, what: string): boolean => {
        const key = keys.get(checkpoint.keyId);
        if (key && verifyCheckpointSignature(key, checkpoint)) return true;
        const detail = key
          ? `${what} at ${checkpoint.seq} has an invalid signature`
          : `${what} at ${checkpoint.seq} is signed by an unknown key ${checkpoint.keyId}`;
        breaks.push({ kind: 'forged_checkpoint', fromSeq: checkpoint.seq, toSeq: checkpoint.seq, message: detail });
        return false;
      };

      const anchorRow = await this.anchorOf(em, chain);
      let start: ChainStart = GENESIS_START;
      let anchor: CheckpointSummary | null = null;
      if (anchorRow && checkVerified(anchorRow, verifiers, 'the anchor checkpoint')) {
        start = { seq: anchorRow.seq, hash: anchorRow.hash };
        anchor = summary(anchorRow);
      }

      const stored = (await em.execute<CheckpointRow[]>('select * from audit_checkpoint where chain = ? order by seq', [chain])).map(
        toCheckpoint,
      );
      const trusted: AuditCheckpoint[] = stored.filter((c) => c.seq > start.seq && checkVerified(c, verifiers, 'checkpoint'));
      if (anchored) {
        const anchoredKeys = new Map([[auditKeyId(anchored.key), anchored.key]]);
        for (const checkpoint of anchored.checkpoints) {
          if (checkpoint.chain !== chain || checkpoint.seq <= start.seq) continue;
          if (trusted.some((c) => c.seq === checkpoint.seq && c.hash === checkpoint.hash)) continue;
          if (checkVerified(checkpoint, anchoredKeys, 'anchored checkpoint')) trusted.push(checkpoint);
        }
      }

      const walk = await verifyAuditChain(this.rowsOf(em, chain), {
        start,
        checkpoints: trusted.map((c): TrustedCheckpoint => ({ seq: c.seq, hash: c.hash })),
        window: this.window,
      });
      breaks.push(...walk.breaks);
      if (anchor && !walk.startRecorded) {
        breaks.push({
          kind: 'deleted',
          fromSeq: 1,
          toSeq: anchor.seq,
          message: describeAuditBreak('deleted', 1, anchor.seq, `no audit.pruned entry names the anchor at ${anchor.seq}`),
        });
      }
      if (walk.lastSeq === null && anchor === null && trusted.length === 0 && tenantSlug !== null) {
        // Every tenant's chain starts with tenant.created: an empty one lost its entries.
        breaks.push({ kind: 'deleted', fromSeq: 1, toSeq: 1, message: describeAuditBreak('deleted', 1, 1, 'the chain is empty') });
      }
      breaks.sort((a, b) => a.fromSeq - b.fromSeq);
      const latest = [...trusted].sort((a, b) => b.seq - a.seq)[0];
      return {
        chain,
        tenantSlug,
        ok: breaks.length === 0,
        entriesChecked: walk.entriesChecked,
        lastSeq: walk.lastSeq,
        lastCheckpoint: latest ? summary(latest) : null,
        anchor,
        breaks,
      };
    }, true);
  }

  private async anchorOf(em: EntityManager, chain: string): Promise<AuditCheckpoint | undefined> {
    const [row] = await em.execute<CheckpointRow[]>(
      'select c.* from audit_anchor a join audit_checkpoint c on c.id = a.checkpoint_id where a.chain = ?',
      [chain],
    );
    return row ? toCheckpoint(row) : undefined;
  }

  /** A chain's rows in stored order, read in batches inside the caller's transaction; `after` skips what a checkpoint covers. */
  private async *rowsOf(em: EntityManager, chain: string, after = Number.MIN_SAFE_INTEGER, upTo?: number): AsyncIterable<StoredAuditRow> {
    // (seq, id): a dropped unique constraint and duplicate seqs must not hide rows.
    let last: [number, string] = [after, '9223372036854775807'];
    for (;;) {
      const rows = await em.execute<AuditRow[]>(
        `select * from audit_event where chain = ? and (seq, id) > (?, ?::bigint) ${upTo === undefined ? '' : 'and seq <= ?'}
          order by seq, id limit ?`,
        [chain, last[0], last[1], ...(upTo === undefined ? [] : [upTo]), BATCH],
      );
      for (const row of rows) yield toStored(row);
      const tail = rows[rows.length - 1];
      if (!tail || rows.length < BATCH) return;
      last = [Number(tail.seq), String(tail.id)];
    }
  }

  /** The latest checkpoint of a chain whose signature verifies. */
  private async latestTrusted(
    em: EntityManager,
    chain: string,
    verifiers: ReadonlyMap<string, KeyObject>,
  ): Promise<AuditCheckpoint | undefined> {
    const rows = await em.execute<CheckpointRow[]>('select * from audit_checkpoint where chain = ? order by seq desc limit 20', [chain]);
    return rows.map(toCheckpoint).find((c) => {
      const key = verifiers.get(c.keyId);
      return key !== undefined && verifyCheckpointSignature(key, c);
    });
  }

  /** Where verification of a chain starts: its anchor when it has a valid one, the genesis otherwise. */
  private async startOf(em: EntityManager, chain: string, verifiers: ReadonlyMap<string, KeyObject>): Promise<ChainStart> {
    const anchor = await this.anchorOf(em, chain);
    const key = anchor ? verifiers.get(anchor.keyId) : undefined;
    return anchor && key && verifyCheckpointSignature(key, anchor) ? { seq: anchor.seq, hash: anchor.hash } : GENESIS_START;
  }

  // ---- checkpoints ---------------------------------------------------------

  async checkpoint(policy: CheckpointPolicy): Promise<CheckpointOutcome[]> {
    const key = await this.keyring.signer();
    const verifiers = await this.keyring.verifiers();
    const heads = await this.transaction((em) => em.execute<ChainHead[]>(CHAIN_HEADS_SQL), true);
    const outcomes: CheckpointOutcome[] = [];
    for (const raw of heads) {
      const head: ChainHead = { chain: raw.chain, seq: Number(raw.seq), hash: raw.hash };
      outcomes.push(await this.checkpointChain(head, policy, key, verifiers));
    }
    return outcomes;
  }

  private async checkpointChain(
    head: ChainHead,
    policy: CheckpointPolicy,
    key: Awaited<ReturnType<AuditKeyring['signer']>>,
    verifiers: ReadonlyMap<string, KeyObject>,
  ): Promise<CheckpointOutcome> {
    const now = this.clock.now();
    const outcome = (status: CheckpointOutcome['status'], breaks: AuditBreak[] = []): CheckpointOutcome => ({
      chain: head.chain,
      status,
      seq: head.seq,
      breaks,
    });
    const checked = await this.transaction(async (em) => {
      const last = await this.latestTrusted(em, head.chain, verifiers);
      if (last && head.seq <= last.seq) {
        if (head.seq === last.seq && head.hash === last.hash) return 'current' as const;
        const message =
          head.seq < last.seq
            ? `tail deleted: checkpoint at ${last.seq} but the chain ends at ${head.seq}`
            : `checkpoint at ${last.seq} does not match entry ${last.seq}: the chain up to it was rewritten`;
        return [{ kind: 'truncated' as const, fromSeq: Math.min(head.seq, last.seq), toSeq: last.seq, message }];
      }
      const start = last ? { seq: last.seq, hash: last.hash } : await this.startOf(em, head.chain, verifiers);
      const due = head.seq - start.seq >= policy.everyEntries || now.getTime() - (last?.createdAt.getTime() ?? 0) >= policy.everyMs;
      if (!due) return 'current' as const;
      if (policy.force) return [];
      // Only what verifies is signed: the entries since the last checkpoint are walked first.
      const walk = await verifyAuditChain(this.rowsOf(em, head.chain, start.seq, head.seq), { start, window: this.window });
      if (walk.breaks.length === 0 && walk.lastSeq !== head.seq) {
        return [
          { kind: 'inserted' as const, fromSeq: head.seq, toSeq: head.seq, message: describeAuditBreak('inserted', head.seq, head.seq) },
        ];
      }
      return walk.breaks;
    }, true);
    if (checked === 'current') return outcome('current');
    if (checked.length > 0 && !policy.force) return outcome('refused', checked);
    const signed = signCheckpoint(key, { chain: head.chain, seq: head.seq, hash: head.hash, createdAt: now });
    await this.transaction((em) =>
      em.execute(
        `insert into audit_checkpoint (chain, seq, hash, created_at, key_id, signature) values (?, ?, ?, ?, ?, ?)
         on conflict (chain, seq) do nothing`,
        [signed.chain, signed.seq, signed.hash, signed.createdAt, signed.keyId, signed.signature],
      ),
    );
    return outcome('created', checked);
  }

  // ---- retention -----------------------------------------------------------

  async prune(before: Date, context: RequestContext): Promise<PruneOutcome[]> {
    const verifiers = await this.keyring.verifiers();
    const heads = await this.transaction((em) => em.execute<ChainHead[]>(CHAIN_HEADS_SQL), true);
    const outcomes: PruneOutcome[] = [];
    for (const head of heads) outcomes.push(await this.pruneChain(head.chain, before, verifiers, context));
    return outcomes;
  }

  private async pruneChain(
    chain: string,
    before: Date,
    verifiers: ReadonlyMap<string, KeyObject>,
    context: RequestContext,
  ): Promise<PruneOutcome> {
    const kept = (status: PruneOutcome['status'], breaks: AuditBreak[] = []): PruneOutcome => ({
      chain,
      status,
      anchorSeq: null,
      deletedEntries: 0,
      breaks,
    });
    const plan = await this.transaction(async (em) => {
      const start = await this.startOf(em, chain, verifiers);
      // The newest signed checkpoint whose entry is older than the cutoff and still has the hash it signed.
      const rows = await em.execute<CheckpointRow[]>(
        `select c.* from audit_checkpoint c
           join audit_event e on e.chain = c.chain and e.seq = c.seq and e.hash = c.hash
          where c.chain = ? and c.seq > ? and e.created_at < ?
          order by c.seq desc limit 20`,
        [chain, start.seq, before],
      );
      const target = rows.map(toCheckpoint).find((c) => {
        const key = verifiers.get(c.keyId);
        return key !== undefined && verifyCheckpointSignature(key, c);
      });
      if (!target) return undefined;
      const [targetRow] = await em.execute<{ id: string }[]>('select id from audit_checkpoint where chain = ? and seq = ?', [
        chain,
        target.seq,
      ]);
      // Evidence of tampering is never pruned away: the stretch to delete must verify.
      const walk = await verifyAuditChain(this.rowsOf(em, chain, Number.MIN_SAFE_INTEGER, target.seq), {
        start,
        checkpoints: [{ seq: target.seq, hash: target.hash }],
        window: this.window,
      });
      return { target, checkpointId: String(targetRow?.id), breaks: walk.breaks, firstSeq: start.seq + 1 };
    }, true);
    if (!plan) return kept('kept');
    if (plan.breaks.length > 0) return kept('refused', plan.breaks);

    const now = this.clock.now();
    const deleted = await this.transaction(async (em) => {
      // Appends to this chain wait until the prune commits, so nothing is written between the delete and the record.
      await em.execute('select pg_advisory_xact_lock(hashtextextended(?, 7))', [`audit:${chain}`]);
      const removed = await em.execute<{ n: string }[]>(
        'with d as (delete from audit_event where chain = ? and seq <= ? returning 1) select count(*) as n from d',
        [chain, plan.target.seq],
      );
      await em.execute(
        `insert into audit_anchor (chain, checkpoint_id, pruned_at) values (?, ?, ?)
         on conflict (chain) do update set checkpoint_id = excluded.checkpoint_id, pruned_at = excluded.pruned_at`,
        [chain, plan.checkpointId, now],
      );
      await em.execute('delete from audit_checkpoint where chain = ? and seq < ?', [chain, plan.target.seq]);
      const count = Number(removed[0]?.n ?? 0);
      await appendAuditEntry(
        em,
        {
          chain,
          tenantId: chain === PLATFORM_CHAIN ? null : chain,
          actorType: context.actor.type,
          actorId: context.actor.id,
          action: 'audit.pruned',
          resourceType: 'AuditLog',
          resourceId: chain === PLATFORM_CHAIN ? 'platform' : chain,
          requestId: context.requestId,
          sourceAddress: context.sourceAddress ?? null,
          diff: {
            before: { firstSeq: plan.firstSeq },
            after: { anchorSeq: plan.target.seq, deletedEntries: count, createdBefore: before.toISOString() },
          },
        },
        now,
        { seq: plan.target.seq, hash: plan.target.hash },
      );
      return count;
    });
    return { chain, status: 'pruned', anchorSeq: plan.target.seq, deletedEntries: deleted, breaks: [] };
  }
}

function parseAnchored(anchored: AnchoredCheckpoints): { key: KeyObject; checkpoints: AuditCheckpoint[] } {
  return {
    key: parseAuditPublicKey(anchored.publicKey),
    checkpoints: anchored.checkpoints.map((c) => ({ ...c, seq: Number(c.seq), createdAt: new Date(c.createdAt) })),
  };
}
