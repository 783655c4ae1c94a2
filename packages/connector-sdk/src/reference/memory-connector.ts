import { MeridianError, type ResourceKind } from '@meridian/core';
import {
  type ConnectionTestResult,
  type Connector,
  type ConnectorCapabilities,
  type ConnectorContext,
  ConnectorError,
  type ConnectorFactory,
  type ConnectorSecrets,
  type JsonObject,
  type MembershipDelta,
  type OutboundObject,
  type RemoteObject,
  type RemoteRef,
} from '../spi.js';

/** Operations of the reference connector, as logged and as fault injection targets. */
export type MemoryOperation =
  | 'testConnection'
  | 'match'
  | 'create'
  | 'update'
  | 'deactivate'
  | 'delete'
  | 'setPassword'
  | 'updateMembers'
  | 'get'
  | 'list';

/** One object held by a {@link MemoryTarget}. */
export interface MemoryTargetObject {
  id: string;
  kind: ResourceKind;
  attributes: JsonObject;
  members: Set<string>;
  /** Set by `setPassword`; a test fake only, never a real store. */
  password: string | undefined;
  /** Bumped on every change; the object's ETag. */
  version: number;
}

/** One call the target received, for assertions on exact effects. */
export interface MemoryCall {
  op: MemoryOperation;
  kind?: ResourceKind;
  remoteId?: string;
  /** The hub id and version of an outbound object. */
  localId?: string;
  version?: number;
  /** False when an injected fault failed the call. */
  ok: boolean;
}

/** A failure the target returns on its next matching calls. */
export interface MemoryFault {
  /** The operation to fail; every operation when absent. */
  op?: MemoryOperation;
  /** Fails only calls about this hub id or remote id. */
  id?: string;
  error: ConnectorError | (() => ConnectorError);
  /** How many calls fail (default 1; Infinity until cleared). */
  times?: number;
}

/**
 * An in-memory directory that stands in for a downstream system: unique
 * `userName` / group `displayName`, fault injection, latency, and a call
 * log. Connectors find it by name in {@link memoryTarget}, so every
 * connector of a process with the same `target` config sees the same data.
 */
export class MemoryTarget {
  readonly objects = new Map<string, MemoryTargetObject>();
  readonly calls: MemoryCall[] = [];
  /** When set, connectors must present this secret `token`. */
  token: string | undefined;
  /** Added latency per call, to keep jobs in flight in tests. */
  delayMs = 0;
  private faults: (MemoryFault & { left: number })[] = [];
  private sequence = 0;

  constructor(readonly name: string) {}

  /** Fails the next matching calls with `fault.error`. */
  inject(fault: MemoryFault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  /** Removes every injected fault. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Drops all objects, calls and faults. */
  reset(): void {
    this.objects.clear();
    this.calls.length = 0;
    this.faults = [];
    this.delayMs = 0;
    this.token = undefined;
  }

  /** Objects of a kind. */
  list(kind: ResourceKind): MemoryTargetObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind);
  }

  /** The object whose `externalId` is the hub id `localId` (the identity mapping sets it). */
  byLocalId(localId: string): MemoryTargetObject | undefined {
    return [...this.objects.values()].find((o) => o.attributes.externalId === localId);
  }

  /** Calls of one operation, optionally about one hub id. */
  callsOf(op: MemoryOperation, localId?: string): MemoryCall[] {
    return this.calls.filter((c) => c.op === op && c.ok && (localId === undefined || c.localId === localId));
  }

  /** @internal Logs a call, waits the latency, and throws an injected fault. */
  async enter(call: Omit<MemoryCall, 'ok'>): Promise<void> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const fault = this.faults.find(
      (f) =>
        f.left > 0 && (f.op === undefined || f.op === call.op) && (f.id === undefined || f.id === call.localId || f.id === call.remoteId),
    );
    if (fault) {
      fault.left -= 1;
      if (fault.left <= 0) this.faults = this.faults.filter((f) => f !== fault);
      this.calls.push({ ...call, ok: false });
      throw typeof fault.error === 'function' ? fault.error() : fault.error;
    }
    this.calls.push({ ...call, ok: true });
  }

  /** @internal A new remote id. */
  nextId(): string {
    this.sequence += 1;
    return `m${this.sequence}`;
  }
}

