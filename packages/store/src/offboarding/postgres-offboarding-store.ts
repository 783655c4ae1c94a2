import type {
  Clock,
  DirectoryTransaction,
  OffboardingPlan,
  OffboardingPolicy,
  OffboardingRecord,
  OffboardingReport,
  OffboardingStatus,
  OffboardingStore,
  TransferOutcome,
  TransferRecord,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { entityManagerOf, isUuid } from '../directory/postgres-directory-store.js';
import { auditEvent } from '../events/event-recorder.js';
import { asPlatform, inTenant } from '../orm/unit-of-work.js';

interface OffboardingRow {
  id: string;
  tenant_id: string;
  user_id: string;
  successor_id: string;
  status: OffboardingStatus;
  run_at: Date;
  delete_at: Date;
  plan: OffboardingPlan;
  policy: OffboardingPolicy;
  report: OffboardingReport | null;
  transfers: (Omit<TransferRecord, 'updatedAt'> & { updatedAt: string })[];
  request_id: string;
  created_at: Date;
  updated_at: Date;
}

/** The plan as stored: its dates come back from JSON as strings. */
function planOf(plan: OffboardingPlan): OffboardingPlan {
  return { ...plan, runAt: new Date(plan.runAt), deleteAt: new Date(plan.deleteAt) };
}

function toRecord(row: OffboardingRow): OffboardingRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    successorId: row.successor_id,
    status: row.status,
    runAt: new Date(row.run_at),
    deleteAt: new Date(row.delete_at),
    plan: planOf(row.plan),
    policy: row.policy,
    report: row.report,
    transfers: row.transfers.map((t) => ({ ...t, updatedAt: new Date(t.updatedAt) })),
    requestId: row.request_id,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Pending first: the step due next (a leave, or a deletion). */
const DUE = "(case when status = 'scheduled' then run_at else delete_at end)";

/**
 * The `offboarding` table (migration 20261207670000) behind core's
 * {@link OffboardingStore}. Writes of a handover go through the directory
 * transaction's entity manager, like password forwarding; reads and the
 * runner's claims open their own transactions in the tenant's or the
 * platform's scope.
 */
export class PostgresOffboardingStore implements OffboardingStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  newId(): string {
    return uuidv7();
  }

  async save(tx: DirectoryTransaction, record: OffboardingRecord): Promise<void> {
    const em = await entityManagerOf(tx);
    // Saving ends a claim: the next step is claimed again when it is due.
    await em.execute(
      `insert into offboarding (id, tenant_id, user_id, successor_id, status, run_at, delete_at, plan, policy, report, transfers, request_id,
         claimed_until, created_at, updated_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?)
       on conflict (id) do update set status = excluded.status, run_at = excluded.run_at, delete_at = excluded.delete_at,
         plan = excluded.plan, report = excluded.report, transfers = excluded.transfers, claimed_until = null, updated_at = excluded.updated_at`,
      [
        record.id,
        record.tenantId,
        record.userId,
        record.successorId,
        record.status,
        record.runAt,
        record.deleteAt,
        JSON.stringify(record.plan),
        JSON.stringify(record.policy),
        record.report === null ? null : JSON.stringify(record.report),
        JSON.stringify(record.transfers),
        record.requestId,
        record.createdAt,
        record.updatedAt,
      ],
    );
  }

  async lock(tx: DirectoryTransaction, id: string): Promise<OffboardingRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const em = await entityManagerOf(tx);
    const [row] = await em.execute<OffboardingRow[]>('select * from offboarding where id = ? for update', [id]);
    return row ? toRecord(row) : undefined;
  }

  async revokeUserTokens(tx: DirectoryTransaction, userId: string): Promise<string[]> {
    const em = await entityManagerOf(tx);
    const rows = await em.execute<{ id: string }[]>(
      'update api_token set revoked_at = ? where user_id = ? and revoked_at is null returning id',
      [this.clock.now(), userId],
    );
    return rows.map((r) => r.id).sort();
  }

  async pendingOf(tenantId: string, userId: string): Promise<OffboardingRecord | undefined> {
    if (!isUuid(userId)) return undefined;
    const [row] = await inTenant(this.orm, tenantId, (em) =>
      em.execute<OffboardingRow[]>(
        "select * from offboarding where tenant_id = ? and user_id = ? and status in ('scheduled', 'suspended')",
        [tenantId, userId],
      ),
    );
    return row ? toRecord(row) : undefined;
  }

  async get(tenantId: string, id: string): Promise<OffboardingRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await inTenant(this.orm, tenantId, (em) =>
      em.execute<OffboardingRow[]>('select * from offboarding where tenant_id = ? and id = ?', [tenantId, id]),
    );
    return row ? toRecord(row) : undefined;
  }

  async list(tenantId: string, limit: number): Promise<OffboardingRecord[]> {
    const rows = await inTenant(this.orm, tenantId, (em) =>
      em.execute<OffboardingRow[]>('select * from offboarding where tenant_id = ? order by created_at desc, id desc limit ?', [
        tenantId,
        limit,
      ]),
    );
    return rows.map(toRecord);
  }

  async claimDue(now: Date, leaseMs: number, limit: number): Promise<OffboardingRecord[]> {
    const rows = await asPlatform(this.orm, (em) =>
      em.execute<OffboardingRow[]>(
        `update offboarding set claimed_until = ? where id in (
           select id from offboarding
            where status in ('scheduled', 'suspended') and ${DUE} <= ? and (claimed_until is null or claimed_until < ?)
            order by ${DUE} limit ? for update skip locked)
         returning *`,
        [new Date(now.getTime() + leaseMs), now, now, limit],
      ),
    );
    return rows.map(toRecord).sort((a, b) => a.runAt.getTime() - b.runAt.getTime());
  }

  async settleTransfer(tenantId: string, offboardingId: string, targetId: string, outcome: TransferOutcome): Promise<void> {
    if (!isUuid(offboardingId)) return;
    const now = this.clock.now();
    await inTenant(this.orm, tenantId, async (em: EntityManager) => {
      const [row] = await em.execute<OffboardingRow[]>('select * from offboarding where tenant_id = ? and id = ? for update', [
        tenantId,
        offboardingId,
      ]);
      if (!row) return;
      const record = toRecord(row);
      const current = record.transfers.find((t) => t.targetId === targetId);
      // A transfer done stays done: a late retry of the same job moved nothing more.
      if (!current || current.status === 'done') return;
      const settled: TransferRecord = {
        ...current,
        status: outcome.status,
        transferred: outcome.transferred ?? current.transferred,
        lastError: outcome.lastError === undefined ? current.lastError : outcome.lastError,
        attempts: outcome.attempts,
        updatedAt: now,
      };
      const transfers = record.transfers.map((t) => (t.targetId === targetId ? settled : t));
      await em.execute('update offboarding set transfers = ?, updated_at = ? where tenant_id = ? and id = ?', [
        JSON.stringify(transfers),
        now,
        tenantId,
        offboardingId,
      ]);
      if (outcome.status === 'retrying') return;
      await auditEvent(
        em,
        {
          type: 'account.ownership_transferred',
          tenantId,
          resourceType: 'User',
          resourceId: record.userId,
          before: null,
          after: {
            offboardingId,
            successorId: record.successorId,
            targetId,
            target: current.target,
            status: settled.status,
            transferred: settled.transferred,
            ...(settled.lastError ? { lastError: settled.lastError } : {}),
          },
        },
        { actor: { type: 'system', id: 'replication' }, requestId: record.requestId },
        now,
      );
    });
  }
}
