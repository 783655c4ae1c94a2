import {
  type AttributeMapping,
  type ConnectionTestResult,
  type ConnectorDestination,
  type ConnectorSecrets,
  compileMapping,
  compileScoping,
  type ScopingFilter,
} from '@meridian/connector-sdk';
import {
  type DeleteMode,
  findOutboundRefusal,
  MeridianError,
  type ReplicationTarget,
  type ReplicationTargets,
  type ReplicationTargetWrite,
  type RequestContext,
  type TargetChanges,
  type TargetInput,
} from '@meridian/core';
import { type ReplicationContext, requireTarget } from '../engine/context.js';
import { buildTargetRuntime } from './connector-registry.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** The origins (scheme, host, port) of a config's destinations, in order. */
function originsOf(destinations: readonly ConnectorDestination[]): string[] {
  return destinations.map((d) => (URL.canParse(d.url) ? new URL(d.url).origin : d.url)).sort();
}

function sameOrigins(a: readonly ConnectorDestination[], b: readonly ConnectorDestination[]): boolean {
  return JSON.stringify(originsOf(a)) === JSON.stringify(originsOf(b));
}

function sameUrls(a: readonly ConnectorDestination[] | undefined, b: readonly ConnectorDestination[] | undefined): boolean {
  return JSON.stringify(a?.map((d) => d.url)) === JSON.stringify(b?.map((d) => d.url));
}

function describeOrigins(destinations: readonly ConnectorDestination[] | undefined): string {
  const origins = originsOf(destinations ?? []);
  return origins.length > 0 ? origins.join(', ') : 'another connector';
}
const DELETE_MODES: readonly DeleteMode[] = ['delete', 'deactivate', 'grace'];

function invalid(message: string, field: string): MeridianError {
  return new MeridianError('INVALID_CONFIG', message, { field });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integerIn(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`'${field}' must be a whole number from ${min} to ${max}.`, field);
  }
  return value;
}

/**
 * Targets of a tenant: create (config checked by the connector's factory,
 * secrets sealed), change, pause and resume, test the connection, delete.
 * The tenant is authorized by the caller (core's `ReplicationService`, or the CLI acting as the platform).
 */
export class TargetService implements ReplicationTargets {
  constructor(
    private readonly ctx: ReplicationContext,
    private readonly onChange: () => void = () => {},
  ) {}

  /** Checks an admin's input and turns it into the row to store. */
  private prepare(tenantId: string, input: TargetInput, secrets: ConnectorSecrets): ReplicationTargetWrite {
    if (typeof input.name !== 'string' || !NAME.test(input.name)) {
      throw invalid("A target name is 1-64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit.", 'name');
    }
    const factory = this.ctx.registry.factory(input.kind);
    const config = input.config ?? {};
    if (!isObject(config)) throw invalid('A target config is a JSON object.', 'config');
    for (const name of Object.keys(secrets)) {
      if (!factory.secretNames.includes(name)) {
        throw invalid(
          `The ${factory.kind} connector takes no secret '${name}'; it takes: ${factory.secretNames.join(', ') || 'none'}.`,
          `secrets.${name}`,
        );
      }
    }
    const validated = factory.validateConfig(config, secrets);
    if (input.pushPasswords === true && !(factory.acceptsPasswords?.(validated) ?? false)) {
      throw invalid(
        factory.acceptsPasswords === undefined
          ? `'pushPasswords' needs a connector that accepts passwords; the ${factory.kind} connector never does.`
          : `'pushPasswords' needs a connector that accepts passwords; this ${factory.kind} target is not configured to (for scim: config.supportsPassword: true).`,
        'pushPasswords',
      );
    }
    const deleteMode = input.deleteMode ?? 'deactivate';
    if (!DELETE_MODES.includes(deleteMode)) throw invalid(`'deleteMode' is one of ${DELETE_MODES.join(', ')}.`, 'deleteMode');
    const graceSeconds = deleteMode === 'grace' ? integerIn(input.graceSeconds, 1, 3650 * 86_400, 'graceSeconds') : null;
    // The admin's JSON is checked by the connector SDK, which throws INVALID_CONFIG naming the field.
    compileMapping((input.mapping ?? {}) as AttributeMapping);
    compileScoping((input.scoping ?? {}) as ScopingFilter);
    const rateLimit = input.rateLimit ?? null;
    if (rateLimit !== null) {
      integerIn(rateLimit.max, 1, 1_000_000, 'rateLimit.max');
      integerIn(rateLimit.durationMs, 1, 86_400_000, 'rateLimit.durationMs');
    }
    return {
      name: input.name,
      kind: factory.kind,
      config,
      secretNames: Object.keys(secrets).sort(),
      sealedSecrets: this.ctx.sealSecrets(tenantId, secrets),
      deleteMode,
      graceSeconds,
      scoping: input.scoping ?? {},
      mapping: input.mapping ?? {},
      pushPasswords: input.pushPasswords ?? false,
      enabled: input.enabled ?? true,
      paused: input.paused ?? false,
      rateLimit,
      concurrency: integerIn(input.concurrency ?? 4, 1, 256, 'concurrency'),
      maxAttempts: integerIn(input.maxAttempts ?? 12, 1, 100, 'maxAttempts'),
    };
  }