const targets = new Map<string, MemoryTarget>();

/** The process-wide {@link MemoryTarget} of that name, created on first use. */
export function memoryTarget(name: string): MemoryTarget {
  let target = targets.get(name);
  if (!target) {
    target = new MemoryTarget(name);
    targets.set(name, target);
  }
  return target;
}

/** Config of the reference connector. */
export interface MemoryConnectorConfig {
  /** Name of the {@link MemoryTarget} to write to. */
  target: string;
}

const CAPABILITIES: ConnectorCapabilities = {
  kinds: ['User', 'Group'],
  deactivate: true,
  password: true,
  membershipDeltas: true,
  match: true,
  list: true,
};

function lower(value: unknown): string | undefined {
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}

/** The attribute that must be unique per kind at the target (RFC 7643 `uniqueness: server`). */
function uniqueKey(kind: ResourceKind, attributes: JsonObject): string | undefined {
  return lower(kind === 'User' ? attributes.userName : attributes.displayName);
}

/**
 * The reference connector: every SPI method, against a {@link MemoryTarget}.
 * Read it as the smallest complete connector; tests use it as a target.
 */
export class MemoryConnector implements Connector {
  readonly capabilities = CAPABILITIES;

  constructor(
    private readonly target: MemoryTarget,
    private readonly token: string | undefined,
  ) {}

  private async enter(call: Omit<MemoryCall, 'ok'>): Promise<void> {
    if (this.target.token !== undefined && this.target.token !== this.token) {
      this.target.calls.push({ ...call, ok: false });
      throw new ConnectorError('permanent', 'The target rejected the credentials.', { code: 'UNAUTHORIZED', status: 401 });
    }
    await this.target.enter(call);
  }

  private require(ref: RemoteRef): MemoryTargetObject {
    const found = this.target.objects.get(ref.remoteId);
    if (!found || found.kind !== ref.kind) {
      throw new ConnectorError('permanent', `${ref.kind} '${ref.remoteId}' does not exist at the target.`, {
        code: 'NOT_FOUND',
        status: 404,
      });
    }
    return found;
  }

  private assertUnique(kind: ResourceKind, attributes: JsonObject, exceptId?: string): void {
    const key = uniqueKey(kind, attributes);
    if (key === undefined) {
      throw new ConnectorError('permanent', `${kind === 'User' ? 'userName' : 'displayName'} is required.`, { status: 400 });
    }
    if (this.target.list(kind).some((o) => o.id !== exceptId && uniqueKey(kind, o.attributes) === key)) {
      throw new ConnectorError('permanent', `A ${kind} with this name already exists.`, { code: 'CONFLICT', status: 409 });
    }
  }

  private view(object: MemoryTargetObject): RemoteObject {
    return {
      ref: { kind: object.kind, remoteId: object.id, version: String(object.version) },
      attributes: structuredClone(object.attributes),
      members: [...object.members],
    };
  }

  async testConnection(): Promise<ConnectionTestResult> {
    await this.enter({ op: 'testConnection' });
    return { ok: true, message: `memory target '${this.target.name}' holds ${this.target.objects.size} objects`, latencyMs: 0 };
  }

  async match(object: OutboundObject): Promise<RemoteObject | undefined> {
    await this.enter({ op: 'match', kind: object.kind, localId: object.localId, version: object.version });
    const key = uniqueKey(object.kind, object.attributes);
    const externalId = object.attributes.externalId;
    const found = this.target
      .list(object.kind)
      .find(
        (o) =>
          (externalId !== undefined && o.attributes.externalId === externalId) ||
          (key !== undefined && uniqueKey(o.kind, o.attributes) === key),
      );
    return found && this.view(found);
  }

