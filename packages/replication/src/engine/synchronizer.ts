// Over 600 lines on purpose: one delivery's whole decision (scope, mapping, match, create, update, delete modes,
// membership deltas, the link's state) in one place, so that its crash-safety argument can be read in one pass.
import { createHash } from 'node:crypto';
import {
  ConnectorError,
  isConnectorError,
  isInScope,
  mapResource,
  type OutboundMember,
  type OutboundObject,
  type RemoteRef,
} from '@meridian/connector-sdk';
import {
  type DomainEvent,
  type LinkUpdate,
  pendingPasswordContext,
  type ReplicationLink,
  type ReplicationTarget,
  type ResourceKind,
  type ScimResource,
} from '@meridian/core';
import type { SyncJobData } from '../queue/target-queues.js';
import type { TargetRuntime } from '../targets/connector-registry.js';
import type { ReplicationContext } from './context.js';
import type { LoadedJob } from './delivery-batches.js';

/** What one job did, for logs and tests. */
export type SyncOperation =
  | 'created'
  | 'adopted'
  | 'updated'
  | 'unchanged'
  | 'deactivated'
  | 'grace'
  | 'deleted'
  | 'out_of_scope'
  | 'transferred'
  | 'skipped';

/** The outcome of one sync. */
export interface SyncResult {
  operation: SyncOperation;
  remoteId: string | null;
  version: number | null;
}

/** A failure at a named step, so the dead letter says what was being done. */
export class SyncStepError extends Error {
  override readonly name = 'SyncStepError';
  constructor(
    readonly operation: string,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

async function step<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof SyncStepError ? error : new SyncStepError(operation, error);
  }
}

function hashOf(attributes: Record<string, unknown>, members: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify(sortKeys({ attributes, members: [...members].sort() })))
    .digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

function isCode(error: unknown, code: ConnectorError['code']): boolean {
  const inner = error instanceof SyncStepError ? error.cause : error;
  return isConnectorError(inner) && inner.code === code;
}

/** Link statuses whose remote object stands for a live hub resource. */
const LIVE: ReadonlySet<string> = new Set(['synced', 'pending', 'retrying', 'dead_lettered']);

/**
 * Brings one resource at one target to the hub's CURRENT state (docs/architecture.md,
 * "The flow of one change", step 6): state-based, so a retry, a duplicate or a replay
 * has the effect of one push.
 */
/**
 * A target's runtime for one job: the request whose change it delivers rides
 * along to every record it writes, and each write brings back the resource's
 * version as it stands after it (`seen`; null: deleted).
 */
type JobRuntime = TargetRuntime & {
  readonly requestId: string | undefined;
  readonly subject: string;
  seen: number | null;
  /** False when the caller pushes the groups itself (a migration, after every User): a new User queues none. */
  readonly groupsFollow: boolean;
};

export class ResourceSynchronizer {
  constructor(private readonly ctx: ReplicationContext) {}

