import { MeridianError } from '../errors/meridian-error.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { Filter } from '../filter/ast.js';
import { parseScimFilter } from '../filter/parse.js';
import type { Clock } from '../ports/clock.js';
import type { DirectoryStore, DirectoryTransaction, ResourceIncludes } from '../ports/directory.js';
import type { ScimResource } from '../scim/resource.js';
import type { JsonObject } from '../scim/resource-input.js';
import { SCHEMA } from '../scim/schemas.js';
import type { Principal, RequestContext } from '../tenancy/model.js';
import { authorizeTenantRef, type TenantAuthorizer, type TenantRef } from '../tenancy/tenant-access.js';
import {
  DEFAULT_OFFBOARDING_POLICY,
  managerOf,
  mergedValues,
  type OffboardingPlan,
  type OffboardingPolicy,
  planOffboarding,
} from './plan.js';
import type {
  OffboardingRecord,
  OffboardingReport,
  OffboardingStore,
  OwnershipTransferJob,
  OwnershipTransfers,
  SsoRevocation,
  TransferRecord,
} from './ports.js';

/** What an admin or HR system asks for. */
export interface OffboardingRequest {
  /** The leaver: a User id or userName of the tenant. */
  user: string;
  /** The successor: a User id or userName of the tenant. */
  successor: string;
  /** A scheduled leave; the handover runs now when absent or past. */
  at?: Date | undefined;
  graceDays?: number | undefined;
  policy?: Partial<OffboardingPolicy> | undefined;
  /** Plan only: nothing is written. */
  dryRun?: boolean | undefined;
}

/** The answer to an offboarding: the plan, and the stored record unless it was a dry run. */
export interface OffboardingOutcome {
  dryRun: boolean;
  plan: OffboardingPlan;
  offboarding: OffboardingRecord | null;
}

/** How the runner acts: as the system, under the request id the offboarding was asked with. */
function systemContext(record: OffboardingRecord): RequestContext {
  return { actor: { type: 'system', id: 'offboarding' }, requestId: record.requestId };
}

const GROUPS: ResourceIncludes = { members: false, groups: true };
const NONE: ResourceIncludes = { members: false, groups: false };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How long a claimed step is held by one process before another may take it again (a crash, a blocked deletion). */
export const OFFBOARDING_LEASE_MS = 5 * 60 * 1000;

/**
 * Leavers with a successor (draft-ietf-scim-use-cases §3.1): hands the
 * leaver's direct groups, entitlements, roles and direct reports to the
 * successor, queues the transfer of owned objects at every target that can,
 * suspends the leaver (tokens revoked, SSO grants ended) and deletes them
 * after the grace period. Every method authorizes `hr.write` on the tenant
 * (leaver changes, through GraphQL or the CLI) before it reads anything else.
 */
export class OffboardingService {
  constructor(
    private readonly directory: DirectoryStore,
    private readonly store: OffboardingStore,
    private readonly tenants: TenantAuthorizer,
    private readonly clock: Clock,
    private readonly transfers?: OwnershipTransfers,
    private readonly sso?: SsoRevocation,
  ) {}

  /** Plans and (unless `dryRun`) runs or schedules an offboarding. CONFLICT when the leaver has one pending. */
  async offboard(
    principal: Principal,
    tenant: TenantRef,
    request: OffboardingRequest,
    context: RequestContext,
  ): Promise<OffboardingOutcome> {
    const tenantId = await authorizeTenantRef(this.tenants, principal, 'hr.write', tenant);
    const leaver = await this.findUser(tenantId, request.user, 'user');
    const successor = await this.findUser(tenantId, request.successor, 'successor');
    const policy: OffboardingPolicy = { ...DEFAULT_OFFBOARDING_POLICY, ...request.policy };
    const plan = await this.planFor(tenantId, leaver, successor, policy, request.at, request.graceDays);
    if (request.dryRun) return { dryRun: true, plan, offboarding: null };
    const pending = await this.store.pendingOf(tenantId, leaver.id);
    if (pending) {
      throw new MeridianError('CONFLICT', `User '${plan.leaver.userName}' has an offboarding ${pending.status} already (${pending.id}).`, {
        field: 'user',
      });
    }
    const now = this.clock.now();
    const record: OffboardingRecord = {
      id: this.store.newId(),
      tenantId,
      userId: leaver.id,
      successorId: successor.id,
      status: 'scheduled',
      runAt: plan.runAt,
      deleteAt: plan.deleteAt,
      plan,
      policy,
      report: null,
      transfers: [],
      requestId: context.requestId,
      createdAt: now,
      updatedAt: now,
    };
    if (plan.runAt.getTime() > now.getTime()) {
      await this.directory.transaction(tenantId, async (tx) => {
        await this.store.save(tx, record);
        await tx.record(offboardingEvent('account.offboarding_scheduled', record, null, summaryOf(record)), context);
      });
      return { dryRun: false, plan, offboarding: record };
    }
    return { dryRun: false, plan, offboarding: await this.handOver(record, context) };
  }