  private checkSecrets(secrets: unknown): Record<string, string> {
    if (secrets === undefined) return {};
    if (!isObject(secrets) || Object.values(secrets).some((v) => typeof v !== 'string' || v === '')) {
      throw invalid('Secrets are an object of non-empty strings.', 'secrets');
    }
    return secrets as Record<string, string>;
  }

  /** The URLs a target's config sends requests to; undefined when the config does not validate. */
  private destinationsOf(
    kind: string,
    config: Record<string, unknown>,
    secrets: ConnectorSecrets,
  ): readonly ConnectorDestination[] | undefined {
    try {
      const factory = this.ctx.registry.factory(kind);
      return factory.destinations?.(factory.validateConfig(config, secrets)) ?? [];
    } catch {
      return undefined;
    }
  }

  /** Checks each destination against the outbound request policy; `INVALID_CONFIG` naming the field. */
  private async checkDestinations(destinations: readonly ConnectorDestination[] | undefined): Promise<void> {
    for (const destination of destinations ?? []) await this.ctx.outbound.checkUrl(destination.url, destination.field);
  }

  /** Creates a target; its queue starts with the next worker refresh. */
  async create(tenantId: string, input: TargetInput, context: RequestContext): Promise<ReplicationTarget> {
    const secrets = this.checkSecrets(input.secrets);
    const values = this.prepare(tenantId, input, secrets);
    await this.checkDestinations(this.destinationsOf(values.kind, values.config, secrets));
    const created = await this.ctx.store.createTarget(tenantId, values, context);
    if (created.paused) await this.applyPause(created);
    this.onChange();
    return created;
  }