  /**
   * Runs one sync job. Connector failures are thrown as {@link SyncStepError}.
   * `loaded` is what the worker already read for it (its target, link and resource).
   */
  async sync(
    targetRuntime: TargetRuntime,
    data: SyncJobData,
    options: { force?: boolean; loaded?: LoadedJob; groupsFollow?: boolean } = {},
  ): Promise<SyncResult> {
    const runtime: JobRuntime = {
      ...targetRuntime,
      requestId: data.requestId,
      subject: `${data.kind}/${data.resourceId}`,
      seen: null,
      groupsFollow: options.groupsFollow ?? true,
    };
    const force = options.force === true;
    const { connector } = runtime;
    const { tenantId, kind, resourceId } = data;
    if (!connector.capabilities.kinds.includes(kind)) {
      await this.save(runtime, kind, resourceId, { remoteId: null, status: 'out_of_scope', handledVersion: 'wanted', lastError: null });
      return { operation: 'skipped', remoteId: null, version: null };
    }
    const loaded = options.loaded ?? (await this.ctx.batches.load(data));
    const { link } = loaded;
    const delta = loaded.resource && !force ? memberDeltaOf(runtime, data, link, loaded.resource) : undefined;
    // A group read without its members for a delta that does not apply (the target holds another version): read it whole.
    const resource =
      loaded.membersLoaded === false && loaded.resource && !delta
        ? await this.ctx.resources.get(tenantId, kind, resourceId, { members: true, groups: false })
        : loaded.resource;
    const inScope =
      resource !== undefined &&
      isInScope(runtime.scoping, resource, await this.ctx.resources.shapeOf(tenantId, kind)) &&
      (await this.ctx.admitted(runtime.target, resource));
    const result =
      inScope && resource
        ? await this.push(runtime, resource, link, force, delta)
        : await this.retire(runtime, data, resource, link, force);
    // A change that landed while we pushed gets its own job (kept by deduplication until this one ends). The
    // version is the one the job's last write read, in the transaction that recorded its outcome.
    if (runtime.seen !== (resource?.version ?? null)) {
      await this.ctx.enqueue({ ...data, version: runtime.seen ?? data.version }, `r${Date.now()}${Math.floor(Math.random() * 1e6)}`);
    }
    return result;
  }

  /**
   * Records an outcome on the link, with the request whose change the job delivers; notes the resource's version after
   * it. With `groups`, answers the User's direct groups as they are once the outcome is committed (ADR 0037).
   */
  private async save(
    runtime: JobRuntime,
    kind: ResourceKind,
    localId: string,
    update: LinkUpdate,
    event?: DomainEvent,
    groups = false,
  ): Promise<string[] | undefined> {
    const { target, requestId } = runtime;
    // Every path ends with a final status (never `pending`): only that write needs the version.
    const own = `${kind}/${localId}` === runtime.subject && update.status !== 'pending';
    const answer = await this.ctx.batches.save(
      target.tenantId,
      { targetId: target.id, kind, localId, update: { ...update, requestId }, event },
      own,
      groups,
    );
    if (own) runtime.seen = answer.version;
    return answer.groups;
  }

  private delivered(
    target: ReplicationTarget,
    resource: { kind: ResourceKind; id: string },
    version: number | undefined,
    operation: SyncOperation,
    remoteId: string | null,
  ): DomainEvent {
    return {
      type: 'replication.delivered',
      tenantId: target.tenantId,
      resourceType: resource.kind,
      resourceId: resource.id,
      ...(version !== undefined ? { version } : {}),
      before: null,
      after: { targetId: target.id, target: target.name, operation, remoteId },
    };
  }

  /** The members of a group that exist at this target, by their remote ids. */
  private async outboundMembers(target: ReplicationTarget, resource: ScimResource): Promise<OutboundMember[]> {
    if (resource.kind !== 'Group' || resource.members.length === 0) return [];
    const out: OutboundMember[] = [];
    for (const kind of ['User', 'Group'] as const) {
      const ids = resource.members.filter((m) => m.type === kind).map((m) => m.value);
      const links = new Map((await this.ctx.store.links(target.id, kind, ids)).map((l) => [l.localId, l]));
      for (const member of resource.members) {
        if (member.type !== kind) continue;
        const link = links.get(member.value);
        // Only members the target holds as live objects; the others arrive when their own sync creates them.
        if (link?.remoteId && (link.status === 'synced' || link.status === 'pending' || link.status === 'retrying')) {
          out.push({
            kind,
            localId: member.value,
            remoteId: link.remoteId,
            ...(member.display !== undefined ? { display: member.display } : {}),
          });
        }
      }
    }
    return out;
  }

  /** The live links among `ids` (members of either kind) at a target, as outbound members. */
  private async liveMembers(target: ReplicationTarget, ids: readonly string[]): Promise<OutboundMember[]> {
    if (ids.length === 0) return [];
    const links = (await Promise.all((['User', 'Group'] as const).map((kind) => this.ctx.store.links(target.id, kind, [...ids])))).flat();
    return links.flatMap((link) =>
      link.remoteId && (link.status === 'synced' || link.status === 'pending' || link.status === 'retrying')
        ? [{ kind: link.kind, localId: link.localId, remoteId: link.remoteId }]
        : [],
    );
  }

