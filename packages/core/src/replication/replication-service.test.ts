import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import type { ReplicationTarget } from '../ports/replication.js';
import type { ReplicationAdmin } from '../ports/replication-admin.js';
import { AdminService } from '../tenancy/admin-service.js';
import type { Principal } from '../tenancy/model.js';
import { OPERATIONS, principalOfRole, roleMayTake } from '../tenancy/permissions.js';
import { ROLES } from '../tenancy/roles.js';
import { apac, at, coi, context, emea, tenantStore } from '../tenancy/tenancy-fixtures.js';
import { ReplicationService } from './replication-service.js';

/** An engine that records the tenant of each call it gets. */
function fakeEngine() {
  const calls: { method: string; tenantId: string; args: unknown[] }[] = [];
  const target = { id: 'target-1', name: 'cloud' } as ReplicationTarget;
  const record =
    <T>(method: string, result: T) =>
    async (tenantId: string, ...args: unknown[]): Promise<T> => {
      calls.push({ method, tenantId, args });
      return result;
    };
  const engine: ReplicationAdmin = {
    targets: {
      list: record('targets.list', [target]),
      get: record('targets.get', target),
      create: record('targets.create', target),
      update: record('targets.update', target),
      delete: record('targets.delete', undefined),
      pause: record('targets.pause', target),
      resume: record('targets.resume', target),
      test: record('targets.test', { ok: true, message: 'ok' }),
    },
    statusCounts: record('statusCounts', []),
    resourceStatus: record('resourceStatus', []),
    deadLetters: record('deadLetters', []),
    replay: record('replay', { id: 'letter' } as never),
    reconcile: record('reconcile', { targetId: 'target-1' } as never),
    migrate: record('migrate', { dryRun: true } as never),
    cancelRetirement: record('cancelRetirement', target),
    waitPolicy: record('waitPolicy', 0),
    setWaitPolicy: record('setWaitPolicy', 5),
  };
  return { engine, calls };
}

function setup() {
  const { engine, calls } = fakeEngine();
  const admin = new AdminService(tenantStore(), { now: () => at });
  return { service: new ReplicationService(engine, admin), calls };
}

type Call = (service: ReplicationService, principal: Principal, tenant: Parameters<ReplicationService['targets']>[1]) => Promise<unknown>;

/** Each GraphQL operation the service serves, and how the resolver calls it. */
const CALLS: Record<string, Call> = {
  'Query.targets': (s, p, t) => s.targets(p, t),
  'Tenant.replicationTargets': (s, p, t) => s.targets(p, t),
  'Tenant.replicationCounts': (s, p, t) => s.statusCounts(p, t),
  'Tenant.deadLetters': (s, p, t) => s.deadLetters(p, t, { limit: 10 }),
  'Tenant.replicationWaitSeconds': (s, p, t) => s.waitPolicy(p, t),
  'Query.replicationStatus': (s, p, t) => s.resourceStatus(p, t, 'User', 'u1'),
  'Account.replicationStatus': (s, p, t) => s.resourceStatus(p, t, 'User', 'u1'),
  'Mutation.createReplicationTarget': (s, p, t) => s.createTarget(p, t, { name: 'cloud', kind: 'memory' }, context),
  'Mutation.updateReplicationTarget': (s, p, t) => s.updateTarget(p, t, 'cloud', { paused: true }, context),
  'Mutation.deleteReplicationTarget': (s, p, t) => s.deleteTarget(p, t, 'cloud', context),
  'Mutation.pauseReplicationTarget': (s, p, t) => s.pauseTarget(p, t, 'cloud', context),
  'Mutation.resumeReplicationTarget': (s, p, t) => s.resumeTarget(p, t, 'cloud', context),
  'Mutation.testReplicationTarget': (s, p, t) => s.testTarget(p, t, 'cloud'),
  'Mutation.reconcileReplicationTarget': (s, p, t) => s.reconcile(p, t, 'cloud', { dryRun: true }),
  'Mutation.migrateReplicationTarget': (s, p, t) => s.migrate(p, t, { from: 'cloud', to: 'other', dryRun: true }, context),
  'Mutation.cancelReplicationTargetRetirement': (s, p, t) => s.cancelRetirement(p, t, 'cloud', context),
  'Mutation.replayDeadLetter': (s, p, t) => s.replay(p, t, 'letter', context),
  'Mutation.setReplicationWaitSeconds': (s, p, t) => s.setWaitPolicy(p, t, 5, context),
};

async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'allowed';
  } catch (error) {
    if (error instanceof MeridianError) return error.code;
    throw error;
  }
}

