import { MeridianError } from '../errors/meridian-error.js';
import type { DeadLetter, ReplicationTarget, TargetStatusCounts } from '../ports/replication.js';
import type {
  DeadLetterQuery,
  MigrationOptions,
  MigrationReport,
  ReconcileReport,
  ReplicationAdmin,
  ResourceReplicationStatus,
  TargetChanges,
  TargetInput,
  TargetTestResult,
} from '../ports/replication-admin.js';
import type { ResourceKind } from '../scim/resource-types.js';
import type { Principal, RequestContext } from '../tenancy/model.js';
import type { Action } from '../tenancy/permissions.js';
import { authorizeTenantRef, type TenantAuthorizer, type TenantRef } from '../tenancy/tenant-access.js';

/** Reading targets, delivery status and dead letters. */
const READ: Action = 'replication.read';
/** Adding, changing, pausing, testing, reconciling and replaying targets, and the wait policy. */
const MANAGE: Action = 'replication.manage';

/**
 * The replication engine's admin surface for callers (GraphQL): every
 * operation takes the principal and is authorized here, on the tenant it
 * names, by the permission matrix (`replication.read` to look,
 * `replication.manage` to change anything; targets hold credentials). A tenant
 * out of reach is NOT_FOUND, as one that does not exist. Then the engine
 * (the {@link ReplicationAdmin} port) does the work in that tenant.
 */
export class ReplicationService {
  constructor(
    private readonly engine: ReplicationAdmin,
    private readonly tenants: TenantAuthorizer,
  ) {}

  private tenantId(principal: Principal, action: Action, tenant: TenantRef): Promise<string> {
    return authorizeTenantRef(this.tenants, principal, action, tenant);
  }

  /** The tenant's replication targets. */
  async targets(principal: Principal, tenant: TenantRef): Promise<ReplicationTarget[]> {
    return this.engine.targets.list(await this.tenantId(principal, READ, tenant));
  }

  /** One target of the tenant, by id or name. */
  async target(principal: Principal, tenant: TenantRef, target: string): Promise<ReplicationTarget> {
    return this.engine.targets.get(await this.tenantId(principal, READ, tenant), target);
  }

  /** Per target: pending, delivered, failed, dead-lettered and skipped resources. */
  async statusCounts(principal: Principal, tenant: TenantRef): Promise<TargetStatusCounts[]> {
    return this.engine.statusCounts(await this.tenantId(principal, READ, tenant));
  }

  /** Where one User or Group (`kind`, INVALID_INPUT for anything else) stands at each target of its tenant. */
  async resourceStatus(principal: Principal, tenant: TenantRef, kind: string, id: string): Promise<ResourceReplicationStatus[]> {
    const tenantId = await this.tenantId(principal, READ, tenant);
    return this.engine.resourceStatus(tenantId, resourceKind(kind), id);
  }

  /** Permanent failures, newest first; replayed ones when asked. */
  async deadLetters(principal: Principal, tenant: TenantRef, query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    return this.engine.deadLetters(await this.tenantId(principal, READ, tenant), query);
  }

  /** Seconds a SCIM write of the tenant waits for its deliveries when the client sends no `Prefer: wait`. */
  async waitPolicy(principal: Principal, tenant: TenantRef): Promise<number> {
    return this.engine.waitPolicy(await this.tenantId(principal, READ, tenant));
  }

  /** Creates a target (it needs a name and a kind); its secrets are stored sealed. */
  async createTarget(
    principal: Principal,
    tenant: TenantRef,
    input: Partial<TargetInput>,
    context: RequestContext,
  ): Promise<ReplicationTarget> {
    const tenantId = await this.tenantId(principal, MANAGE, tenant);
    if (!input.name || !input.kind) {
      throw new MeridianError('INVALID_INPUT', 'A new target needs a name and a kind.', { field: input.name ? 'kind' : 'name' });
    }
    return this.engine.targets.create(tenantId, input as TargetInput, context);
  }

  /** Changes a target (id or name); secrets are merged, a null value removes one. */
  async updateTarget(
    principal: Principal,
    tenant: TenantRef,
    target: string,
    changes: TargetChanges,
    context: RequestContext,
  ): Promise<ReplicationTarget> {
    return this.engine.targets.update(await this.tenantId(principal, MANAGE, tenant), target, changes, context);
  }

  /** Deletes a target, its queue, links and dead letters; remote objects stay. */
  async deleteTarget(principal: Principal, tenant: TenantRef, target: string, context: RequestContext): Promise<void> {
    await this.engine.targets.delete(await this.tenantId(principal, MANAGE, tenant), target, context);
  }

  /** Pauses deliveries to a target; changes keep queueing. */
  async pauseTarget(principal: Principal, tenant: TenantRef, target: string, context: RequestContext): Promise<ReplicationTarget> {
    return this.engine.targets.pause(await this.tenantId(principal, MANAGE, tenant), target, context);
  }

  /** Resumes deliveries to a target. */
  async resumeTarget(principal: Principal, tenant: TenantRef, target: string, context: RequestContext): Promise<ReplicationTarget> {
    return this.engine.targets.resume(await this.tenantId(principal, MANAGE, tenant), target, context);
  }

  /** Tests a target's connection and credentials without changing anything. */
  async testTarget(principal: Principal, tenant: TenantRef, target: string): Promise<TargetTestResult> {
    return this.engine.targets.test(await this.tenantId(principal, MANAGE, tenant), target);
  }

  /** Replays a dead letter: the resource's current state is queued for its target again. */
  async replay(principal: Principal, tenant: TenantRef, deadLetterId: string, context: RequestContext): Promise<DeadLetter> {
    return this.engine.replay(await this.tenantId(principal, MANAGE, tenant), deadLetterId, context);
  }

  /** Compares the hub with a target object by object; fixes the drift unless `dryRun`. */
  async reconcile(
    principal: Principal,
    tenant: TenantRef,
    target: string,
    options: Parameters<ReplicationAdmin['reconcile']>[2],
  ): Promise<ReconcileReport> {
    return this.engine.reconcile(await this.tenantId(principal, MANAGE, tenant), target, options);
  }

  /**
   * Brings one target to the state another holds and schedules the old one's retirement (use case 3.2 of
   * draft-ietf-scim-use-cases); a dry run reports per object what would happen and writes nothing.
   */
  async migrate(principal: Principal, tenant: TenantRef, options: MigrationOptions, context: RequestContext): Promise<MigrationReport> {
    return this.engine.migrate(await this.tenantId(principal, MANAGE, tenant), options, context);
  }

  /** Drops a target's scheduled retirement. */
  async cancelRetirement(principal: Principal, tenant: TenantRef, target: string, context: RequestContext): Promise<ReplicationTarget> {
    return this.engine.cancelRetirement(await this.tenantId(principal, MANAGE, tenant), target, context);
  }

  /** Sets the tenant's wait policy (the engine checks the seconds). */
  async setWaitPolicy(principal: Principal, tenant: TenantRef, seconds: number, context: RequestContext): Promise<number> {
    return this.engine.setWaitPolicy(await this.tenantId(principal, MANAGE, tenant), seconds, context);
  }
}

function resourceKind(kind: string): ResourceKind {
  if (kind !== 'User' && kind !== 'Group') throw new MeridianError('INVALID_INPUT', "'kind' is User or Group.", { field: 'kind' });
  return kind;
}
