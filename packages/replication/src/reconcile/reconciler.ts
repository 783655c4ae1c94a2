import { isInScope, mapResource, type RemoteObject } from '@meridian/connector-sdk';
import type {
  DriftAction,
  DriftItem,
  DriftKind,
  ReconcileReport,
  ReplicationAdmin,
  ReplicationLink,
  ResourceKind,
  ScimResource,
} from '@meridian/core';
import type { ReplicationContext } from '../engine/context.js';
import { ResourceSynchronizer, type SyncOperation } from '../engine/synchronizer.js';
import type { TargetRuntime } from '../targets/connector-registry.js';

function lower(value: unknown): string | undefined {
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}

function nameOf(kind: ResourceKind, attributes: Record<string, unknown>): string | null {
  const value = kind === 'User' ? attributes.userName : attributes.displayName;
  return typeof value === 'string' ? value : null;
}

function asBoolean(value: unknown): unknown {
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}

function findKey(object: Record<string, unknown>, key: string): string | undefined {
  if (key in object) return key;
  const wanted = key.toLowerCase();
  return Object.keys(object).find((k) => k.toLowerCase() === wanted);
}

/** Projects `actual` onto the keys `expected` has, so that values the target adds (defaults, meta) are not drift. */
function project(expected: unknown, actual: unknown): unknown {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return actual;
    const sample = expected.find((e) => typeof e === 'object' && e !== null);
    return actual.map((a) => (sample ? project(sample, a) : asBoolean(a)));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return actual;
    const out: Record<string, unknown> = {};
    const keys = new Set<string>();
    for (const item of [expected] as Record<string, unknown>[]) for (const k of Object.keys(item)) keys.add(k);
    for (const key of keys) {
      const found = findKey(actual as Record<string, unknown>, key);
      if (found !== undefined) out[key] = project((expected as Record<string, unknown>)[key], (actual as Record<string, unknown>)[found]);
    }
    return out;
  }
  return asBoolean(actual);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).sort().join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(asBoolean(value));
}

/** Top-level attribute paths whose values differ (arrays compared as sets; keys the target added ignored). */
export function differingAttributes(expected: Record<string, unknown>, actual: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(expected)) {
    if (key === 'schemas') continue;
    const found = findKey(actual, key);
    const remote = found === undefined ? undefined : actual[found];
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      typeof remote === 'object' &&
      remote !== null &&
      !Array.isArray(remote)
    ) {
      for (const sub of differingAttributes(value as Record<string, unknown>, remote as Record<string, unknown>)) out.push(`${key}.${sub}`);
      continue;
    }
    if (canonical(value) !== canonical(project(value, remote))) out.push(key);
  }
  return out;
}

/** Sync outcomes that wrote nothing to the target: an item fixed by one of these is not fixed. */
const NOTHING_WRITTEN: ReadonlySet<SyncOperation> = new Set(['unchanged', 'skipped', 'out_of_scope']);

/**
 * Compares the hub with a target, object by object (read through the
 * connector's `list`), and brings the target in line unless it is a dry
 * run. A fix is the same state-based sync a worker runs, forced.
 */
export class Reconciler {
  private readonly synchronizer: ResourceSynchronizer;

  constructor(private readonly ctx: ReplicationContext) {
    this.synchronizer = new ResourceSynchronizer(ctx);
  }

