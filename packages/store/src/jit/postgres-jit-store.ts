import {
  type Clock,
  type JitAdmissionKey,
  type JitAdmissionStatus,
  type JitAdmitted,
  type JitDeliveryState,
  type JitStore,
  type JitTargetLink,
  MeridianError,
  type RequestContext,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { auditEvent, recordEvent } from '../events/event-recorder.js';
import { pgArray } from '../orm/sql.js';
import { asPlatform, inTenant } from '../orm/unit-of-work.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Link statuses after which a job made its decision (docs/replication.md, "Where a change stands"). */
const FINAL = ['synced', 'deactivated', 'grace', 'deleted', 'out_of_scope', 'dead_lettered'];

interface TargetLinkRow {
  target_id: string;
  name: string;
  tenant_id: string;
  slug: string;
}

interface LinkStateRow {
  local_id: string;
  status: string;
  remote_id: string | null;
  last_error: string | null;
  updated_at: Date | string;
}

const toLink = (row: TargetLinkRow): JitTargetLink => ({
  targetId: row.target_id,
  targetName: row.name,
  tenantId: row.tenant_id,
  tenantSlug: row.slug,
});

/**
 * Relying parties' JIT targets and the admitted set (core {@link JitStore},
 * ADR 0030). Links are community-wide (platform scope, audited on the
 * platform chain like the registration); admissions are tenant rows.
 */
export class PostgresJitStore implements JitStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  setTargets(communityId: string, clientId: string, targetIds: readonly string[], context: RequestContext): Promise<JitTargetLink[]> {
    if (targetIds.some((id) => !UUID.test(id))) {
      throw new MeridianError('INVALID_CONFIG', 'A JIT target is named by its id (a UUID).', { field: 'jitTarget' });
    }
    return asPlatform(this.orm, async (em) => {
      const now = this.clock.now();
      const [rp] = await em.execute<{ id: string }[]>('select id from relying_party where community_id = ? and client_id = ? for update', [
        communityId,
        clientId,
      ]);
      if (!rp) throw new MeridianError('NOT_FOUND', `Relying party '${clientId}' not found.`, { field: 'clientId' });
      const found = await em.execute<TargetLinkRow[]>(
        `select t.id as target_id, t.name, t.tenant_id, tn.slug from replication_target t join tenant tn on tn.id = t.tenant_id
         where t.id = any(?::uuid[]) and tn.community_id = ? order by tn.slug, t.name`,
        [pgArray(targetIds), communityId],
      );
      if (found.length !== targetIds.length) {
        throw new MeridianError('INVALID_CONFIG', "A JIT target must be a replication target of one of the community's offices.", {
          field: 'jitTarget',
        });
      }
      const before = await this.linksIn(em, communityId, clientId);
      await em.execute('delete from jit_target where community_id = ? and client_id = ?', [communityId, clientId]);
      for (const row of found) {
        await em.execute('insert into jit_target (community_id, client_id, target_id, tenant_id, created_at) values (?, ?, ?, ?, ?)', [
          communityId,
          clientId,
          row.target_id,
          row.tenant_id,
          now,
        ]);
      }
      const turnedOn = await em.execute<{ id: string }[]>(
        'update replication_target set jit = true, updated_at = ? where id = any(?::uuid[]) and not jit returning id',
        [now, pgArray(found.map((r) => r.target_id))],
      );
      // People the target already holds stay: they count as admitted, so that linking retires no one.
      if (turnedOn.length > 0) {
        await em.execute(
          `insert into jit_admission (tenant_id, target_id, user_id, client_id, status, admitted_at, settled_at)
           select l.tenant_id, l.target_id, l.local_id, ?, 'delivered', ?, ?
             from replication_link l
            where l.target_id = any(?::uuid[]) and l.resource_kind = 'User' and l.remote_id is not null
              and l.status in ('synced', 'pending', 'retrying', 'dead_lettered')
           on conflict do nothing`,
          [clientId, now, now, pgArray(turnedOn.map((r) => r.id))],
        );
      }
      // A target no relying party links any more provisions as usual again.
      const turnedOff = await em.execute<{ id: string }[]>(
        `update replication_target t set jit = false, updated_at = ?
          where t.id = any(?::uuid[]) and t.jit and not exists (select 1 from jit_target j where j.target_id = t.id) returning t.id`,
        [now, pgArray(before.map((l) => l.targetId))],
      );
      if (turnedOff.length > 0) {
        await em.execute('delete from jit_admission where target_id = any(?::uuid[])', [pgArray(turnedOff.map((r) => r.id))]);
      }
      const after = found.map(toLink);
      await recordEvent(
        em,
        {
          type: 'rp.updated',
          tenantId: null,
          resourceType: 'RelyingParty',
          resourceId: clientId,
          before: { jitTargets: before.map((l) => l.targetId) },
          after: { jitTargets: after.map((l) => l.targetId) },
        },
        context,
        now,
      );
      return after;
    });
  }

  targetsOf(communityId: string, clientId: string): Promise<JitTargetLink[]> {
    return asPlatform(this.orm, (em) => this.linksIn(em, communityId, clientId));
  }

  private async linksIn(em: EntityManager, communityId: string, clientId: string): Promise<JitTargetLink[]> {
    const rows = await em.execute<TargetLinkRow[]>(
      `select j.target_id, t.name, j.tenant_id, tn.slug from jit_target j
         join replication_target t on t.id = j.target_id join tenant tn on tn.id = j.tenant_id
        where j.community_id = ? and j.client_id = ? order by tn.slug, t.name`,
      [communityId, clientId],
    );
    return rows.map(toLink);
  }

  owed(communityId: string, clientId: string, personId: string): Promise<JitAdmissionKey[]> {
    if (!UUID.test(personId)) return Promise.resolve([]);
    return asPlatform(this.orm, async (em) => {
      const rows = await em.execute<{ tenant_id: string; target_id: string; name: string; user_id: string }[]>(
        `select j.tenant_id, j.target_id, t.name, a.user_id
           from jit_target j
           join replication_target t on t.id = j.target_id and t.enabled
           join directory_account a on a.tenant_id = j.tenant_id and a.community_id = j.community_id and a.person_id = ? and a.active
           left join jit_admission d on d.target_id = j.target_id and d.user_id = a.user_id
          where j.community_id = ? and j.client_id = ? and (d.status is null or d.status <> 'delivered')
          order by j.target_id, a.user_id`,
        [personId, communityId, clientId],
      );
      return rows.map((r) => ({ tenantId: r.tenant_id, targetId: r.target_id, targetName: r.name, userId: r.user_id }));
    });
  }

  admit(key: JitAdmissionKey, clientId: string, _context: RequestContext): Promise<JitAdmitted> {
    return inTenant(this.orm, key.tenantId, async (em) => {
      const inserted = await em.execute<{ status: JitAdmissionStatus }[]>(
        `insert into jit_admission (tenant_id, target_id, user_id, client_id, status, admitted_at)
         values (?, ?, ?, ?, 'pending', ?) on conflict (target_id, user_id) do nothing returning status`,
        [key.tenantId, key.targetId, key.userId, clientId, this.clock.now()],
      );
      if (inserted.length > 0) return { first: true, status: 'pending' as const };
      const [row] = await em.execute<{ status: JitAdmissionStatus }[]>(
        'select status from jit_admission where target_id = ? and user_id = ?',
        [key.targetId, key.userId],
      );
      return { first: false, status: row?.status ?? 'pending' };
    });
  }

  settle(key: JitAdmissionKey, outcome: { status: JitAdmissionStatus; error: string | null }, context: RequestContext): Promise<void> {
    return inTenant(this.orm, key.tenantId, async (em) => {
      const now = this.clock.now();
      const changed = await em.execute<{ status: string }[]>(
        // Back to pending is a new attempt: it starts now, and only what the links record from now on counts.
        `update jit_admission set status = ?, last_error = ?, settled_at = ?,
                admitted_at = case when ? = 'pending' then ?::timestamptz else admitted_at end
          where target_id = ? and user_id = ? and status <> ? returning status`,
        [outcome.status, outcome.error?.slice(0, 2000) ?? null, now, outcome.status, now, key.targetId, key.userId, outcome.status],
      );
      // Each change of outcome is audited once (a second sign-in that finds it delivered writes nothing).
      if (changed.length === 0 || outcome.status === 'pending') return;
      await auditEvent(
        em,
        {
          type: outcome.status === 'delivered' ? 'replication.admitted' : 'replication.admission_failed',
          tenantId: key.tenantId,
          resourceType: 'User',
          resourceId: key.userId,
          before: null,
          after: {
            targetId: key.targetId,
            target: key.targetName,
            ...(outcome.error ? { error: outcome.error.slice(0, 500) } : {}),
          },
        },
        context,
        now,
      );
    });
  }

  deliveryState(key: JitAdmissionKey): Promise<JitDeliveryState> {
    return inTenant(this.orm, key.tenantId, async (em) => {
      const [admission] = await em.execute<{ admitted_at: Date | string }[]>(
        'select admitted_at from jit_admission where target_id = ? and user_id = ?',
        [key.targetId, key.userId],
      );
      const [user] = await em.execute<LinkStateRow[]>(
        `select local_id, status, remote_id, last_error, updated_at from replication_link
          where target_id = ? and resource_kind = 'User' and local_id = ?`,
        [key.targetId, key.userId],
      );
      const pending: JitDeliveryState = { status: 'pending', remoteId: user?.remote_id ?? null, error: user?.last_error ?? null };
      if (!admission || !user) return pending;
      const since = new Date(admission.admitted_at).getTime();
      const current = new Date(user.updated_at).getTime() >= since;
      if (user.status === 'dead_lettered' && current) return { status: 'failed', remoteId: user.remote_id, error: user.last_error };
      if (user.status === 'out_of_scope' && current) {
        return { status: 'failed', remoteId: null, error: "The target's scoping filter excludes this account." };
      }
      if (user.status !== 'synced' || user.remote_id === null) return pending;
      // Its groups: each direct group's job that the account's arrival queued has run (docs/replication.md, step 4).
      const arrived = new Date(user.updated_at).getTime();
      const groups = await em.execute<LinkStateRow[]>(
        `select m.group_id as local_id, coalesce(l.status, 'missing') as status, l.remote_id, l.last_error,
                coalesce(l.updated_at, 'epoch'::timestamptz) as updated_at
           from group_member m
           left join replication_link l on l.target_id = ? and l.resource_kind = 'Group' and l.local_id = m.group_id
          where m.tenant_id = ? and m.member_id = ? and m.member_type = 'User'`,
        [key.targetId, key.tenantId, key.userId],
      );
      for (const group of groups) {
        if (group.status === 'dead_lettered') {
          return {
            status: 'failed',
            remoteId: user.remote_id,
            error: `A group could not be pushed: ${group.last_error ?? 'dead-lettered'}`,
          };
        }
        if (!FINAL.includes(group.status) || new Date(group.updated_at).getTime() < arrived)
          return { ...pending, remoteId: user.remote_id };
      }
      return { status: 'delivered', remoteId: user.remote_id, error: null };
    });
  }

  /**
   * False when a JIT target must keep the resource away (ADR 0030): a user
   * not admitted, a group none of whose user members is admitted. Replication's
   * workers ask it only for targets marked `jit`.
   */
  async admits(tenantId: string, targetId: string, kind: 'User' | 'Group', id: string, memberUserIds: readonly string[]): Promise<boolean> {
    const users = kind === 'User' ? [id] : memberUserIds.filter((m) => UUID.test(m));
    if (users.length === 0) return false;
    const [row] = await inTenant(this.orm, tenantId, (em) =>
      em.execute<{ admitted: boolean }[]>(
        'select exists (select 1 from jit_admission where target_id = ? and user_id = any(?::uuid[])) as admitted',
        [targetId, pgArray(users)],
      ),
    );
    return row?.admitted === true;
  }
}