  /** Cancels a scheduled or suspended offboarding (by its id, or the leaver's id or userName); the leaver stays as it is. */
  async cancel(principal: Principal, tenant: TenantRef, reference: string, context: RequestContext): Promise<OffboardingRecord> {
    const tenantId = await authorizeTenantRef(this.tenants, principal, 'hr.write', tenant);
    let found = UUID.test(reference) ? await this.store.get(tenantId, reference) : undefined;
    if (!found) {
      const user = await this.findUser(tenantId, reference, 'user').catch(() => undefined);
      found = user ? await this.store.pendingOf(tenantId, user.id) : undefined;
    }
    if (!found) throw new MeridianError('NOT_FOUND', `No pending offboarding '${reference}'.`, { field: 'user' });
    const id = found.id;
    return this.directory.transaction(tenantId, async (tx) => {
      const record = await this.store.lock(tx, id);
      if (!record || (record.status !== 'scheduled' && record.status !== 'suspended')) {
        throw new MeridianError(
          'CONFLICT',
          `The offboarding ${id} is ${record?.status ?? 'gone'}: only a scheduled or suspended one can be cancelled.`,
        );
      }
      const cancelled: OffboardingRecord = { ...record, status: 'cancelled', updatedAt: this.clock.now() };
      await this.store.save(tx, cancelled);
      await tx.record(offboardingEvent('account.offboarding_cancelled', cancelled, summaryOf(record), summaryOf(cancelled)), context);
      return cancelled;
    });
  }

  /** One offboarding of the tenant, with its transfers' outcomes. */
  async get(principal: Principal, tenant: TenantRef, id: string): Promise<OffboardingRecord> {
    const tenantId = await authorizeTenantRef(this.tenants, principal, 'hr.write', tenant);
    const found = UUID.test(id) ? await this.store.get(tenantId, id) : undefined;
    if (!found) throw new MeridianError('NOT_FOUND', `Offboarding '${id}' not found.`);
    return found;
  }

  /** The tenant's offboardings, newest first. */
  async list(principal: Principal, tenant: TenantRef, limit = 100): Promise<OffboardingRecord[]> {
    const tenantId = await authorizeTenantRef(this.tenants, principal, 'hr.write', tenant);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new MeridianError('INVALID_INPUT', "'limit' is from 1 to 1000.", { field: 'limit' });
    return this.store.list(tenantId, limit);
  }

  /**
   * A transfer of owned objects on its own (the hub's SCIM `/OwnershipTransfers`, when an upstream hub offboards):
   * queued at every target of the tenant that can; `scim.write` in the token's tenant. The targets it was queued at.
   */
  async transferOwnership(principal: Principal, tenant: TenantRef, from: string, to: string, context: RequestContext): Promise<string[]> {
    const tenantId = await authorizeTenantRef(this.tenants, principal, 'scim.write', tenant);
    const leaver = await this.findUser(tenantId, from, 'from');
    const successor = await this.findUser(tenantId, to, 'to');
    if (leaver.id === successor.id) throw new MeridianError('INVALID_INPUT', "'from' and 'to' must be different Users.", { field: 'to' });
    const candidates = (await this.transfers?.candidates(tenantId, leaver.id, successor.id)) ?? [];
    const targets = candidates.filter((c) => c.capable && c.leaverRemoteId !== null);
    await this.directory.transaction(tenantId, async (tx) => {
      await tx.record(
        {
          type: 'account.ownership_transfer_requested',
          tenantId,
          resourceType: 'User',
          resourceId: leaver.id,
          before: null,
          after: { successorId: successor.id, targets: targets.map((t) => t.targetId) },
        },
        context,
      );
    });
    await this.transfers?.queue(
      targets.map((t) => ({
        tenantId,
        targetId: t.targetId,
        offboardingId: null,
        fromUserId: leaver.id,
        toUserId: successor.id,
        requestId: context.requestId,
      })),
    );
    return targets.map((t) => t.targetId);
  }