  async reconcile(runtime: TargetRuntime, options: Parameters<ReplicationAdmin['reconcile']>[2]): Promise<ReconcileReport> {
    const { target, connector } = runtime;
    const progress = options.onProgress ?? (() => {});
    const report: ReconcileReport = {
      targetId: target.id,
      target: target.name,
      dryRun: options.dryRun,
      hubObjects: 0,
      remoteObjects: 0,
      inSync: 0,
      items: [],
      fixed: 0,
      failed: 0,
    };
    for (const kind of connector.capabilities.kinds) {
      const remote = new Map<string, RemoteObject>();
      if (connector.capabilities.list && connector.list) {
        for await (const object of connector.list(kind)) {
          remote.set(object.ref.remoteId, object);
          progress({ phase: 'listing', kind, done: remote.size });
        }
      }
      report.remoteObjects += remote.size;
      const links = new Map((await this.ctx.store.targetLinks(target.id, kind)).map((l) => [l.localId, l]));
      const seenRemote = new Set<string>();
      const shape = await this.ctx.resources.shapeOf(target.tenantId, kind);
      let after: string | undefined;
      for (;;) {
        const page = await this.ctx.resources.page(target.tenantId, kind, { first: 200, ...(after !== undefined ? { after } : {}) });
        for (const listed of page.items) {
          const resource =
            (await this.ctx.resources.get(target.tenantId, kind, listed.id, { members: kind === 'Group', groups: kind === 'User' })) ??
            listed;
          report.hubObjects += 1;
          progress({ phase: 'comparing', kind, done: report.hubObjects });
          const link = links.get(resource.id);
          links.delete(resource.id);
          const item = await this.compare(
            runtime,
            resource,
            link,
            remote,
            isInScope(runtime.scoping, resource, shape) && (await this.ctx.admitted(target, resource)),
          );
          if (item?.remoteId) seenRemote.add(item.remoteId);
          else if (link?.remoteId) seenRemote.add(link.remoteId);
          if (item && item.drift !== ('in_sync' as DriftKind)) report.items.push(item);
          else report.inSync += 1;
        }
        if (!page.hasNextPage || page.endCursor === null) break;
        after = page.endCursor;
      }
      // Links of resources the hub no longer has: the remote object should be gone or deactivated.
      for (const link of links.values()) {
        if (!link.remoteId) continue;
        seenRemote.add(link.remoteId);
        const object = remote.get(link.remoteId);
        if (!object) continue;
        const action = this.retireAction(runtime, link, object);
        if (action !== 'none') {
          report.items.push({
            kind,
            localId: link.localId,
            remoteId: link.remoteId,
            name: nameOf(kind, object.attributes),
            drift: 'stale',
            differences: [],
            action,
          });
        } else report.inSync += 1;
      }
      for (const [remoteId, object] of remote) {
        if (seenRemote.has(remoteId)) continue;
        report.items.push({
          kind,
          localId: null,
          remoteId,
          name: nameOf(kind, object.attributes),
          drift: 'orphan',
          differences: [],
          action: 'none',
        });
      }
    }
    if (!options.dryRun) {
      const total = report.items.filter((i) => i.action !== 'none' && i.localId !== null).length;
      let done = 0;
      for (const item of report.items) {
        if (item.action === 'none' || item.localId === null) continue;
        try {
          await this.ctx.store.markPending(target.tenantId, target.id, item.kind, item.localId, 0);
          const result = await this.synchronizer.sync(
            runtime,
            { tenantId: target.tenantId, targetId: target.id, kind: item.kind, resourceId: item.localId, version: 0 },
            { force: true },
          );
          // Fixed only when the target now holds what the hub has: a sync that wrote nothing, or a target that still
          // differs after it, leaves the drift in place.
          const left = NOTHING_WRITTEN.has(result.operation)
            ? `nothing was written to the target (${result.operation})`
            : await this.stillDiffers(runtime, item);
          if (left !== undefined) throw new Error(left);
          item.applied = true;
          report.fixed += 1;
        } catch (error) {
          item.applied = false;
          item.error = error instanceof Error ? error.message : String(error);
          report.failed += 1;
        }
        progress({ phase: 'fixing', done: ++done, total });
      }
    }
    return report;
  }