describe('ReplicationService authorizes every call by the permission matrix', () => {
  const operations = OPERATIONS.filter((o) => o.name in CALLS);
  const own = { id: 'own-tenant', communityId: 'own-community' };

  it('serves every replication operation of the matrix', () => {
    // Inbound sources are managed on the same actions by SourceService (docs/sources.md); the hub's security matrix
    // runs each of their GraphQL operations as every role.
    const replication = OPERATIONS.filter((o) => o.action.startsWith('replication.') && !/inboundsource/i.test(o.name)).map((o) => o.name);
    expect(replication.filter((name) => !(name in CALLS))).toEqual([]);
  });

  const cells = operations.flatMap((operation) => ROLES.map((role) => [operation.name, role, operation.action] as const));
  it.each(cells)('%s as %s', async (name, role, action) => {
    const { service, calls } = setup();
    const call = CALLS[name] as Call;
    const result = await outcome(call(service, principalOfRole(role), own));
    if (roleMayTake(role, action)) {
      expect(result).toBe('allowed');
      expect(calls.map((c) => c.tenantId)).toEqual(['own-tenant']);
    } else {
      expect(result).toBe('FORBIDDEN');
      expect(calls).toEqual([]);
    }
  });
});

describe('ReplicationService.target (the CLI reads one target)', () => {
  it.each(ROLES)('as %s: replication.read', async (role) => {
    const { service, calls } = setup();
    const result = await outcome(service.target(principalOfRole(role), { id: 'own-tenant', communityId: 'own-community' }, 'cloud'));
    expect(result).toBe(roleMayTake(role, 'replication.read') ? 'allowed' : 'FORBIDDEN');
    expect(calls.map((c) => [c.method, c.tenantId])).toEqual(result === 'allowed' ? [['targets.get', 'own-tenant']] : []);
  });
});

describe('ReplicationService names tenants the way the admin service does', () => {
  const communityAdmin = principalOfRole('community_admin', { communityId: coi.id });

  it('resolves a slug in the caller community and hands the engine its id', async () => {
    const { service, calls } = setup();
    await service.targets(communityAdmin, 'emea');
    await service.targets(principalOfRole('platform_admin'), 'other/apac');
    expect(calls.map((c) => c.tenantId)).toEqual([emea.id, apac.id]);
  });

  it("answers NOT_FOUND, naming the tenant, for another community's tenant and for none at all", async () => {
    const { service, calls } = setup();
    for (const tenant of [apac.id, 'other/apac', 'nowhere', apac]) {
      await expect(service.setWaitPolicy(communityAdmin, tenant, 5, context)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    await expect(service.targets(communityAdmin, apac.id)).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'tenant' });
    expect(calls).toEqual([]);
  });

  it('refuses a caller without the scope before it looks the tenant up: FORBIDDEN, even for a tenant that does not exist', async () => {
    const { service } = setup();
    const reader = principalOfRole('hr_reader', { communityId: coi.id });
    await expect(service.targets(reader, 'nowhere')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service.targets(reader, 'emea')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it("lets a tenant's own token name its tenant by id without a lookup, and nobody else's", async () => {
    const { service, calls } = setup();
    const office = principalOfRole('office_admin', { tenantId: emea.id });
    await service.statusCounts(office, emea.id);
    await expect(service.statusCounts(office, apac.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(calls.map((c) => c.tenantId)).toEqual([emea.id]);
  });
});

describe('ReplicationService checks its input after the caller', () => {
  it('needs a name and a kind for a new target, from an authorized caller only', async () => {
    const { service, calls } = setup();
    const admin = principalOfRole('platform_admin');
    await expect(service.createTarget(admin, emea, { kind: 'memory' }, context)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'name',
    });
    await expect(service.createTarget(admin, emea, { name: 'x' }, context)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'kind' });
    await expect(service.createTarget(principalOfRole('hr_reader'), emea, {}, context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(calls).toEqual([]);
  });

  it('takes User or Group as the kind of a status query', async () => {
    const { service, calls } = setup();
    await expect(service.resourceStatus(principalOfRole('platform_admin'), emea, 'Person', 'p1')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'kind',
    });
    await expect(service.resourceStatus(principalOfRole('auditor'), emea, 'Person', 'p1')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await service.resourceStatus(principalOfRole('platform_admin'), emea, 'Group', 'g1');
    expect(calls).toEqual([{ method: 'resourceStatus', tenantId: emea.id, args: ['Group', 'g1'] }]);
  });
});
