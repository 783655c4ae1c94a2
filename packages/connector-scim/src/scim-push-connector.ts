import { randomUUID } from 'node:crypto';
import {
  type ConnectionTestResult,
  type Connector,
  type ConnectorCapabilities,
  type ConnectorContext,
  ConnectorError,
  isConnectorError,
  type JsonObject,
  type MembershipDelta,
  type OutboundMember,
  type OutboundObject,
  type OwnershipTransferResult,
  type RemoteObject,
  type RemoteRef,
} from '@meridian/connector-sdk';
import { coreSchemaOf, OWNERSHIP_TRANSFER_SCHEMA, type ResourceKind, SCHEMA } from '@meridian/core';
import type { ScimConnectorConfig, ScimConnectorSecrets } from './config.js';
import { isObject, ScimHttpClient, type ScimReply } from './http/scim-http-client.js';
import { diffAttributes, type ScimPatchOperation } from './patch/diff-attributes.js';

const ENDPOINT: Record<ResourceKind, string> = { User: '/Users', Group: '/Groups' };
/** Server-assigned or computed attributes dropped from a read before it is written back with PUT. */
const READ_ONLY = ['id', 'meta', 'groups', 'members'];

/** A SCIM filter string literal (RFC 7644 §3.4.2.2: JSON string rules). */
function literal(value: string): string {
  return JSON.stringify(value);
}

function patchBody(operations: ScimPatchOperation[]): JsonObject {
  return { schemas: [SCHEMA.patchOp], Operations: operations };
}

function memberValue(member: OutboundMember): JsonObject {
  return { value: member.remoteId, type: member.kind };
}

/**
 * Provisions Users and Groups into any SCIM 2.0 service provider (RFC 7644):
 * CSPs, Entra ID- or Okta-style applications, another Meridian hub.
 * Updates send only what changed (PATCH) where the target supports PATCH,
 * a full PUT otherwise; group membership moves as deltas split to the
 * target's per-request member cap. Every failure is a classified
 * `ConnectorError`; retries and backoff are the engine's job.
 *
 * @example
 * const connector = new ScimPushConnector(parseScimConnectorConfig(config, secrets), readScimSecrets(secrets), context);
 * const ref = await connector.create(outbound);
 */
export class ScimPushConnector implements Connector {
  readonly capabilities: ConnectorCapabilities;
  readonly #config: ScimConnectorConfig;
  readonly #http: ScimHttpClient;
  #patch: Promise<boolean> | undefined;
  /** Whether the target answers an `or` of two `eq` filters (undefined: not asked yet). */
  #orFilter: boolean | undefined;
  /** The member cap in force: the configured one, halved each time the target answers 413. */
  #memberChunk: number;

  constructor(config: ScimConnectorConfig, secrets: ScimConnectorSecrets, context: ConnectorContext) {
    this.#config = config;
    this.#http = new ScimHttpClient(config.baseUrl, secrets.token, config.timeoutMs, context);
    this.#memberChunk = config.maxMembersPerRequest;
    if (typeof config.usePatch === 'boolean') this.#patch = Promise.resolve(config.usePatch);
    this.capabilities = {
      kinds: ['User', 'Group'],
      deactivate: true,
      password: config.supportsPassword,
      // Without PATCH, deltas are applied by a read and a PUT of the whole member list.
      membershipDeltas: true,
      match: true,
      // A User's userName is unique at a SCIM service provider, which answers a duplicate with 409 (RFC 7643
      // §4.1.1, RFC 7644 §3.3): a first push posts it without a look-up. A Group's displayName need not be unique.
      createConflicts: ['User'],
      list: true,
      transferOwnership: config.transferOwnership,
    };
  }