  private async push(
    runtime: JobRuntime,
    resource: ScimResource,
    link: ReplicationLink | undefined,
    force: boolean,
    delta?: MemberDelta,
  ): Promise<SyncResult> {
    const { target, connector } = runtime;
    const attributes = await step('map', () => mapResource(runtime.mapping, resource));
    // With a delta the group's members are neither loaded nor compared: the delta is what moves (ADR 0024).
    const members = delta ? [] : await this.outboundMembers(target, resource);
    const object: OutboundObject = {
      kind: resource.kind,
      localId: resource.id,
      version: resource.version,
      attributes,
      members,
      ...(delta ? { membersOmitted: true } : {}),
    };
    const memberIds = members.map((m) => m.remoteId);
    const hash = hashOf(attributes, connector.capabilities.membershipDeltas ? [] : memberIds);

    if (link?.status === 'grace') await this.ctx.cancelGraceDelete(target.id, resource.kind, resource.id);

    let ref: RemoteRef | undefined = link?.remoteId ? { kind: resource.kind, remoteId: link.remoteId } : undefined;
    let operation: SyncOperation = 'updated';
    // The member list last pushed (remote ids), read when needed: undefined means "as recorded for the link".
    let pushedMembers: string[] | undefined;
    if (ref === undefined) {
      // Look first unless the target refuses a duplicate of this kind by itself, nothing this job does not know
      // about may exist there (no create intent of an earlier attempt on record) and this is no reconcile (ADR 0035).
      const lookFirst =
        force || (link?.pushedAttributes ?? null) !== null || !(connector.capabilities.createConflicts ?? []).includes(resource.kind);
      await this.recordCreateIntent(runtime, resource, attributes);
      ({ ref, operation } = await this.createOrAdopt(runtime, object, lookFirst));
      pushedMembers = operation === 'created' ? memberIds : [];
      // Remember the remote object at once when another call to the target follows (an adopted object's update, a
      // password): a failure there must not create it twice. Otherwise the final write below records it; a crash
      // before that leaves the create intent, and the next job finds the object by it.
      if (operation === 'adopted' || (resource.kind === 'User' && target.pushPasswords)) {
        await this.save(runtime, resource.kind, resource.id, { remoteId: ref.remoteId, status: 'pending', handledVersion: 0 });
      }
      if (operation === 'adopted') await step('update', () => connector.update(ref as RemoteRef, object));
    } else if (
      !force &&
      link?.pushedHash === hash &&
      link.status !== 'deactivated' &&
      link.status !== 'grace' &&
      link.status !== 'out_of_scope'
    ) {
      operation = 'unchanged';
    } else {
      // The attributes last pushed, when a push succeeded since the remote object was last deactivated or
      // re-created: the connector may send only what changed instead of reading the object first. Not when forced
      // (a reconcile): the target may have changed by hand since, so the connector reads what it holds.
      const previous: OutboundObject | undefined =
        !force && link?.pushedHash && link.pushedAttributes
          ? { ...object, attributes: link.pushedAttributes as OutboundObject['attributes'] }
          : undefined;
      try {
        await step('update', () => connector.update(ref as RemoteRef, object, previous));
      } catch (error) {
        if (!isCode(error, 'NOT_FOUND')) throw error;
        if (delta) {
          // Gone at the target: it is created again with every member, so read the group whole.
          const whole = await this.ctx.resources.get(target.tenantId, resource.kind, resource.id, { members: true, groups: false });
          if (whole) return this.push(runtime, whole, link, force);
        }
        // The remote object is gone (deleted at the target): create it again.
        await this.recordCreateIntent(runtime, resource, attributes);
        ({ ref, operation } = await this.createOrAdopt(runtime, object));
        pushedMembers = operation === 'created' ? memberIds : [];
        await this.save(runtime, resource.kind, resource.id, { remoteId: ref.remoteId, status: 'pending', handledVersion: 0 });
        if (operation === 'adopted') await step('update', () => connector.update(ref as RemoteRef, object));
      }
    }

    let memberRecord: LinkUpdate['pushedMembers'];
    if (resource.kind === 'Group' && connector.capabilities.membershipDeltas && connector.updateMembers) {
      let add: OutboundMember[];
      let remove: string[];
      if (delta) {
        // Exactly the change: the added members the target holds, and the removed ones as they were pushed.
        const removed = new Set(delta.removed);
        add = (await this.liveMembers(target, delta.added)).filter((m) => !removed.has(m.localId));
        remove = (await this.ctx.store.pushedMembers(target.tenantId, target.id, resource.id, delta.removed)).map((m) => m.remoteId);
      } else {
        // Forced (a reconcile): against the members the target holds, not the list last pushed.
        const recorded = pushedMembers === undefined && !force;
        const before =
          pushedMembers ??
          (force
            ? ((await step('read', () => connector.get(ref as RemoteRef)))?.members ?? [])
            : (await this.ctx.store.pushedMembers(target.tenantId, target.id, resource.id)).map((m) => m.remoteId));
        const desired = new Set(memberIds);
        const previous = new Set(before);
        add = members.filter((m) => !previous.has(m.remoteId));
        remove = [...previous].filter((id) => !desired.has(id));
        // Against the recorded list only what changed is written; after a create the list is written whole.
        if (!recorded) memberRecord = { all: members.map(pushedMember) };
      }
      memberRecord ??= { add: add.map(pushedMember), remove };
      if (add.length > 0 || remove.length > 0) {
        await step('members', () =>
          (connector.updateMembers as NonNullable<typeof connector.updateMembers>)(ref as RemoteRef, { add, remove }),
        );
        if (operation === 'unchanged') operation = 'updated';
      }
    }

    if (resource.kind === 'User') await this.deliverPassword(runtime, resource, ref);

    const remoteId = ref.remoteId;
    // A user the target did not hold before: its groups can now list it. They are read with the outcome, under the
    // tenant's audit chain lock held until its commit (ADR 0037): a group job that started earlier may have missed the
    // user, and one whose change commits later waits for that lock, so it starts after the commit and sees the user.
    const groupsFollow = (operation === 'created' || operation === 'adopted') && resource.kind === 'User' && runtime.groupsFollow;
    const current = await this.save(
      runtime,
      resource.kind,
      resource.id,
      {
        remoteId,
        status: 'synced',
        handledVersion: resource.version,
        pushedVersion: resource.version,
        pushedHash: hash,
        pushedAttributes: attributes,
        ...(memberRecord ? { pushedMembers: memberRecord } : {}),
        attempts: 0,
        lastError: null,
        graceUntil: null,
      },
      operation === 'unchanged' ? undefined : this.delivered(target, resource, resource.version, operation, remoteId),
      groupsFollow,
    );
    if (groupsFollow) {
      const groups = current ?? resource.groups.filter((g) => g.type === 'direct').map((g) => g.value);
      await this.ctx.enqueueMany(
        groups.map((group) => ({
          data: { tenantId: target.tenantId, targetId: target.id, kind: 'Group' as const, resourceId: group, version: 0 },
          jobSuffix: `m${resource.id}${Date.now()}`,
        })),
      );
    }
    // The same for a group the target did not hold before: the groups that list it (nested groups) may have been
    // pushed without it, as it had no remote id yet. They are pushed again now that it has one.
    if ((operation === 'created' || operation === 'adopted') && resource.kind === 'Group' && runtime.groupsFollow) {
      const parents = await this.ctx.store.parentGroups(target.tenantId, resource.id);
      await this.ctx.enqueueMany(
        parents.map((parent) => ({
          data: { tenantId: target.tenantId, targetId: target.id, kind: 'Group' as const, resourceId: parent, version: 0 },
          jobSuffix: `m${resource.id}${Date.now()}`,
        })),
      );
    }
    return { operation, remoteId, version: resource.version };
  }