  /** Why a fixed create, adopt or update did not take at the target (read back and compared again); undefined when it did. */
  private async stillDiffers(runtime: TargetRuntime, item: DriftItem): Promise<string | undefined> {
    if (item.localId === null || (item.action !== 'create' && item.action !== 'adopt' && item.action !== 'update')) return undefined;
    const { target, connector } = runtime;
    const resource = await this.ctx.resources.get(target.tenantId, item.kind, item.localId, {
      members: item.kind === 'Group',
      groups: item.kind === 'User',
    });
    const link = await this.ctx.store.getLink(target.id, item.kind, item.localId);
    if (!resource || !link?.remoteId) return 'the target holds no object for it after the fix';
    const object = await connector.get({ kind: item.kind, remoteId: link.remoteId });
    if (!object) return `the target's ${item.kind} ${link.remoteId} is gone after the fix`;
    const after = await this.compare(runtime, resource, link, new Map([[object.ref.remoteId, object]]), true);
    if (!after || after.drift === ('in_sync' as DriftKind)) return undefined;
    return `the target still differs after the fix (${after.drift}${after.differences.length > 0 ? `: ${after.differences.join(', ')}` : ''})`;
  }

  private retireAction(runtime: TargetRuntime, link: ReplicationLink, object: RemoteObject): DriftAction {
    const { target, connector } = runtime;
    const mode = link.kind === 'User' && connector.capabilities.deactivate ? target.deleteMode : 'delete';
    if (mode === 'delete') return 'delete';
    return asBoolean(object.attributes.active) === false ? 'none' : 'deactivate';
  }

  /**
   * How one hub resource stands at a target (undefined: nothing to do); `remote` holds the target's listed objects.
   * The migrator (target-migrator.ts) compares the same way.
   */
  async compare(
    runtime: TargetRuntime,
    resource: ScimResource,
    link: ReplicationLink | undefined,
    remote: Map<string, RemoteObject>,
    inScope: boolean,
  ): Promise<DriftItem | undefined> {
    const kind = resource.kind;
    const name = nameOf(kind, resource.attributes);
    const base = { kind, localId: resource.id, name, differences: [] as string[] };
    let object = link?.remoteId ? remote.get(link.remoteId) : undefined;
    const { connector } = runtime;
    if (!object && link?.remoteId && !connector.capabilities.list) {
      // A target that cannot list is read object by object.
      object = await connector.get({ kind, remoteId: link.remoteId });
      if (object) remote.set(object.ref.remoteId, object);
    }
    if (!inScope) {
      if (!link?.remoteId || !object) return undefined;
      const action = this.retireAction(runtime, link, object);
      return action === 'none' ? undefined : { ...base, remoteId: link.remoteId, drift: 'stale', action };
    }
    const expected = await mapResource(runtime.mapping, resource);
    if (!object) {
      // Not linked (or the linked object is gone): an unlinked remote object with the same name is adopted.
      const key = lower(nameOf(kind, expected));
      // The externalId the mapping sends (the hub's id under the identity mapping, RFC 7643 §3.1).
      const externalId = typeof expected.externalId === 'string' ? expected.externalId : resource.id;
      const candidate = [...remote.values()].find(
        (o) => o.attributes.externalId === externalId || (key !== undefined && lower(nameOf(kind, o.attributes)) === key),
      );
      if (candidate) return { ...base, remoteId: candidate.ref.remoteId, drift: 'unlinked', action: 'adopt' };
      return { ...base, remoteId: link?.remoteId ?? null, drift: 'missing', action: 'create' };
    }
    const differences = differingAttributes(expected, object.attributes);
    if (kind === 'Group') {
      const members = (
        await this.ctx.store.links(
          runtime.target.id,
          'User',
          resource.members.filter((m) => m.type === 'User').map((m) => m.value),
        )
      )
        .concat(
          await this.ctx.store.links(
            runtime.target.id,
            'Group',
            resource.members.filter((m) => m.type === 'Group').map((m) => m.value),
          ),
        )
        .filter((l) => l.remoteId && l.status === 'synced')
        .map((l) => l.remoteId as string)
        .sort();
      if (canonical(members) !== canonical([...object.members].sort())) differences.push('members');
    }
    if (differences.length === 0) return { ...base, remoteId: object.ref.remoteId, drift: 'in_sync' as DriftKind, action: 'none' };
    return { ...base, remoteId: object.ref.remoteId, drift: 'changed', differences, action: 'update' };
  }
}
