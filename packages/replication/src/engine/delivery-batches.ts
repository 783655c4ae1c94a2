import type { LinkKey, LinkWrite, ReplicationLink, ReplicationTarget, ResourceKind, ScimResource } from '@meridian/core';
import type { SyncJobData } from '../queue/target-queues.js';
import { Coalescer } from './coalescer.js';
import type { ReplicationContext } from './context.js';

/** What a job starts from: its target, its link and the resource's current state (each undefined when there is none). */
export interface LoadedJob {
  target: ReplicationTarget | undefined;
  link: ReplicationLink | undefined;
  resource: ScimResource | undefined;
  /** False for a Group read without its members (the job carries a member delta, ADR 0024). */
  membersLoaded?: boolean;
}

interface SaveItem {
  write: LinkWrite;
  /** Also answer the resource's current version. */
  recheck: boolean;
  /** Also answer the User's direct groups, read under the tenant's audit chain lock (ADR 0037). */
  groups: boolean;
}

/** What a save answers: the resource's version after it (with `recheck`; null: deleted) and the User's direct groups (asked). */
export interface SaveAnswer {
  version: number | null;
  /** The direct groups' ids; undefined when not asked, or when the User is gone or the store cannot answer them. */
  groups: string[] | undefined;
}

const keyOf = (k: LinkKey) => `${k.targetId}/${k.kind}/${k.localId}`;

/** What a job of each kind loads with its resource: a group's members (pushed), a user's groups (told when it arrives). */
const INCLUDE: Record<ResourceKind, { members: boolean; groups: boolean }> = {
  User: { members: false, groups: true },
  Group: { members: true, groups: false },
};

/** A group job that carries its member delta reads the group without members: the delta is what it pushes. */
const withoutMembers = (job: SyncJobData) => job.kind === 'Group' && job.members !== undefined;

/**
 * The database work of the jobs a process runs side by side, per tenant, in
 * batches (ADR 0024): the jobs that start together read their targets,
 * links and resources in one go, and the outcomes that are ready together are
 * written in one transaction (links, delivery audit entries, and the
 * resources' current versions for the check after a push). A job still waits
 * for its own writes to commit before it goes on, so crash safety is the
 * same as with one transaction per write.
 */
export class DeliveryBatches {
  private readonly loads: Coalescer<SyncJobData, LoadedJob>;
  private readonly saves: Coalescer<SaveItem, SaveAnswer>;
  private readonly intents: Coalescer<SaveItem, SaveAnswer>;
  private readonly users: Coalescer<string, ScimResource | undefined>;

  constructor(private readonly ctx: ReplicationContext) {
    this.loads = new Coalescer((tenantId, jobs) => this.loadAll(tenantId, jobs));
    // Two writes of a tenant may be under way at once: an outcome waits about 10 ms for its commit to reach the
    // disk on issue 14's machine, and one that starts beside another shares the flush (group commit) instead of
    // waiting for it to end first (drains 99 -> 110 changes/s in back-to-back runs on Redis).
    this.saves = new Coalescer((tenantId, items) => this.saveAll(tenantId, items), 2);
    this.intents = new Coalescer((tenantId, items) => this.saveAll(tenantId, items), 2);
    this.users = new Coalescer((tenantId, ids) => this.usersAll(tenantId, ids));
  }

  /** A User as it is now, with its groups and without target or link: one read for the calls made together. */
  user(tenantId: string, id: string): Promise<ScimResource | undefined> {
    return this.users.run(tenantId, id);
  }

  /** The target, link and current resource of a job. */
  load(data: SyncJobData): Promise<LoadedJob> {
    return this.loads.run(data.tenantId, data);
  }

  /**
   * Records a job's outcome (and its audit event) once it committed; with
   * `recheck`, answers the resource's version as it is now (null: deleted);
   * with `groups`, the User's direct groups as a read after the commit would
   * see them (ADR 0037).
   */
  async save(tenantId: string, write: LinkWrite, recheck = false, groups = false): Promise<SaveAnswer> {
    // Create intents go in batches of their own, which the store commits without waiting for the disk (ADR 0035):
    // they need not queue behind the outcomes, each of which waits for its commit to reach the disk.
    const { update } = write;
    const intent = update.status === 'pending' && update.remoteId === null && !write.event && !recheck && !groups;
    const answer = await (intent ? this.intents : this.saves).run(tenantId, { write, recheck, groups });
    if (!groups || answer.groups !== undefined || this.ctx.store.saveOutcomes) return answer;
    // A store that cannot answer them with the outcome: read after the commit, as before.
    const user = await this.user(tenantId, write.localId);
    return { ...answer, groups: user?.groups.filter((g) => g.type === 'direct').map((g) => g.value) };
  }