  /**
   * Writes down, before a create, what is about to be created: a worker killed after the target
   * created the object but before the link recorded it leaves this behind, and the next job finds
   * the object by it (connector.match) instead of creating a second one or leaving it behind.
   */
  private async recordCreateIntent(runtime: JobRuntime, resource: ScimResource, attributes: Record<string, unknown>): Promise<void> {
    await this.save(runtime, resource.kind, resource.id, {
      remoteId: null,
      status: 'pending',
      handledVersion: 0,
      pushedAttributes: attributes,
    });
  }

  /** A remote object a killed worker may have created without recording it (see {@link recordCreateIntent}). */
  private async unrecordedRemote(
    runtime: JobRuntime,
    kind: ResourceKind,
    localId: string,
    link: ReplicationLink | undefined,
  ): Promise<string | null> {
    const { connector, target } = runtime;
    if (!link || link.remoteId || !link.pushedAttributes || !connector.capabilities.match || !connector.match) return null;
    const match = connector.match.bind(connector);
    const attributes = link.pushedAttributes;
    const found = await step('match', () => match({ kind, localId, version: 0, attributes, members: [] }));
    if (!found) return null;
    const holder = await this.ctx.store.linkByRemoteId(target.id, kind, found.ref.remoteId);
    return holder && holder.localId !== localId ? null : found.ref.remoteId;
  }

