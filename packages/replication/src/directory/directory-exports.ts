import { createHash } from 'node:crypto';
import {
  type Connector,
  ConnectorError,
  type ConnectorSecrets,
  isConnectorError,
  type OutboundObject,
  type RemoteObject,
  type RemoteRef,
} from '@meridian/connector-sdk';
import {
  type DirectoryExport,
  type DirectoryExportCounts,
  type DirectoryExportStore,
  type ExportOutcome,
  type ExportWork,
  findOutboundRefusal,
  type GlobalDirectoryService,
  MeridianError,
  type Person,
  type Principal,
  type RequestContext,
  SCHEMA,
} from '@meridian/core';
import type { ReplicationContext } from '../engine/context.js';
import { PollingLoop } from '../engine/polling-loop.js';
import { retryDelay } from '../engine/worker-host.js';

/** People one exporter step pushes. */
const STEP_SIZE = 50;
/** How long a claimed person is left to this exporter before another may take it (a crashed exporter's work comes back). */
const LEASE_MS = 120_000;
const IDLE_MS = 1_000;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

/** A directory export to create. */
export interface DirectoryExportInput {
  name: string;
  kind: string;
  config?: Record<string, unknown> | undefined;
  /** Secret values (tokens); sealed with the hub's SecretBox, never returned. */
  secrets?: Record<string, string> | undefined;
}

/** The SecretBox context of an export's secrets: an envelope cannot move to another community. */
function exportSecretsContext(communityId: string): string {
  return `directory_export:${communityId}`;
}

/**
 * A person as a SCIM User for an external global directory: the resolved
 * attributes, `externalId` the person's id (so a re-created export finds its
 * objects again), `userName` the email, else the employeeNumber, else the id.
 * The manager is left out: it would name another directory's id.
 */
export function personAsUser(person: Person): OutboundObject {
  const v = person.values;
  const attributes: Record<string, unknown> = {
    schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
    userName: v.email ?? v.employeeNumber ?? person.id,
    externalId: person.id,
    active: person.active,
  };
  if (v.displayName) attributes.displayName = v.displayName;
  if (v.givenName || v.familyName) {
    attributes.name = { ...(v.givenName ? { givenName: v.givenName } : {}), ...(v.familyName ? { familyName: v.familyName } : {}) };
  }
  if (v.email) attributes.emails = [{ value: v.email, type: 'work', primary: true }];
  if (v.phoneNumber) attributes.phoneNumbers = [{ value: v.phoneNumber, type: 'work', primary: true }];
  if (v.title) attributes.title = v.title;
  const enterprise: Record<string, string> = {};
  for (const key of ['employeeNumber', 'department', 'organization', 'division', 'costCenter'] as const) {
    const value = v[key];
    if (value) enterprise[key] = value;
  }
  attributes[SCHEMA.enterpriseUser] = enterprise;
  return { kind: 'User', localId: person.id, version: person.version, attributes, members: [] };
}

function hashOf(object: OutboundObject): string {
  return createHash('sha256').update(JSON.stringify(object.attributes)).digest('hex');
}

const codeOf = (error: unknown) => (isConnectorError(error) ? error.code : undefined);

/**
 * A community pushes its global directory to external directories through
 * any connector (issue 6): admin operations here, authorized through the
 * global directory service (`people.manage` to change, `people.read` to look),
 * and {@link DirectoryExporter} doing the pushes.
 */
export class DirectoryExports {
  readonly exporter: DirectoryExporter;

  constructor(
    private readonly store: DirectoryExportStore,
    private readonly people: GlobalDirectoryService,
    private readonly ctx: ReplicationContext,
  ) {
    this.exporter = new DirectoryExporter(store, ctx);
  }

  async create(principal: Principal, community: string | null | undefined, input: DirectoryExportInput, context: RequestContext) {
    const scope = await this.people.community(principal, 'people.manage', community);
    if (!NAME.test(input.name)) {
      throw new MeridianError('INVALID_INPUT', 'A name is 1 to 63 letters, digits, dots, dashes or underscores.', { field: 'name' });
    }
    const factory = this.ctx.registry.factory(input.kind);
    const secrets: ConnectorSecrets = input.secrets ?? {};
    const validated = factory.validateConfig(input.config ?? {}, secrets);
    // The export's URLs answer to the outbound request policy like a target's (INVALID_CONFIG naming the field).
    for (const destination of factory.destinations?.(validated) ?? []) await this.ctx.outbound.checkUrl(destination.url, destination.field);
    const sealed =
      Object.keys(secrets).length === 0 ? null : this.ctx.sealer.encrypt(JSON.stringify(secrets), exportSecretsContext(scope.id));
    const created = await this.store.createExport(
      scope.id,
      { name: input.name, kind: input.kind, config: input.config ?? {}, secretNames: Object.keys(secrets).sort(), sealedSecrets: sealed },
      context,
    );
    this.exporter.kick();
    return created;
  }

  async list(principal: Principal, community?: string | null): Promise<{ exports: DirectoryExport[]; counts: DirectoryExportCounts[] }> {
    const scope = await this.people.community(principal, 'people.read', community);
    const [exports, counts] = await Promise.all([this.store.listExports(scope.id), this.store.exportCounts(scope.id)]);
    return { exports, counts };
  }

  async delete(principal: Principal, community: string | null | undefined, name: string, context: RequestContext): Promise<void> {
    const scope = await this.people.community(principal, 'people.manage', community);
    const found = await this.store.findExport(scope.id, name);
    if (!found) throw new MeridianError('NOT_FOUND', `Export '${name}' not found.`, { field: 'export' });
    await this.store.deleteExport(scope.id, found.id, context);
  }
}