  private async loadAll(tenantId: string, jobs: SyncJobData[]): Promise<LoadedJob[]> {
    const keys = jobs.map((j) => ({ targetId: j.targetId, kind: j.kind, localId: j.resourceId }));
    const bare = jobs.filter(withoutMembers);
    // The Users come with the targets and links in one statement when the store can (ADR 0037).
    const userIds = [...new Set(jobs.flatMap((j) => (j.kind === 'User' ? [j.resourceId] : [])))];
    const withUsers = userIds.length > 0 ? this.ctx.store.loadLinksWithUsers?.bind(this.ctx.store) : undefined;
    const [batch, users, groups, bareGroups] = await Promise.all([
      withUsers ? withUsers(tenantId, keys, userIds) : this.ctx.store.loadLinks(tenantId, keys),
      withUsers ? [] : this.resources(tenantId, 'User', jobs, INCLUDE.User),
      this.resources(
        tenantId,
        'Group',
        jobs.filter((j) => !withoutMembers(j)),
        INCLUDE.Group,
      ),
      this.resources(tenantId, 'Group', bare, { members: false, groups: false }),
    ]);
    const targets = new Map(batch.targets.map((t) => [t.id, t]));
    const links = new Map(batch.links.map((l) => [keyOf(l), l]));
    const loadedUsers = 'users' in batch ? (batch.users as ScimResource[]) : users;
    const resources = new Map([...loadedUsers, ...groups].map((r) => [`${r.kind}/${r.id}`, r]));
    const bareResources = new Map(bareGroups.map((r) => [r.id, r]));
    return jobs.map((job, i) => {
      const key = keys[i] as LinkKey;
      const bareOne = withoutMembers(job);
      return {
        target: targets.get(key.targetId),
        link: links.get(keyOf(key)),
        resource: bareOne ? bareResources.get(key.localId) : resources.get(`${key.kind}/${key.localId}`),
        ...(bareOne ? { membersLoaded: false } : {}),
      };
    });
  }

  /** The resources of `kind` among `jobs`' (or the ids given), each read once. */
  private async resources(
    tenantId: string,
    kind: ResourceKind,
    jobs: SyncJobData[] | string[],
    include: { members: boolean; groups: boolean },
  ): Promise<ScimResource[]> {
    const ids = [...new Set(jobs.flatMap((j) => (typeof j === 'string' ? [j] : j.kind === kind ? [j.resourceId] : [])))];
    if (ids.length === 0) return [];
    const source = this.ctx.resources;
    if (source.getMany) return source.getMany(tenantId, kind, ids, include);
    const found = await Promise.all(ids.map((id) => source.get(tenantId, kind, id, include)));
    return found.filter((r): r is ScimResource => r !== undefined);
  }

  private async usersAll(tenantId: string, ids: string[]): Promise<(ScimResource | undefined)[]> {
    const found = new Map((await this.resources(tenantId, 'User', ids, INCLUDE.User)).map((r) => [r.id, r]));
    return ids.map((id) => found.get(id));
  }

  private async saveAll(tenantId: string, items: SaveItem[]): Promise<SaveAnswer[]> {
    const recheck = items.filter((i) => i.recheck).map((i) => i.write);
    const writes = items.map((i) => i.write);
    const groupsOf = items.filter((i) => i.groups).map((i) => i.write.localId);
    const { versions, groups } = this.ctx.store.saveOutcomes
      ? await this.ctx.store.saveOutcomes(tenantId, writes, recheck, groupsOf)
      : { versions: await this.ctx.store.saveLinks(tenantId, writes, recheck), groups: new Map<string, string[]>() };
    return items.map((i) => ({
      version: i.recheck ? (versions.get(keyOf(i.write)) ?? null) : null,
      groups: i.groups ? groups.get(i.write.localId) : undefined,
    }));
  }
}