  /**
   * First push: adopt an existing remote object (connector.match) or create one; a create CONFLICT falls back to
   * matching. With `lookFirst` false the create goes first: the target answers CONFLICT to a duplicate.
   */
  private async createOrAdopt(
    runtime: JobRuntime,
    object: OutboundObject,
    lookFirst = true,
  ): Promise<{ ref: RemoteRef; operation: SyncOperation }> {
    const { connector } = runtime;
    const match = connector.capabilities.match && connector.match ? connector.match.bind(connector) : undefined;
    if (match && lookFirst) {
      const found = await step('match', () => match(object));
      if (found) return { ref: await this.adopt(runtime, object, found.ref), operation: 'adopted' };
    }
    try {
      return { ref: await step('create', () => connector.create(object)), operation: 'created' };
    } catch (error) {
      if (!isCode(error, 'CONFLICT') || !match) throw error;
      const found = await step('match', () => match(object));
      if (!found) throw error;
      return { ref: await this.adopt(runtime, object, found.ref), operation: 'adopted' };
    }
  }

  /**
   * Takes over a remote object. One that another live hub resource holds is
   * a conflict; one left by a deleted or departed resource (deactivated,
   * waiting out its grace period) is handed over: the person returned.
   */
  private async adopt(runtime: JobRuntime, object: OutboundObject, ref: RemoteRef): Promise<RemoteRef> {
    const { target } = runtime;
    const holder = await this.ctx.store.linkByRemoteId(target.id, object.kind, ref.remoteId);
    if (holder && holder.localId !== object.localId) {
      if (LIVE.has(holder.status)) {
        throw new SyncStepError(
          'match',
          conflict(`The remote ${object.kind} '${ref.remoteId}' already stands for hub resource ${holder.localId}.`),
        );
      }
      if (holder.status === 'grace') await this.ctx.cancelGraceDelete(target.id, holder.kind, holder.localId);
      await this.save(runtime, holder.kind, holder.localId, {
        remoteId: null,
        status: holder.status === 'out_of_scope' ? 'out_of_scope' : 'deleted',
        handledVersion: 'wanted',
        graceUntil: null,
        lastError: `handed over to ${object.localId}`,
      });
    }
    return ref;
  }