  /**
   * Runs what is due (the worker role calls it): scheduled leaves whose time has come, and deletions whose grace
   * period ended once every transfer is done. A deletion waiting for transfers is tried again after the lease.
   * Returns how many steps ran.
   */
  async runDue(limit = 50): Promise<number> {
    const now = this.clock.now();
    const due = await this.store.claimDue(now, OFFBOARDING_LEASE_MS, limit);
    let ran = 0;
    for (const record of due) {
      if (record.status === 'scheduled') {
        await this.handOver(record, systemContext(record));
        ran += 1;
      } else if (record.status === 'suspended' && (await this.deleteLeaver(record))) {
        ran += 1;
      }
    }
    return ran;
  }

  private async findUser(tenantId: string, reference: string, field: string): Promise<ScimResource> {
    let found: ScimResource | undefined;
    if (UUID.test(reference)) found = await this.directory.get(tenantId, 'User', reference, GROUPS);
    if (!found) {
      const page = await this.directory.list(tenantId, 'User', {
        filter: parseScimFilter(`userName eq ${JSON.stringify(reference)}`),
        startIndex: 1,
        count: 1,
        include: GROUPS,
      });
      found = page.resources[0];
    }
    if (!found) throw new MeridianError('NOT_FOUND', `User '${reference}' not found.`, { field });
    return found;
  }

  /** Users whose manager is the leaver, read page by page (keyset). */
  private async reportsOf(tenantId: string, leaverId: string): Promise<ScimResource[]> {
    const filter: Filter = parseScimFilter(`${SCHEMA.enterpriseUser}:manager.value eq ${JSON.stringify(leaverId)}`);
    const reports: ScimResource[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.directory.page(tenantId, 'User', { first: 500, ...(after ? { after } : {}) }, filter);
      reports.push(...page.items);
      if (!page.hasNextPage || page.endCursor === null) return reports;
      after = page.endCursor;
    }
  }

  private async planFor(
    tenantId: string,
    leaver: ScimResource,
    successor: ScimResource,
    policy: OffboardingPolicy,
    at: Date | undefined,
    graceDays: number | undefined,
  ): Promise<OffboardingPlan> {
    const [reports, candidates] = await Promise.all([
      this.reportsOf(tenantId, leaver.id),
      this.transfers?.candidates(tenantId, leaver.id, successor.id) ?? Promise.resolve([]),
    ]);
    return planOffboarding({ leaver, successor, reports, candidates, policy, now: this.clock.now(), at, graceDays });
  }