  /**
   * Changes a target; secrets are merged (null removes one). Stored secrets
   * stay with the destination they were given for: when the change moves the
   * target to another origin (scheme, host, port) or kind, every stored
   * secret not given again in this change is dropped, and the audit entry
   * says so (`originChange: { from, to, dropped }`).
   */
  async update(tenantId: string, idOrName: string, changes: TargetChanges, context: RequestContext): Promise<ReplicationTarget> {
    const current = await this.get(tenantId, idOrName);
    const stored = this.ctx.openSecrets(current, await this.ctx.store.sealedSecrets(current.id));
    const secrets: Record<string, string> = { ...stored };
    const given = new Set<string>();
    if (changes.secrets !== undefined) {
      if (!isObject(changes.secrets)) throw invalid('Secrets are an object of strings.', 'secrets');
      for (const [name, value] of Object.entries(changes.secrets)) {
        given.add(name);
        if (value === null) delete secrets[name];
        else secrets[name] = this.checkSecrets({ [name]: value })[name] as string;
      }
    }
    const kind = changes.kind ?? current.kind;
    const config = changes.config ?? current.config;
    const before = this.destinationsOf(current.kind, current.config, stored);
    const after = this.destinationsOf(kind, config, secrets);
    const moved = kind !== current.kind || before === undefined || after === undefined || !sameOrigins(before, after);
    const dropped = moved ? Object.keys(stored).filter((name) => !given.has(name) && name in secrets) : [];
    for (const name of dropped) delete secrets[name];
    const merged: TargetInput = {
      name: changes.name ?? current.name,
      kind,
      config,
      deleteMode: changes.deleteMode ?? current.deleteMode,
      graceSeconds: changes.graceSeconds !== undefined ? changes.graceSeconds : current.graceSeconds,
      scoping: changes.scoping ?? current.scoping,
      mapping: changes.mapping ?? current.mapping,
      pushPasswords: changes.pushPasswords ?? current.pushPasswords,
      enabled: changes.enabled ?? current.enabled,
      paused: changes.paused ?? current.paused,
      rateLimit: changes.rateLimit !== undefined ? changes.rateLimit : current.rateLimit,
      concurrency: changes.concurrency ?? current.concurrency,
      maxAttempts: changes.maxAttempts ?? current.maxAttempts,
    };
    let values: ReplicationTargetWrite;
    try {
      values = this.prepare(tenantId, merged, secrets);
    } catch (error) {
      const field = error instanceof MeridianError ? error.field : undefined;
      if (field?.startsWith('secrets.') && dropped.includes(field.slice('secrets.'.length))) {
        throw invalid(
          `The target moves to another destination (${describeOrigins(after)}): its stored secrets (${dropped.join(', ')}) stay with the old one. Give them again in the same change.`,
          field,
        );
      }
      throw error;
    }
    if (moved) values.originChange = { from: originsOf(before ?? []), to: originsOf(after ?? []), dropped };
    if (moved || !sameUrls(before, after)) await this.checkDestinations(after);
    const updated = await this.ctx.store.updateTarget(tenantId, current.id, values, context);
    if (current.paused !== updated.paused) await this.applyPause(updated);
    this.onChange();
    return updated;
  }

  /** Stops deliveries to a target; changes keep queueing. */
  pause(tenantId: string, idOrName: string, context: RequestContext): Promise<ReplicationTarget> {
    return this.update(tenantId, idOrName, { paused: true }, context);
  }

  /** Resumes deliveries: the queued changes go out. */
  resume(tenantId: string, idOrName: string, context: RequestContext): Promise<ReplicationTarget> {
    return this.update(tenantId, idOrName, { paused: false }, context);
  }

  private async applyPause(target: ReplicationTarget): Promise<void> {
    // Worker hosts converge on the stored state; pausing here makes it immediate for this process.
    const queue = this.ctx.queues.queue(target.id);
    if (target.paused) await queue.pause();
    else if (target.circuitState !== 'open') await queue.resume();
  }

  /** Deletes a target, its links, dead letters and queued jobs. Remote objects stay as they are. */
  async delete(tenantId: string, idOrName: string, context: RequestContext): Promise<void> {
    const target = await this.get(tenantId, idOrName);
    await this.ctx.store.deleteTarget(tenantId, target.id, context);
    await this.ctx.queues.drop(target.id).catch(() => undefined);
    await this.ctx.forget(target.id);
    this.onChange();
  }

  list(tenantId: string): Promise<ReplicationTarget[]> {
    return this.ctx.store.listTargets(tenantId);
  }

  /** A target by id or name; `NOT_FOUND` otherwise. */
  async get(tenantId: string, idOrName: string): Promise<ReplicationTarget> {
    return requireTarget(await this.ctx.store.findTarget(tenantId, idOrName), idOrName);
  }

  /** Calls the connector's `testConnection`; a failure is a result, not an error. */
  async test(tenantId: string, idOrName: string): Promise<ConnectionTestResult> {
    const target = await this.get(tenantId, idOrName);
    const started = Date.now();
    try {
      const secrets = this.ctx.openSecrets(target, await this.ctx.store.sealedSecrets(target.id));
      const runtime = buildTargetRuntime(this.ctx.registry, target, secrets, {
        logger: this.ctx.logger,
        clock: this.ctx.clock,
        fetch: this.ctx.fetch,
      });
      try {
        return await runtime.connector.testConnection();
      } finally {
        await runtime.connector.close?.();
      }
    } catch (error) {
      const refusal = findOutboundRefusal(error);
      const message = refusal ? refusal.message : error instanceof Error ? error.message : String(error);
      return { ok: false, message, latencyMs: Date.now() - started };
    }
  }
}