  private async deliverPassword(runtime: JobRuntime, resource: ScimResource, ref: RemoteRef): Promise<void> {
    const { target, connector } = runtime;
    if (!target.pushPasswords) return;
    const pending = await this.ctx.store.pendingPassword(target.tenantId, resource.id, target.id);
    if (!pending) return;
    if (connector.capabilities.password && connector.setPassword) {
      const password = this.ctx.sealer.decrypt(pending.ciphertext, pendingPasswordContext(target.tenantId, resource.id));
      const setPassword = connector.setPassword.bind(connector);
      await step('password', () => setPassword(ref, password));
    } else {
      // Create and update refuse pushPasswords on such a connector; a row stored before that rule says so instead of staying silent.
      this.ctx.logger.warn('password not delivered: the target does not accept passwords', {
        tenant: target.tenantId,
        target: target.id,
        resource: resource.id,
        resourceType: 'User',
      });
    }
    await this.ctx.store.passwordHandled(target.tenantId, resource.id, target.id);
  }

  /** The resource is deleted in the hub or out of scope: apply the target's delete mode. */
  private async retire(
    runtime: JobRuntime,
    data: SyncJobData,
    resource: ScimResource | undefined,
    link: ReplicationLink | undefined,
    force: boolean,
  ): Promise<SyncResult> {
    const { target, connector } = runtime;
    const { kind, resourceId } = data;
    const gone = resource === undefined;
    const handled: number | 'wanted' = resource ? resource.version : 'wanted';
    const restStatus = gone ? 'deleted' : 'out_of_scope';
    if (kind === 'User') await this.ctx.store.passwordHandled(target.tenantId, resourceId, target.id);
    const remoteId = link?.remoteId ?? (await this.unrecordedRemote(runtime, kind, resourceId, link));
    if (!link || !remoteId) {
      await this.save(runtime, kind, resourceId, {
        remoteId: null,
        status: restStatus,
        handledVersion: handled,
        lastError: null,
        attempts: 0,
        pushedAttributes: null,
      });
      return { operation: gone ? 'skipped' : 'out_of_scope', remoteId: null, version: resource?.version ?? null };
    }
    const ref: RemoteRef = { kind, remoteId };
    const canDeactivate = kind === 'User' && connector.capabilities.deactivate && connector.deactivate !== undefined;
    const mode = canDeactivate ? target.deleteMode : 'delete';
    const subject = { kind, id: resourceId };

    if (mode === 'delete') {
      await step('delete', () => connector.delete(ref));
      await this.save(
        runtime,
        kind,
        resourceId,
        {
          remoteId: null,
          status: restStatus,
          handledVersion: handled,
          attempts: 0,
          lastError: null,
          graceUntil: null,
          pushedHash: null,
          pushedAttributes: null,
        },
        this.delivered(target, subject, resource?.version, 'deleted', remoteId),
      );
      return { operation: 'deleted', remoteId: remoteId, version: resource?.version ?? null };
    }

    const deactivate = (connector.deactivate as NonNullable<typeof connector.deactivate>).bind(connector);
    if (mode === 'deactivate') {
      const already = link.status === 'deactivated' && !force;
      if (!already) await step('deactivate', () => deactivate(ref));
      await this.save(
        runtime,
        kind,
        resourceId,
        { remoteId: remoteId, status: 'deactivated', handledVersion: handled, attempts: 0, lastError: null, pushedHash: null },
        already ? undefined : this.delivered(target, subject, resource?.version, 'deactivated', remoteId),
      );
      return { operation: 'deactivated', remoteId: remoteId, version: resource?.version ?? null };
    }

    // grace: deactivate now, delete when the grace period ends unless the person returns.
    if (link.status === 'grace' && !force) {
      await this.save(runtime, kind, resourceId, { remoteId: remoteId, status: 'grace', handledVersion: handled });
      return { operation: 'grace', remoteId: remoteId, version: resource?.version ?? null };
    }
    if (link.status !== 'deactivated' || force) await step('deactivate', () => deactivate(ref));
    const delayMs = (target.graceSeconds ?? 0) * 1000;
    await this.ctx.scheduleGraceDelete(
      { tenantId: target.tenantId, targetId: target.id, kind, resourceId, version: resource?.version ?? 0 },
      delayMs,
    );
    await this.save(
      runtime,
      kind,
      resourceId,
      {
        remoteId: remoteId,
        status: 'grace',
        handledVersion: handled,
        attempts: 0,
        lastError: null,
        pushedHash: null,
        graceUntil: new Date(this.ctx.clock.now().getTime() + delayMs),
      },
      this.delivered(target, subject, resource?.version, 'grace', remoteId),
    );
    return { operation: 'grace', remoteId: remoteId, version: resource?.version ?? null };
  }