  /**
   * The handover, in one directory transaction: groups, entitlements and roles, managers, the leaver suspended and
   * its tokens revoked, the record and its audit entry. Transfers are queued after the commit (a lost queueing is
   * queued again before the deletion), then the leaver's SSO grants end.
   */
  private async handOver(record: OffboardingRecord, context: RequestContext): Promise<OffboardingRecord> {
    const { tenantId } = record;
    const leaver = await this.directory.get(tenantId, 'User', record.userId, GROUPS);
    const successor = await this.directory.get(tenantId, 'User', record.successorId, GROUPS);
    if (!leaver || !successor) {
      // A scheduled leave whose leaver or successor was deleted meanwhile: nothing to hand over.
      return this.directory.transaction(tenantId, async (tx) => {
        const cancelled: OffboardingRecord = { ...record, status: 'cancelled', updatedAt: this.clock.now() };
        await this.store.save(tx, cancelled);
        await tx.record(
          offboardingEvent('account.offboarding_cancelled', cancelled, summaryOf(record), { ...summaryOf(cancelled), reason: 'user gone' }),
          context,
        );
        return cancelled;
      });
    }
    const plan = await this.planFor(tenantId, leaver, successor, record.policy, undefined, record.plan.graceDays);
    const now = this.clock.now();
    const transfers: TransferRecord[] = plan.transfers.map((t) => ({
      targetId: t.targetId,
      target: t.target,
      status: 'queued',
      transferred: null,
      lastError: null,
      attempts: 0,
      updatedAt: now,
    }));
    const done = await this.directory.transaction(tenantId, async (tx) => {
      const locked = await this.store.lock(tx, record.id);
      if (locked && locked.status !== 'scheduled') return locked;
      const report: OffboardingReport = {
        groupsMoved: [],
        groupsKept: plan.groups.filter((g) => g.action === 'keep').map((g) => g.groupId),
        entitlementsAdded: plan.entitlements.filter((e) => !e.successorHas).map((e) => e.value),
        rolesAdded: plan.roles.filter((r) => !r.successorHas).map((r) => r.value),
        managersChanged: [],
        tokensRevoked: [],
        ssoGrantsRevoked: 0,
        transfersQueued: transfers.map((t) => t.targetId),
      };
      for (const group of plan.groups.filter((g) => g.action === 'move')) {
        if (
          await moveMembership(tx, tenantId, group.groupId, leaver.id, group.successorAlreadyMember ? undefined : successor.id, context)
        ) {
          report.groupsMoved.push(group.groupId);
        }
      }
      if (report.entitlementsAdded.length > 0 || report.rolesAdded.length > 0) {
        await patchUser(tx, tenantId, successor.id, context, (attributes) => {
          if (report.entitlementsAdded.length > 0) attributes.entitlements = mergedValues(attributes.entitlements, plan.entitlements);
          if (report.rolesAdded.length > 0) attributes.roles = mergedValues(attributes.roles, plan.roles);
          return true;
        });
      }
      for (const reportee of plan.directReports) {
        const changed = await patchUser(tx, tenantId, reportee.id, context, (attributes) => {
          if (managerOf(attributes) !== leaver.id) return false;
          const enterprise = { ...(attributes[SCHEMA.enterpriseUser] as JsonObject) };
          // RFC 7643 §4.3: `manager.displayName` is readOnly; the value alone names the manager.
          enterprise.manager = { value: successor.id };
          attributes[SCHEMA.enterpriseUser] = enterprise;
          return true;
        });
        if (changed) report.managersChanged.push(reportee.id);
      }
      // The leaver is suspended; what moved is no longer theirs (draft-ietf-scim-use-cases §3.1).
      await patchUser(tx, tenantId, leaver.id, context, (attributes) => {
        attributes.active = false;
        if (plan.entitlements.length > 0) delete attributes.entitlements;
        if (plan.roles.length > 0) delete attributes.roles;
        return true;
      });
      report.tokensRevoked = await this.store.revokeUserTokens(tx, leaver.id);
      for (const tokenId of report.tokensRevoked) {
        await tx.record(
          {
            type: 'token.revoked',
            tenantId,
            resourceType: 'Token',
            resourceId: tokenId,
            before: { userId: leaver.id },
            after: { reason: 'offboarding' },
          },
          context,
        );
      }
      const suspended: OffboardingRecord = {
        ...record,
        status: 'suspended',
        runAt: plan.runAt,
        deleteAt: plan.deleteAt,
        plan,
        report,
        transfers,
        updatedAt: this.clock.now(),
      };
      await this.store.save(tx, suspended);
      await tx.record(offboardingEvent('account.offboarded', suspended, summaryOf(record), { ...summaryOf(suspended), report }), context);
      return suspended;
    });
    if (done.status !== 'suspended' || done.report === null || done.updatedAt.getTime() < now.getTime()) return done;
    await this.queueTransfers(done);
    const revoked = (await this.sso?.revokeAccount(tenantId, leaver.id, context)) ?? 0;
    if (revoked === 0) return done;
    const withGrants: OffboardingRecord = { ...done, report: { ...done.report, ssoGrantsRevoked: revoked } };
    await this.directory.transaction(tenantId, (tx) => this.store.save(tx, withGrants));
    return withGrants;
  }

  private async queueTransfers(record: OffboardingRecord): Promise<void> {
    const jobs: OwnershipTransferJob[] = record.transfers
      .filter((t) => t.status === 'queued' || t.status === 'retrying')
      .map((t) => ({
        tenantId: record.tenantId,
        targetId: t.targetId,
        offboardingId: record.id,
        fromUserId: record.userId,
        toUserId: record.successorId,
        requestId: record.requestId,
      }));
    if (jobs.length > 0) await this.transfers?.queue(jobs);
  }

