import { isInScope, mapResource, type RemoteObject } from '@meridian/connector-sdk';
import {
  type LinkStatus,
  MeridianError,
  type MigrationItem,
  type MigrationOptions,
  type MigrationOutcome,
  type MigrationReport,
  type ReplicationLink,
  type ReplicationTarget,
  type ResourceKind,
} from '@meridian/core';
import type { ReplicationContext } from '../engine/context.js';
import { ResourceSynchronizer, type SyncOperation } from '../engine/synchronizer.js';
import type { TargetRuntime } from '../targets/connector-registry.js';
import type { Reconciler } from './reconciler.js';

/** Links whose object the old target holds as a live copy of the hub's resource: the ones a migration moves. */
const LIVE: ReadonlySet<LinkStatus> = new Set(['synced', 'pending', 'retrying', 'dead_lettered']);
/** Links whose object the old target keeps only deactivated (the hub deleted the resource or scoped it out). */
const DEPARTED: ReadonlySet<LinkStatus> = new Set(['deactivated', 'grace']);

/** The settings that shape what a target holds; a difference between the two targets may change the representation. */
const SHAPING = ['mapping', 'scoping', 'deleteMode', 'pushPasswords'] as const;

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function settingsDiffer(from: ReplicationTarget, to: ReplicationTarget): string[] {
  return SHAPING.filter((key) => canonical(from[key]) !== canonical(to[key]));
}

function emptyCounts(): Record<MigrationOutcome, number> {
  return { created: 0, adopted: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0 };
}

/**
 * The report's outcome for what the synchronizer did: a create that found the object after all is an adoption;
 * otherwise the plan stands (a change pushed meanwhile by a worker makes the sync find nothing left to do).
 */
function outcomeOf(operation: SyncOperation, planned: MigrationOutcome): MigrationOutcome {
  return operation === 'created' || operation === 'adopted' ? operation : planned;
}

/**
 * Moves an office's downstream from one target to another (use case 3.2 of
 * draft-ietf-scim-use-cases, issue 19): every User and Group the old target
 * holds for the tenant is brought to the new one, Users first so that the
 * Groups' members exist when the Groups are pushed. It builds on the
 * reconciler: the new target's objects are listed and compared the same way
 * (an unlinked object with the hub's `externalId` or the same userName or
 * displayName is adopted, not duplicated), and each fix is the same forced
 * state-based sync a worker runs, so the new target gets the hub's
 * `externalId`s, attributes and memberships, and each push is audited as a
 * `replication.delivered` entry. The scope is the old target's links, not
 * the whole tenant: what the old target held is what moves.
 */
export class TargetMigrator {
  private readonly synchronizer: ResourceSynchronizer;

  constructor(
    private readonly ctx: ReplicationContext,
    private readonly reconciler: Reconciler,
  ) {
    this.synchronizer = new ResourceSynchronizer(ctx);
  }

  async migrate(from: TargetRuntime, to: TargetRuntime, options: MigrationOptions, requestId: string): Promise<MigrationReport> {
    const progress = options.onProgress ?? (() => {});
    const tenantId = from.target.tenantId;
    const report: MigrationReport = {
      dryRun: options.dryRun,
      from: { id: from.target.id, name: from.target.name },
      to: { id: to.target.id, name: to.target.name },
      retireAt: options.retireAt ?? null,
      settingsDiffer: settingsDiffer(from.target, to.target),
      counts: emptyCounts(),
      items: [],
    };
    /** Groups pushed in this run that have groups among their members: pushed again once every group exists (nesting). */
    const nesting: MigrationItem[] = [];
    for (const kind of ['User', 'Group'] as const) {
      const held = (await this.ctx.store.targetLinks(from.target.id, kind)).filter((l) => l.remoteId !== null);
      if (held.length === 0) continue;
      const remote = new Map<string, RemoteObject>();
      if (to.connector.capabilities.list && to.connector.list && to.connector.capabilities.kinds.includes(kind)) {
        for await (const object of to.connector.list(kind)) {
          remote.set(object.ref.remoteId, object);
          progress({ phase: 'listing', kind, done: remote.size });
        }
      }
      const linked = new Map(
        (
          await this.ctx.store.links(
            to.target.id,
            kind,
            held.map((l) => l.localId),
          )
        ).map((l) => [l.localId, l]),
      );
      const planned: MigrationItem[] = [];
      for (const link of held) {
        planned.push(await this.plan(from, to, link, linked.get(link.localId), remote));
        progress({ phase: 'comparing', kind, done: planned.length, total: held.length });
      }
      let done = 0;
      for (const item of planned) {
        if (!options.dryRun && (item.outcome === 'created' || item.outcome === 'adopted' || item.outcome === 'updated')) {
          if ((await this.apply(to, item, requestId)) && kind === 'Group') nesting.push(item);
        }
        report.items.push(item);
        report.counts[item.outcome] += 1;
        progress({ phase: 'migrating', kind, done: ++done, total: planned.length });
      }
    }
    for (const item of nesting) {
      const group = await this.ctx.resources.get(tenantId, 'Group', item.localId, { members: true, groups: false });
      if (!group?.members.some((m) => m.type === 'Group')) continue;
      const again = { ...item };
      if (!(await this.apply(to, again, requestId))) {
        report.counts[item.outcome] -= 1;
        report.counts.failed += 1;
        Object.assign(item, { outcome: 'failed', reason: again.reason });
      }
    }
    return report;
  }