  /** The end of a grace period: delete the remote object unless the person came back. */
  async graceDelete(targetRuntime: TargetRuntime, data: SyncJobData): Promise<SyncResult> {
    const runtime: JobRuntime = {
      ...targetRuntime,
      requestId: data.requestId,
      subject: `${data.kind}/${data.resourceId}`,
      seen: null,
      groupsFollow: true,
    };
    const { target, connector } = runtime;
    const link = await this.ctx.store.getLink(target.id, data.kind, data.resourceId);
    if (link?.status !== 'grace' || !link.remoteId) return { operation: 'skipped', remoteId: null, version: null };
    const resource = await this.ctx.resources.get(data.tenantId, data.kind, data.resourceId, { members: false, groups: true });
    if (
      resource &&
      isInScope(runtime.scoping, resource, await this.ctx.resources.shapeOf(data.tenantId, data.kind)) &&
      (await this.ctx.admitted(target, resource))
    ) {
      return { operation: 'skipped', remoteId: link.remoteId, version: resource.version };
    }
    const remoteId = link.remoteId;
    await step('delete', () => connector.delete({ kind: data.kind, remoteId }));
    await this.save(
      runtime,
      data.kind,
      data.resourceId,
      {
        remoteId: null,
        status: resource ? 'out_of_scope' : 'deleted',
        handledVersion: link.handledVersion,
        graceUntil: null,
        lastError: null,
      },
      this.delivered(target, { kind: data.kind, id: data.resourceId }, resource?.version, 'deleted', remoteId),
    );
    return { operation: 'deleted', remoteId, version: resource?.version ?? null };
  }
}

/** A group job's member change, pushed as it is (ADR 0024). */
type MemberDelta = NonNullable<SyncJobData['members']>;

function pushedMember(member: OutboundMember): { kind: ResourceKind; localId: string; remoteId: string } {
  return { kind: member.kind, localId: member.localId, remoteId: member.remoteId };
}

/**
 * The job's member delta when it describes exactly the difference between
 * what the target holds and the group now: one update from the version last
 * pushed to the current one, at a target whose connector takes
 * deltas and whose scoping, mapping and admission do not look at members.
 * Otherwise undefined: the whole member list is compared (first push,
 * reconcile, a coalesced job whose deltas were lost).
 */
function memberDeltaOf(
  runtime: TargetRuntime,
  data: SyncJobData,
  link: ReplicationLink | undefined,
  resource: ScimResource,
): MemberDelta | undefined {
  const { connector, target } = runtime;
  if (data.kind !== 'Group' || data.members === undefined || resource.kind !== 'Group') return undefined;
  if (!connector.capabilities.membershipDeltas || !connector.updateMembers || target.jit === true) return undefined;
  // The relay marked the link pending for this job; a retry finds it retrying. The last push must be on record.
  const queued = link?.status === 'pending' || link?.status === 'retrying' || link?.status === 'synced';
  if (resource.version !== data.version || !queued || !link.remoteId || !link.pushedHash) return undefined;
  if (link.pushedVersion !== data.version - 1) return undefined;
  const mentions = (rules: unknown) => rules !== undefined && /members/i.test(JSON.stringify(rules));
  if (mentions(target.scoping.Group) || mentions(target.mapping.Group)) return undefined;
  return data.members;
}

function conflict(message: string): ConnectorError {
  return new ConnectorError('permanent', message, { code: 'CONFLICT' });
}