  /** The end of the grace period: deletes the leaver once every transfer is done; false while one is not. */
  private async deleteLeaver(record: OffboardingRecord): Promise<boolean> {
    if (record.transfers.some((t) => t.status !== 'done')) {
      // A queueing lost to a crash is queued again (the same job id; a repeated transfer moves nothing twice).
      await this.queueTransfers(record);
      return false;
    }
    const context = systemContext(record);
    await this.directory.transaction(record.tenantId, async (tx) => {
      const locked = await this.store.lock(tx, record.id);
      if (locked?.status !== 'suspended') return;
      const leaver = await tx.find('User', record.userId, NONE);
      if (leaver) {
        await tx.remove('User', leaver.id);
        await tx.record(
          {
            type: 'user.deleted',
            tenantId: record.tenantId,
            resourceType: 'User',
            resourceId: leaver.id,
            version: leaver.version,
            before: { userName: leaver.attributes.userName, reason: 'offboarding' },
            after: null,
          },
          context,
        );
      }
      const deleted: OffboardingRecord = { ...locked, status: 'deleted', updatedAt: this.clock.now() };
      await this.store.save(tx, deleted);
      await tx.record(offboardingEvent('account.offboarding_completed', deleted, summaryOf(locked), summaryOf(deleted)), context);
    });
    return true;
  }
}

/** Adds `successorId` (unless undefined) to a group and removes the leaver, as a PATCH would (version, event). */
async function moveMembership(
  tx: DirectoryTransaction,
  tenantId: string,
  groupId: string,
  leaverId: string,
  successorId: string | undefined,
  context: RequestContext,
): Promise<boolean> {
  const current = await tx.find('Group', groupId, NONE);
  if (!current) return false;
  const updated = await tx.update('Group', groupId, current.version, {
    externalId: current.externalId,
    attributes: current.attributes,
    extensionSchemas: current.extensionSchemas,
  });
  const changed = await tx.changeMembers(groupId, [
    ...(successorId !== undefined ? [{ kind: 'add' as const, ids: [successorId] }] : []),
    { kind: 'remove', ids: [leaverId] },
  ]);
  await tx.record(
    {
      type: 'group.updated',
      tenantId,
      resourceType: 'Group',
      resourceId: groupId,
      version: updated.version,
      before: { displayName: current.attributes.displayName },
      after: {
        displayName: updated.attributes.displayName,
        ...(changed.added.length > 0 ? { membersAdded: changed.added } : {}),
        ...(changed.removed.length > 0 ? { membersRemoved: changed.removed } : {}),
        reason: 'offboarding',
      },
    },
    context,
  );
  return true;
}

/** Changes a User's attributes with `change` (false from it: no change) and records `user.updated`; false when nothing changed. */
async function patchUser(
  tx: DirectoryTransaction,
  tenantId: string,
  userId: string,
  context: RequestContext,
  change: (attributes: JsonObject) => boolean,
): Promise<boolean> {
  const current = await tx.find('User', userId, NONE);
  if (!current) return false;
  const attributes = JSON.parse(JSON.stringify(current.attributes)) as JsonObject;
  if (change(attributes) === false) return false;
  const updated = await tx.update('User', userId, current.version, {
    externalId: current.externalId,
    attributes,
    extensionSchemas: current.extensionSchemas,
  });
  await tx.record(
    {
      type: 'user.updated',
      tenantId,
      resourceType: 'User',
      resourceId: userId,
      version: updated.version,
      before: { ...current.attributes },
      after: { ...updated.attributes, reason: 'offboarding' },
    },
    context,
  );
  return true;
}

function summaryOf(record: OffboardingRecord): Record<string, unknown> {
  return {
    status: record.status,
    successorId: record.successorId,
    runAt: record.runAt.toISOString(),
    deleteAt: record.deleteAt.toISOString(),
  };
}

function offboardingEvent(
  type: DomainEvent['type'],
  record: OffboardingRecord,
  before: Record<string, unknown> | null,
  after: Record<string, unknown>,
): DomainEvent {
  return {
    type,
    tenantId: record.tenantId,
    resourceType: 'User',
    resourceId: record.userId,
    before,
    after: { offboardingId: record.id, ...after },
  };
}