/**
 * Pushes people to their exports: state-based like the target workers (the
 * person's current state, skipped when the target already holds it), with
 * backoff and jitter on transient failures, `Retry-After` honoured, and a
 * permanent failure recorded on the link for an admin. A claimed person is
 * leased, so a crashed exporter's work comes back.
 */
export class DirectoryExporter {
  private readonly loop: PollingLoop;
  private readonly connectors = new Map<string, { stamp: number; connector: Connector }>();

  constructor(
    private readonly store: DirectoryExportStore,
    private readonly ctx: ReplicationContext,
  ) {
    this.loop = new PollingLoop(() => this.runOnce(), {
      name: 'directory export step',
      fullStep: STEP_SIZE,
      idleMs: () => IDLE_MS,
      // The projector wakes it when it projected something; while it finds nothing it looks less often (ADR 0037).
      maxIdleMs: 5_000,
      logger: ctx.logger,
    });
  }

  private async connectorOf(exportId: string): Promise<Connector | undefined> {
    const found = await this.store.exportForPush(exportId);
    if (!found) return undefined;
    const stamp = found.export.updatedAt.getTime();
    const cached = this.connectors.get(exportId);
    if (cached && cached.stamp === stamp) return cached.connector;
    const secrets: ConnectorSecrets =
      found.sealedSecrets === null
        ? {}
        : (JSON.parse(this.ctx.sealer.decrypt(found.sealedSecrets, exportSecretsContext(found.export.communityId))) as ConnectorSecrets);
    const factory = this.ctx.registry.factory(found.export.kind);
    const connector = factory.create(factory.validateConfig(found.export.config, secrets), secrets, {
      logger: this.ctx.logger,
      clock: this.ctx.clock,
      fetch: this.ctx.fetch,
    });
    this.connectors.set(exportId, { stamp, connector });
    return connector;
  }

  /** Pushes what is due; answers how many people it handled. */
  async runOnce(): Promise<number> {
    const work = await this.store.claimExportWork(STEP_SIZE, this.ctx.clock.now(), LEASE_MS);
    for (const item of work) {
      const outcome = await this.push(item);
      await this.store.recordExport(item.exportId, item.personId, outcome, this.ctx.clock.now());
    }
    return work.length;
  }

  /** Pushes until nothing is due (tests). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  private async push(item: ExportWork): Promise<ExportOutcome> {
    try {
      const connector = await this.connectorOf(item.exportId);
      if (!connector) return { status: 'deleted', remoteId: null, pushedHash: null, pushedVersion: null, lastError: null };
      if (!item.person) {
        if (item.remoteId) await connector.delete({ kind: 'User', remoteId: item.remoteId });
        return { status: 'deleted', remoteId: null, pushedHash: null, pushedVersion: null, lastError: null };
      }
      const object = personAsUser(item.person);
      const hash = hashOf(object);
      const synced = (ref: RemoteRef): ExportOutcome => ({
        status: 'synced',
        remoteId: ref.remoteId,
        pushedHash: hash,
        pushedVersion: object.version,
        lastError: null,
      });
      if (item.remoteId && item.pushedHash === hash) return synced({ kind: 'User', remoteId: item.remoteId });
      if (item.remoteId) {
        try {
          return synced(await connector.update({ kind: 'User', remoteId: item.remoteId }, object));
        } catch (error) {
          if (codeOf(error) !== 'NOT_FOUND') throw error;
          // Removed at the target behind our back: create it again.
        }
      }
      // An object already there is adopted, unless it is another person's: two people are never merged at the target.
      const adoptable = (found: RemoteObject | undefined): RemoteObject | undefined => {
        const owner = found?.attributes.externalId;
        if (found && typeof owner === 'string' && owner !== item.personId) {
          throw new ConnectorError(
            'permanent',
            `userName '${String(object.attributes.userName)}' is taken at the target by another person's object.`,
            {
              code: 'CONFLICT',
            },
          );
        }
        return found;
      };
      const existing = connector.capabilities.match ? adoptable(await connector.match?.(object)) : undefined;
      if (existing) return synced(await connector.update(existing.ref, object));
      try {
        return synced(await connector.create(object));
      } catch (error) {
        const adopted = codeOf(error) === 'CONFLICT' ? adoptable(await connector.match?.(object)) : undefined;
        if (!adopted) throw error;
        return synced(await connector.update(adopted.ref, object));
      }
    } catch (error) {
      const refusal = findOutboundRefusal(error);
      const message = refusal ? `Not sent: ${refusal.message}` : error instanceof Error ? error.message.slice(0, 500) : String(error);
      // A destination the outbound policy refuses is permanent, whatever the connector made of it.
      const kind = refusal ? 'permanent' : isConnectorError(error) ? error.kind : 'transient';
      if (kind === 'permanent')
        return { status: 'failed', remoteId: item.remoteId, pushedHash: item.pushedHash, pushedVersion: null, lastError: message };
      const delay = retryDelay(item.attempts + 1, error, this.ctx.tuning.backoffBaseMs, this.ctx.tuning.backoffMaxMs);
      this.ctx.logger.warn('directory export push failed; retrying', { export: item.exportId, person: item.personId, error: message });
      return {
        status: 'retry',
        remoteId: item.remoteId,
        pushedHash: item.pushedHash,
        pushedVersion: null,
        lastError: message,
        notBefore: new Date(this.ctx.clock.now().getTime() + delay),
      };
    }
  }

  start(): void {
    this.loop.start();
  }

  kick(): void {
    this.loop.kick();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    for (const { connector } of this.connectors.values()) await connector.close?.();
    this.connectors.clear();
  }
}