  /** Reads `/ServiceProviderConfig` (learning whether PATCH is supported) and runs an empty lookup, as Entra ID does. */
  async testConnection(): Promise<ConnectionTestResult> {
    const started = performance.now();
    try {
      const patch = await this.#patchSupported(true);
      const probe = await this.#http.send({
        method: 'GET',
        path: ENDPOINT.User,
        query: { filter: `userName eq ${literal(`meridian-probe-${randomUUID()}`)}`, count: 1 },
      });
      if (!probe.body || !Array.isArray(probe.body.Resources ?? [])) {
        return { ok: false, message: 'The target answered a user lookup without a SCIM ListResponse.', latencyMs: elapsed(started) };
      }
      const mode = patch ? 'PATCH' : 'PUT';
      return { ok: true, message: `Reached ${this.#config.baseUrl}; updates use ${mode}.`, latencyMs: elapsed(started) };
    } catch (error) {
      if (!isConnectorError(error)) throw error;
      return { ok: false, message: error.message, latencyMs: elapsed(started) };
    }
  }

  /**
   * Finds the remote object that stands for `object`: by `externalId`, then by
   * `userName` (Users) or `displayName` (Groups), both in one request where
   * the target can filter with `or`. Two candidates for one
   * value are a permanent `CONFLICT`: adopting the wrong account is worse than stopping.
   */
  async match(object: OutboundObject): Promise<RemoteObject | undefined> {
    const attributes = object.attributes;
    const naming = object.kind === 'User' ? 'userName' : 'displayName';
    const lookups: [string, unknown][] = [
      ['externalId', attributes.externalId],
      [naming, attributes[naming]],
    ];
    const both = lookups.every(([, value]) => typeof value === 'string' && value !== '');
    if (both && this.#orFilter !== false) {
      // One request asks both (RFC 7644 §3.4.2.2 `or`): nothing found, or one object, settles it. Two or more
      // are told apart by the lookups one at a time below, as is a target that cannot filter so (400, remembered).
      try {
        const found = await this.#find(
          object.kind,
          lookups.map(([attribute, value]) => `${attribute} eq ${literal(String(value))}`).join(' or '),
        );
        this.#orFilter = true;
        if (found.length <= 1) return found[0];
      } catch (error) {
        if (!(isConnectorError(error) && error.kind === 'permanent' && error.status === 400)) throw error;
        this.#orFilter = false;
      }
    }
    for (const [attribute, value] of lookups) {
      if (typeof value !== 'string' || value === '') continue;
      let found: RemoteObject[];
      try {
        found = await this.#find(object.kind, `${attribute} eq ${literal(value)}`);
      } catch (error) {
        // Some targets cannot filter on externalId (400 invalidFilter); the name lookup still can.
        if (attribute === 'externalId' && isConnectorError(error) && error.kind === 'permanent' && error.status === 400) continue;
        throw error;
      }
      if (found.length > 1) {
        throw new ConnectorError(
          'permanent',
          `${found.length} ${object.kind}s at the target have ${attribute} ${literal(value)}; not adopting one.`,
          {
            code: 'CONFLICT',
          },
        );
      }
      if (found[0]) return found[0];
    }
    return undefined;
  }

  /**
   * Creates the object (POST). A group's members go in the POST up to the
   * member cap, the rest as PATCH deltas. A duplicate is a permanent
   * `CONFLICT` (409): call `match` and adopt.
   */
  async create(object: OutboundObject): Promise<RemoteRef> {
    const body = this.#document(object);
    let rest: OutboundMember[] = [];
    if (object.kind === 'Group') {
      const split = object.members.length > this.#memberChunk && (await this.#patchSupported());
      const first = split ? object.members.slice(0, this.#memberChunk) : object.members;
      rest = split ? object.members.slice(this.#memberChunk) : [];
      body.members = first.map(memberValue);
    }
    const reply = await this.#http.send({ method: 'POST', path: ENDPOINT[object.kind], body });
    const ref = refOf(object.kind, reply);
    if (!ref) {
      throw new ConnectorError('permanent', `The target answered ${reply.status} to a create without the new resource's id.`, {
        status: reply.status,
      });
    }
    if (rest.length > 0) await this.updateMembers(ref, { add: rest, remove: [] });
    return ref;
  }

  /**
   * Brings the remote object to `object`'s attributes. With PATCH, only the
   * differences from `previous` (the attributes last pushed) are sent; without
   * `previous`, the remote object is read and compared. Without PATCH, a PUT
   * carries the whole object (a group's full member list included). Group
   * members never move through PATCH here: use `updateMembers`.
   */
  async update(ref: RemoteRef, object: OutboundObject, previous?: OutboundObject): Promise<RemoteRef> {
    if (await this.#patchSupported()) {
      // Members are not compared here, so a large group's member list is not even loaded.
      const before = previous?.attributes ?? (await this.#read(ref, { withoutMembers: true }));
      const operations = diffAttributes(before, object.attributes);
      if (operations.length === 0) return ref;
      const reply = await this.#tryPatch(ref, operations);
      if (reply) return refOf(ref.kind, reply, ref) ?? ref;
    }
    const body = this.#document(object);
    if (object.kind === 'Group') {
      // Members pushed as a delta were not loaded: a PUT keeps the ones the target holds.
      body.members = object.membersOmitted ? keptMembers(await this.#read(ref)) : object.members.map(memberValue);
    }
    return refOf(ref.kind, await this.#put(ref, body), ref) ?? ref;
  }

  /** Sets `active: false` (PATCH, or a read and a PUT); `NOT_FOUND` when the user is gone. */
  async deactivate(ref: RemoteRef): Promise<void> {
    await this.#change(ref, [{ op: 'replace', path: 'active', value: false }], (current) => ({ ...current, active: false }));
  }

  /** Deletes the remote object; one that is already gone (404) counts as deleted. */
  async delete(ref: RemoteRef): Promise<void> {
    await this.#http.send({ method: 'DELETE', path: pathOf(ref) }, [404]);
  }

  /** Sets a user's password (PATCH `replace` of `password`); the value is redacted from every error record. */
  async setPassword(ref: RemoteRef, password: string): Promise<void> {
    if (!this.#config.supportsPassword) {
      throw new ConnectorError('permanent', 'Password push is off for this target (supportsPassword: false).', { code: 'UNSUPPORTED' });
    }
    await this.#change(ref, [{ op: 'replace', path: 'password', value: password }], (current) => ({ ...current, password }));
  }

  /**
   * Adds and removes group members in requests of at most
   * `maxMembersPerRequest` member references (removals first); a 413 halves
   * the size and resends. Without PATCH: a read and a PUT of the member list.
   */
  async updateMembers(ref: RemoteRef, delta: MembershipDelta): Promise<void> {
    if (ref.kind !== 'Group') throw new TypeError(`updateMembers needs a Group ref, got a ${ref.kind}.`);
    if (delta.add.length === 0 && delta.remove.length === 0) return;
    if (!(await this.#patchSupported())) {
      await this.#putMembers(ref, delta);
      return;
    }
    type Item = { remove: string } | { add: OutboundMember };
    const items: Item[] = [...delta.remove.map((remove) => ({ remove })), ...delta.add.map((add) => ({ add }))];
    let next = 0;
    while (next < items.length) {
      const chunk = items.slice(next, next + this.#memberChunk);
      const adds = chunk.flatMap((item) => ('add' in item ? [memberValue(item.add)] : []));
      const operations: ScimPatchOperation[] = chunk.flatMap((item) =>
        // RFC 7644 §3.5.2.2: a value filter removes one member; `remove` of `members` without one would remove them all.
        'remove' in item ? [{ op: 'remove' as const, path: `members[value eq ${literal(item.remove)}]` }] : [],
      );
      if (adds.length > 0) operations.push({ op: 'add', path: 'members', value: adds });
      try {
        const reply = await this.#tryPatch(ref, operations);
        if (!reply) {
          // The target turned out not to support PATCH: apply what is left in one PUT.
          const left = items.slice(next);
          await this.#putMembers(ref, {
            add: left.flatMap((i) => ('add' in i ? [i.add] : [])),
            remove: left.flatMap((i) => ('remove' in i ? [i.remove] : [])),
          });
          return;
        }
      } catch (error) {
        // 413: the target's cap is lower than configured; learn it instead of failing forever.
        if (isConnectorError(error) && error.status === 413 && chunk.length > 1) {
          this.#memberChunk = Math.ceil(chunk.length / 2);
          continue;
        }
        throw error;
      }
      next += chunk.length;
    }
  }

  /**
   * Hands what `from` owns at the target to `to` through Meridian's extension
   * endpoint `POST {baseUrl}/OwnershipTransfers` (docs/connector-scim.md); a
   * 404 (either user gone) is `NOT_FOUND`. The count is what the target reports.
   */
  async transferOwnership(from: RemoteRef, to: RemoteRef): Promise<OwnershipTransferResult> {
    if (!this.#config.transferOwnership) {
      throw new ConnectorError('permanent', 'Ownership transfer is off for this target (transferOwnership: false).', {
        code: 'UNSUPPORTED',
      });
    }
    if (from.kind !== 'User' || to.kind !== 'User') throw new TypeError('transferOwnership takes two User refs.');
    const reply = await this.#http.send({
      method: 'POST',
      path: '/OwnershipTransfers',
      body: { schemas: [OWNERSHIP_TRANSFER_SCHEMA], from: from.remoteId, to: to.remoteId },
    });
    const transferred = reply.body?.transferred;
    return { transferred: typeof transferred === 'number' && Number.isInteger(transferred) && transferred >= 0 ? transferred : 0 };
  }

  /** Reads one object; undefined when the target has no such object (404). */
  async get(ref: RemoteRef): Promise<RemoteObject | undefined> {
    const reply = await this.#http.send({ method: 'GET', path: pathOf(ref) }, [404]);
    if (reply.status === 404 || !reply.body) return undefined;
    return remoteObjectOf(ref.kind, reply.body, reply.headers);
  }

  /** Every object of a kind, page by page (`startIndex`/`count`), following the page sizes the target actually answers. */
  async *list(kind: ResourceKind): AsyncIterable<RemoteObject> {
    let startIndex = 1;
    for (;;) {
      const reply = await this.#http.send({ method: 'GET', path: ENDPOINT[kind], query: { startIndex, count: this.#config.pageSize } });
      const resources = Array.isArray(reply.body?.Resources) ? (reply.body.Resources as unknown[]).filter(isObject) : [];
      for (const resource of resources) {
        const object = remoteObjectOf(kind, resource);
        if (object) yield object;
      }
      startIndex += resources.length;
      const total = typeof reply.body?.totalResults === 'number' ? reply.body.totalResults : undefined;
      if (resources.length === 0 || (total !== undefined && startIndex > total)) return;
    }
  }

  /** Nothing to release: connections belong to the shared HTTP client. */
  async close(): Promise<void> {}

  async #find(kind: ResourceKind, filter: string): Promise<RemoteObject[]> {
    const query = { filter, startIndex: 1, count: 2, ...(kind === 'Group' ? { excludedAttributes: 'members' } : {}) };
    // Okta-style targets may answer 404 for "no match".
    const reply = await this.#http.send({ method: 'GET', path: ENDPOINT[kind], query }, [404]);
    const resources = reply.status === 404 || !Array.isArray(reply.body?.Resources) ? [] : (reply.body.Resources as unknown[]);
    return resources.flatMap((r) => {
      const object = isObject(r) ? remoteObjectOf(kind, r) : undefined;
      return object ? [object] : [];
    });
  }

  /**
   * Whether PATCH is used: the config's answer, or `patch.supported` from
   * `/ServiceProviderConfig`, read once (a target without that endpoint is assumed to support it).
   */
  #patchSupported(refresh = false): Promise<boolean> {
    if (typeof this.#config.usePatch === 'boolean') return Promise.resolve(this.#config.usePatch);
    if (!this.#patch || refresh) {
      const detected = this.#http.send({ method: 'GET', path: '/ServiceProviderConfig' }, [404]).then((reply) => {
        const supported = isObject(reply.body?.patch) ? reply.body.patch.supported : undefined;
        return reply.status === 404 || supported === undefined || supported === true || supported === 'true';
      });
      // A failed detection is not remembered: the next call asks again.
      detected.catch(() => {
        if (this.#patch === detected) this.#patch = undefined;
      });
      this.#patch = detected;
    }
    return this.#patch;
  }

  /** PATCHes; undefined when the target answers that it does not implement PATCH (405/501), which is remembered. */
  async #tryPatch(ref: RemoteRef, operations: ScimPatchOperation[]): Promise<ScimReply | undefined> {
    try {
      return await this.#http.send({ method: 'PATCH', path: pathOf(ref), body: patchBody(operations) });
    } catch (error) {
      if (this.#config.usePatch === 'auto' && isConnectorError(error) && (error.status === 405 || error.status === 501)) {
        this.#patch = Promise.resolve(false);
        return undefined;
      }
      throw error;
    }
  }

  /** One change as PATCH operations, or as a read-modify-PUT when the target lacks PATCH. */
  async #change(ref: RemoteRef, operations: ScimPatchOperation[], modify: (current: JsonObject) => JsonObject): Promise<void> {
    if ((await this.#patchSupported()) && (await this.#tryPatch(ref, operations))) return;
    await this.#put(ref, modify(writable(await this.#read(ref))));
  }

  async #putMembers(ref: RemoteRef, delta: MembershipDelta): Promise<void> {
    const current = await this.#read(ref);
    const removed = new Set(delta.remove);
    const members = keptMembers(current).filter((m) => !removed.has(String(m.value)));
    const present = new Set(members.map((m) => String(m.value)));
    members.push(...delta.add.filter((m) => !present.has(m.remoteId)).map(memberValue));
    await this.#put(ref, { ...writable(current), members });
  }

  /** The remote object as the target returns it; `NOT_FOUND` when gone. */
  async #read(ref: RemoteRef, options: { withoutMembers?: boolean } = {}): Promise<JsonObject> {
    const query = options.withoutMembers && ref.kind === 'Group' ? { excludedAttributes: 'members' } : {};
    const reply = await this.#http.send({ method: 'GET', path: pathOf(ref), query }, [404]);
    if (reply.status === 404 || !reply.body) throw gone(ref);
    return reply.body;
  }

  async #put(ref: RemoteRef, body: JsonObject): Promise<ScimReply> {
    return this.#http.send({ method: 'PUT', path: pathOf(ref), body });
  }

  /** The body of a POST or PUT: the mapped attributes, with the core schema when the mapping gave none. */
  #document(object: OutboundObject): JsonObject {
    const { members: _members, groups: _groups, id: _id, meta: _meta, ...attributes } = object.attributes;
    const schemas = Array.isArray(attributes.schemas) ? attributes.schemas : [coreSchemaOf(object.kind)];
    return { ...attributes, schemas };
  }
}