  /** What migrating one object the old target holds would do at the new one. */
  private async plan(
    from: TargetRuntime,
    to: TargetRuntime,
    link: ReplicationLink,
    toLink: ReplicationLink | undefined,
    remote: Map<string, RemoteObject>,
  ): Promise<MigrationItem> {
    const { tenantId } = from.target;
    const kind: ResourceKind = link.kind;
    const item: MigrationItem = {
      kind,
      localId: link.localId,
      name: null,
      externalId: null,
      fromRemoteId: link.remoteId,
      toRemoteId: toLink?.remoteId ?? null,
      outcome: 'skipped',
      differences: [],
    };
    const resource = await this.ctx.resources.get(tenantId, kind, link.localId, { members: kind === 'Group', groups: kind === 'User' });
    if (!resource) return { ...item, reason: 'The hub no longer holds it (deleted); the old target keeps it as its delete mode left it.' };
    const expected = await mapResource(to.mapping, resource);
    const name = kind === 'User' ? resource.attributes.userName : resource.attributes.displayName;
    item.name = typeof name === 'string' ? name : null;
    item.externalId = typeof expected.externalId === 'string' ? expected.externalId : null;
    if (DEPARTED.has(link.status)) return { ...item, reason: `Deactivated at the old target (${link.status}): out of its scope.` };
    if (!LIVE.has(link.status)) return { ...item, reason: `Not held at the old target (${link.status}).` };
    if (!to.connector.capabilities.kinds.includes(kind)) return { ...item, reason: `The new target's connector takes no ${kind}s.` };
    const inScope =
      isInScope(to.scoping, resource, await this.ctx.resources.shapeOf(tenantId, kind)) && (await this.ctx.admitted(to.target, resource));
    if (!inScope) return { ...item, reason: "Outside the new target's scope (its scoping filter)." };
    const drift = await this.reconciler.compare(to, resource, toLink, remote, true);
    if (!drift || (drift.drift as string) === 'in_sync')
      return { ...item, toRemoteId: drift?.remoteId ?? item.toRemoteId, outcome: 'unchanged' };
    const outcome: MigrationOutcome = drift.action === 'adopt' ? 'adopted' : drift.action === 'create' ? 'created' : 'updated';
    return { ...item, toRemoteId: drift.remoteId, outcome, differences: drift.differences };
  }

  /** Pushes one object to the new target: the worker's sync, forced; the item takes what it did, or the failure (false). */
  private async apply(to: TargetRuntime, item: MigrationItem, requestId: string): Promise<boolean> {
    const { tenantId, id: targetId } = to.target;
    try {
      await this.ctx.store.markPending(tenantId, targetId, item.kind, item.localId, 0);
      const result = await this.synchronizer.sync(
        to,
        { tenantId, targetId, kind: item.kind, resourceId: item.localId, version: 0, requestId },
        // The migration pushes the Groups itself once every User is there: a new User queues no group job that would
        // race with it.
        { force: true, groupsFollow: false },
      );
      if (result.operation === 'out_of_scope' || result.operation === 'skipped') {
        throw new MeridianError('CONFLICT', `The new target did not take it (${result.operation}).`);
      }
      item.outcome = outcomeOf(result.operation, item.outcome);
      item.toRemoteId = result.remoteId ?? item.toRemoteId;
      return true;
    } catch (error) {
      item.outcome = 'failed';
      item.reason = error instanceof Error ? error.message : String(error);
      return false;
    }
  }
}