  async create(object: OutboundObject): Promise<RemoteRef> {
    await this.enter({ op: 'create', kind: object.kind, localId: object.localId, version: object.version });
    this.assertUnique(object.kind, object.attributes);
    const created: MemoryTargetObject = {
      id: this.target.nextId(),
      kind: object.kind,
      attributes: structuredClone(object.attributes),
      members: new Set(object.members.map((m) => m.remoteId)),
      password: undefined,
      version: 1,
    };
    this.target.objects.set(created.id, created);
    return { kind: created.kind, remoteId: created.id, version: String(created.version) };
  }

  async update(ref: RemoteRef, object: OutboundObject): Promise<RemoteRef> {
    await this.enter({ op: 'update', kind: ref.kind, remoteId: ref.remoteId, localId: object.localId, version: object.version });
    const found = this.require(ref);
    this.assertUnique(ref.kind, object.attributes, found.id);
    found.attributes = structuredClone(object.attributes);
    found.version += 1;
    return { kind: found.kind, remoteId: found.id, version: String(found.version) };
  }

  async deactivate(ref: RemoteRef): Promise<void> {
    await this.enter({ op: 'deactivate', kind: ref.kind, remoteId: ref.remoteId });
    const found = this.require(ref);
    if (found.attributes.active !== false) {
      found.attributes.active = false;
      found.version += 1;
    }
  }

  async delete(ref: RemoteRef): Promise<void> {
    await this.enter({ op: 'delete', kind: ref.kind, remoteId: ref.remoteId });
    this.target.objects.delete(ref.remoteId);
    // The target drops a deleted user from its groups, as a SCIM service provider does.
    for (const group of this.target.list('Group')) group.members.delete(ref.remoteId);
  }

  async setPassword(ref: RemoteRef, password: string): Promise<void> {
    await this.enter({ op: 'setPassword', kind: ref.kind, remoteId: ref.remoteId });
    const found = this.require(ref);
    if (found.kind !== 'User') throw new ConnectorError('permanent', 'Only users have passwords.', { code: 'UNSUPPORTED', status: 400 });
    found.password = password;
    found.version += 1;
  }

  async updateMembers(ref: RemoteRef, delta: MembershipDelta): Promise<void> {
    await this.enter({ op: 'updateMembers', kind: ref.kind, remoteId: ref.remoteId });
    const found = this.require(ref);
    for (const member of delta.add) found.members.add(member.remoteId);
    for (const id of delta.remove) found.members.delete(id);
    found.version += 1;
  }

  async get(ref: RemoteRef): Promise<RemoteObject | undefined> {
    await this.enter({ op: 'get', kind: ref.kind, remoteId: ref.remoteId });
    const found = this.target.objects.get(ref.remoteId);
    return found && found.kind === ref.kind ? this.view(found) : undefined;
  }

  async *list(kind: ResourceKind): AsyncIterable<RemoteObject> {
    await this.enter({ op: 'list', kind });
    for (const object of this.target.list(kind)) yield this.view(object);
  }
}

/** The factory of the reference connector, kind `memory`. */
export const memoryConnectorFactory: ConnectorFactory<MemoryConnectorConfig> = {
  kind: 'memory',
  description: 'In-memory reference connector (tests and the connector template).',
  secretNames: ['token'],
  validateConfig(config: unknown): MemoryConnectorConfig {
    const target = (config as { target?: unknown } | null)?.target ?? 'default';
    if (typeof target !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(target)) {
      throw new MeridianError('INVALID_CONFIG', "'target' is a name of letters, digits, '.', '_' or '-'.", { field: 'config.target' });
    }
    return { target };
  },
  acceptsPasswords: () => CAPABILITIES.password,
  create(config: MemoryConnectorConfig, secrets: ConnectorSecrets, _context: ConnectorContext): Connector {
    return new MemoryConnector(memoryTarget(config.target), secrets.token);
  },
};