/** The member references of a remote group as read, to write back unchanged. */
function keptMembers(current: JsonObject): JsonObject[] {
  return (Array.isArray(current.members) ? current.members : [])
    .filter(isObject)
    .map((m) => ({ value: m.value, ...(m.type !== undefined ? { type: m.type } : {}) }));
}

function pathOf(ref: RemoteRef): string {
  return `${ENDPOINT[ref.kind]}/${encodeURIComponent(ref.remoteId)}`;
}

function gone(ref: RemoteRef): ConnectorError {
  return new ConnectorError('permanent', `${ref.kind} ${ref.remoteId} no longer exists at the target.`, { code: 'NOT_FOUND', status: 404 });
}

function writable(document: JsonObject): JsonObject {
  const copy = { ...document };
  for (const key of READ_ONLY) delete copy[key];
  return copy;
}

function versionOf(body: JsonObject | undefined, headers: Headers | undefined): string | undefined {
  const meta = body?.meta;
  if (isObject(meta) && typeof meta.version === 'string') return meta.version;
  return headers?.get('etag') ?? undefined;
}

/** The ref a write answered with; `fallback`'s id when the answer has no body (a 204). */
function refOf(kind: ResourceKind, reply: ScimReply, fallback?: RemoteRef): RemoteRef | undefined {
  const id = typeof reply.body?.id === 'string' ? reply.body.id : fallback?.remoteId;
  if (id === undefined) return undefined;
  const version = versionOf(reply.body, reply.headers);
  return { kind, remoteId: id, ...(version !== undefined ? { version } : {}) };
}

function remoteObjectOf(kind: ResourceKind, body: JsonObject, headers?: Headers): RemoteObject | undefined {
  if (typeof body.id !== 'string') return undefined;
  const { id, meta: _meta, members, ...attributes } = body;
  const version = versionOf(body, headers);
  return {
    ref: { kind, remoteId: id, ...(version !== undefined ? { version } : {}) },
    attributes,
    members: Array.isArray(members) ? members.filter(isObject).map((m) => String(m.value)) : [],
  };
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
