import {
  type ConnectionTestResult,
  type Connector,
  type ConnectorCapabilities,
  type ConnectorContext,
  ConnectorError,
  type MembershipDelta,
  type OutboundObject,
  type RemoteObject,
  type RemoteRef,
} from '@meridian/connector-sdk';
import type { ResourceKind } from '@meridian/core';
import { Attribute, Change, type Client, ResultCodeError } from 'ldapts';
import { type LdapKindConfig, type LdapSecrets, type LdapTargetConfig, usesTls } from '../config.js';
import { type ConnectAddress, LdapConnection, type LdapEntry } from '../ldap/connection.js';
import { escapeDnValue, escapeFilterValue, firstRdn, sameDn, splitDn } from '../ldap/escape.js';
import { PASSWORD_MODIFY_OID, passwordModifyRequest } from '../ldap/password-modify.js';
import { coreSchemaFor, InboundLdapMapping, OutboundLdapMapping } from '../mapping/ldap-mapping.js';

const ID_BATCH = 100;

function normalDn(dn: string): string {
  return dn.replace(/\s*([,=])\s*/g, '$1').toLowerCase();
}

function change(operation: 'add' | 'delete' | 'replace', type: string, values: string[]): Change {
  return new Change({ operation, modification: new Attribute({ type, values }) });
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function sameValues(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if ((a?.length ?? 0) !== (b?.length ?? 0)) return false;
  const left = [...(a ?? [])].sort();
  const right = [...(b ?? [])].sort();
  return left.every((v, i) => v === right[i]);
}

/** Compiles a target's four mappings; `INVALID_CONFIG` naming the rule that does not parse. */
export function checkLdapMappings(config: LdapTargetConfig): void {
  new OutboundLdapMapping('User', config.users.attributes, 'config.users.attributes');
  new OutboundLdapMapping('Group', config.groups.attributes, 'config.groups.attributes');
  new InboundLdapMapping('User', config.users.readBack, 'config.users.readBack');
  new InboundLdapMapping('Group', config.groups.readBack, 'config.groups.readBack');
}

/**
 * Pushes users and groups into an LDAP directory (RFC 4511). The remote id
 * of an entry is its `entryUUID` (RFC 4530), which survives renames; DNs are
 * looked up when needed. Users become `inetOrgPerson` entries and groups
 * `groupOfNames` (or `groupOfUniqueNames`) by default; a change of the RDN
 * value is a modifyDN, membership changes are modify add/delete of the
 * changed values only, and a renamed or deleted user is renamed in or
 * removed from the groups that list it (what OpenLDAP's refint overlay does).
 */
export class LdapConnector implements Connector {
  readonly capabilities: ConnectorCapabilities;
  /** The connection, with its count of operations by kind. */
  readonly connection: LdapConnection;
  readonly #out: Record<ResourceKind, OutboundLdapMapping>;
  readonly #in: Record<ResourceKind, InboundLdapMapping>;

  constructor(
    private readonly config: LdapTargetConfig,
    secrets: LdapSecrets,
    private readonly context: ConnectorContext,
    connectAddress: ConnectAddress,
  ) {
    this.connection = new LdapConnection(config, secrets, connectAddress);
    this.#out = {
      User: new OutboundLdapMapping('User', config.users.attributes, 'config.users.attributes'),
      Group: new OutboundLdapMapping('Group', config.groups.attributes, 'config.groups.attributes'),
    };
    this.#in = {
      User: new InboundLdapMapping('User', config.users.readBack, 'config.users.readBack'),
      Group: new InboundLdapMapping('Group', config.groups.readBack, 'config.groups.readBack'),
    };
    this.capabilities = {
      kinds: ['User', 'Group'],
      deactivate: config.users.disable !== null,
      password: config.supportsPassword && usesTls(config),
      membershipDeltas: true,
      match: true,
      list: true,
    };
  }

  private kindConfig(kind: ResourceKind): LdapKindConfig {
    return kind === 'User' ? this.config.users : this.config.groups;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const started = Date.now();
    try {
      const base = await this.connection.read(this.config.baseDn, ['1.1']);
      const latencyMs = Date.now() - started;
      if (!base)
        return { ok: false, message: `Bound as ${this.config.bindDn}, but the base DN ${this.config.baseDn} does not exist.`, latencyMs };
      return { ok: true, message: `Bound to ${this.config.url} as ${this.config.bindDn}; ${this.config.baseDn} is there.`, latencyMs };
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error), latencyMs: Date.now() - started };
    }
  }

  /** The LDAP attributes an outbound object should have (the disable marker included). */
  private async desired(object: OutboundObject): Promise<Record<string, string[]>> {
    const attributes = await this.#out[object.kind].map(object.attributes);
    const disable = this.config.users.disable;
    if (object.kind === 'User' && disable) {
      if (object.attributes.active === false) attributes[disable.attribute] = [disable.value];
      else delete attributes[disable.attribute];
    }
    return attributes;
  }

  private managed(kind: ResourceKind): string[] {
    const names = [...this.#out[kind].attributes];
    const disable = this.config.users.disable;
    if (kind === 'User' && disable && !names.some((n) => n.toLowerCase() === disable.attribute.toLowerCase()))
      names.push(disable.attribute);
    return names;
  }

  private rdnValue(kind: ResourceKind, attributes: Record<string, string[]>): string {
    const name = this.kindConfig(kind).rdnAttribute;
    const key = Object.keys(attributes).find((k) => k.toLowerCase() === name.toLowerCase());
    const value = key === undefined ? undefined : attributes[key]?.[0];
    if (value === undefined)
      throw new ConnectorError('permanent', `The mapping gives this ${kind} no '${name}', the attribute that names its entry.`, {
        code: 'UNSUPPORTED',
      });
    return value;
  }

  /** The entry of a remote id (searched below the base DN), or undefined. */
  private async entryById(kind: ResourceKind, id: string, attributes: string[]): Promise<LdapEntry | undefined> {
    const filter = `(${this.config.idAttribute}=${escapeFilterValue(id)})`;
    const found = await this.connection.searchAll(this.kindConfig(kind).base, { scope: 'sub', filter, attributes });
    return found[0];
  }

  private async requireEntry(ref: RemoteRef, attributes: string[]): Promise<LdapEntry> {
    const entry = await this.entryById(ref.kind, ref.remoteId, attributes);
    if (!entry) throw new ConnectorError('permanent', `The ${ref.kind} ${ref.remoteId} is not in the directory.`, { code: 'NOT_FOUND' });
    return entry;
  }

  private async idOf(dn: string): Promise<string> {
    const entry = await this.connection.read(dn, [this.config.idAttribute]);
    const id = entry?.attributes[this.config.idAttribute.toLowerCase()]?.[0];
    if (!id) throw new ConnectorError('permanent', `The entry ${dn} has no ${this.config.idAttribute}.`, { code: 'UNSUPPORTED' });
    return id;
  }

  /** DNs of remote ids, looked up in batches; ids no longer in the directory are left out. */
  private async dnsOf(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const attribute = this.config.idAttribute.toLowerCase();
    for (const batch of chunks([...new Set(ids)], ID_BATCH)) {
      const filter = `(|${batch.map((id) => `(${this.config.idAttribute}=${escapeFilterValue(id)})`).join('')})`;
      for await (const entry of this.connection.search(this.config.baseDn, {
        scope: 'sub',
        filter,
        attributes: [this.config.idAttribute],
      })) {
        const id = entry.attributes[attribute]?.[0];
        if (id) out.set(id, entry.dn);
      }
    }
    return out;
  }

  /** Remote ids of DNs: one read each for a few, one scan of the containers for many. */
  private async idsOf(dns: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const attribute = this.config.idAttribute.toLowerCase();
    if (dns.length <= 20) {
      for (const dn of dns) {
        const id = (await this.connection.read(dn, [this.config.idAttribute]))?.attributes[attribute]?.[0];
        if (id) out.set(normalDn(dn), id);
      }
      return out;
    }
    const wanted = new Set(dns.map(normalDn));
    for await (const entry of this.connection.search(this.config.baseDn, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: [this.config.idAttribute],
    })) {
      const dn = normalDn(entry.dn);
      const id = entry.attributes[attribute]?.[0];
      if (id && wanted.has(dn)) out.set(dn, id);
    }
    return out;
  }

  private memberValues(entry: LdapEntry): string[] {
    const values = entry.attributes[this.config.memberAttribute.toLowerCase()] ?? [];
    return values.filter((v) => v !== this.config.emptyMember);
  }

  private async toRemote(kind: ResourceKind, entry: LdapEntry, memberIds?: Map<string, string>): Promise<RemoteObject> {
    const attributes = await this.#in[kind].map(entry);
    attributes.schemas = [coreSchemaFor(kind)];
    const disable = this.config.users.disable;
    if (kind === 'User') {
      const marker = disable ? entry.attributes[disable.attribute.toLowerCase()] : undefined;
      attributes.active = !(disable && marker?.includes(disable.value));
    }
    let members: string[] = [];
    if (kind === 'Group') {
      const dns = this.memberValues(entry);
      const ids = memberIds ?? (await this.idsOf(dns));
      members = dns.map((dn) => ids.get(normalDn(dn))).filter((id): id is string => id !== undefined);
    }
    const id = entry.attributes[this.config.idAttribute.toLowerCase()]?.[0] ?? '';
    return { ref: { kind, remoteId: id }, attributes, members };
  }

  private readAttributes(): string[] {
    return ['*', this.config.idAttribute];
  }

  async create(object: OutboundObject): Promise<RemoteRef> {
    const kind = this.kindConfig(object.kind);
    const attributes = await this.desired(object);
    const dn = `${kind.rdnAttribute}=${escapeDnValue(this.rdnValue(object.kind, attributes))},${kind.base}`;
    const entry: Record<string, string[]> = { objectClass: kind.objectClasses, ...attributes };
    if (object.kind === 'Group') {
      const dns = await this.dnsOf(object.members.map((m) => m.remoteId));
      const values = object.members.map((m) => dns.get(m.remoteId)).filter((v): v is string => v !== undefined);
      entry[this.config.memberAttribute] = values.length > 0 ? values : [this.config.emptyMember];
    }
    await this.connection.run({ method: 'add', dn, body: { attributes: Object.keys(entry) } }, (client) => client.add(dn, entry));
    return { kind: object.kind, remoteId: await this.idOf(dn) };
  }

  async update(ref: RemoteRef, object: OutboundObject): Promise<RemoteRef> {
    const kind = this.kindConfig(object.kind);
    const managed = this.managed(object.kind);
    const entry = await this.requireEntry(ref, [...managed, this.config.idAttribute]);
    const wanted = await this.desired(object);
    let dn = entry.dn;
    const rdn = firstRdn(dn);
    const newRdnValue = this.rdnValue(object.kind, wanted);
    const renamed = rdn.attribute.toLowerCase() === kind.rdnAttribute.toLowerCase() && rdn.value !== newRdnValue;
    if (renamed) {
      const target = `${kind.rdnAttribute}=${escapeDnValue(newRdnValue)},${splitDn(dn).parent}`;
      await this.connection.run({ method: 'modifyDN', dn, body: { newDn: target } }, (client) => client.modifyDN(dn, target));
      if (object.kind === 'User') await this.replaceInGroups(dn, target);
      dn = target;
    }
    const changes: Change[] = [];
    for (const name of managed) {
      const current = entry.attributes[name.toLowerCase()];
      const key = Object.keys(wanted).find((k) => k.toLowerCase() === name.toLowerCase());
      const next = key === undefined ? undefined : wanted[key];
      // modifyDN already set the naming attribute's new value and dropped the old one.
      if (renamed && name.toLowerCase() === kind.rdnAttribute.toLowerCase() && (next?.length ?? 0) <= 1) continue;
      if (next === undefined) {
        if (current !== undefined && current.length > 0) changes.push(change('delete', name, []));
      } else if (!sameValues(current, next)) {
        changes.push(change('replace', name, next));
      }
    }
    if (changes.length > 0) {
      const target = dn;
      await this.connection.run({ method: 'modify', dn: target, body: { replace: changes.map((c) => c.modification.type) } }, (client) =>
        client.modify(target, changes),
      );
    }
    return { kind: ref.kind, remoteId: ref.remoteId };
  }

  /** Renames a user's DN in every group that lists it (RFC 4519 `member`/`uniqueMember` hold DNs). */
  private async replaceInGroups(oldDn: string, newDn: string): Promise<void> {
    await this.forEachGroupOf(oldDn, (group, client) => this.modifyMembers(client, group, [newDn], [oldDn]));
  }

  private async forEachGroupOf(memberDn: string, work: (group: string, client: Client) => Promise<void>): Promise<void> {
    const filter = `(${this.config.memberAttribute}=${escapeFilterValue(memberDn)})`;
    const groups = await this.connection.searchAll(this.config.groups.base, { scope: 'sub', filter, attributes: ['1.1'] });
    for (const group of groups) {
      await this.connection.run({ method: 'members', dn: group.dn, body: { member: 'rename or removal' } }, (client) =>
        work(group.dn, client),
      );
    }
  }

  async deactivate(ref: RemoteRef): Promise<void> {
    const disable = this.config.users.disable;
    if (!disable) throw new ConnectorError('permanent', 'This LDAP target has no disable attribute.', { code: 'UNSUPPORTED' });
    const entry = await this.requireEntry(ref, [disable.attribute]);
    if (entry.attributes[disable.attribute.toLowerCase()]?.includes(disable.value)) return;
    await this.connection.run({ method: 'modify', dn: entry.dn, body: { replace: [disable.attribute] } }, (client) =>
      client.modify(entry.dn, change('replace', disable.attribute, [disable.value])),
    );
  }

  async delete(ref: RemoteRef): Promise<void> {
    const entry = await this.entryById(ref.kind, ref.remoteId, ['1.1']);
    if (!entry) return;
    if (ref.kind === 'User') {
      await this.forEachGroupOf(entry.dn, (group, client) => this.modifyMembers(client, group, [], [entry.dn]));
    }
    try {
      await this.connection.run({ method: 'delete', dn: entry.dn }, (client) => client.del(entry.dn));
    } catch (error) {
      if (!(error instanceof ConnectorError && error.code === 'NOT_FOUND')) throw error;
    }
  }

  async setPassword(ref: RemoteRef, password: string): Promise<void> {
    if (!this.capabilities.password)
      throw new ConnectorError('permanent', 'This LDAP target does not take passwords (supportsPassword over TLS).', {
        code: 'UNSUPPORTED',
      });
    const entry = await this.requireEntry(ref, ['1.1']);
    await this.connection.run({ method: 'extended', dn: entry.dn, body: { oid: PASSWORD_MODIFY_OID } }, (client) =>
      client.exop(PASSWORD_MODIFY_OID, passwordModifyRequest(entry.dn, password)),
    );
  }

  /**
   * Adds and deletes member values with one modify. LDAP refuses to add a
   * value that is there (20) or delete one that is not (16): a repeated
   * delta then asks the server which values it holds, one compare per value
   * of the delta, and sends only what is left. A group may not be left
   * without a value (both object classes require one, 65): the placeholder
   * comes with the removal of the last member and goes with the next add.
   */
  private async modifyMembers(client: Client, group: string, add: string[], remove: string[]): Promise<void> {
    const attribute = this.config.memberAttribute;
    const send = async (adding: string[], removing: string[], placeholder: 'add' | 'delete' | 'none') => {
      const changes: Change[] = [];
      if (removing.length > 0) changes.push(change('delete', attribute, removing));
      if (adding.length > 0) changes.push(change('add', attribute, adding));
      if (placeholder !== 'none') changes.push(change(placeholder, attribute, [this.config.emptyMember]));
      if (changes.length > 0) {
        this.connection.counts.modify++;
        await client.modify(group, changes);
      }
    };
    const code = (error: unknown) => (error instanceof ResultCodeError ? error.code : undefined);
    try {
      await send(add, remove, 'none');
    } catch (error) {
      if (code(error) === 65) {
        await send(add, remove, 'add');
        return;
      }
      if (code(error) !== 16 && code(error) !== 20) throw error;
      const holds = async (value: string) => {
        this.connection.counts.compare++;
        return client.compare(group, attribute, value);
      };
      const adding: string[] = [];
      for (const value of add) if (!(await holds(value))) adding.push(value);
      const removing: string[] = [];
      for (const value of remove) if (await holds(value)) removing.push(value);
      try {
        await send(adding, removing, 'none');
      } catch (retry) {
        if (code(retry) !== 65) throw retry;
        await send(adding, removing, 'add');
        return;
      }
    }
    if (add.length > 0) {
      this.connection.counts.compare++;
      if (await client.compare(group, attribute, this.config.emptyMember)) await send([], [], 'delete');
    }
  }

  async updateMembers(ref: RemoteRef, delta: MembershipDelta): Promise<void> {
    // Only the group's DN is read, never its member values: the cost follows the change, not the group's size.
    const group = await this.requireEntry(ref, ['1.1']);
    const dns = await this.dnsOf([...delta.add.map((m) => m.remoteId), ...delta.remove]);
    const add = delta.add.map((m) => dns.get(m.remoteId)).filter((v): v is string => v !== undefined);
    // A removed member no longer in the directory was taken out of its groups when it was deleted.
    const remove = delta.remove.map((id) => dns.get(id)).filter((v): v is string => v !== undefined);
    const size = this.config.maxValuesPerModify;
    for (let i = 0; i < Math.max(add.length, remove.length); i += size) {
      const adding = add.slice(i, i + size);
      const removing = remove.slice(i, i + size);
      await this.connection.run({ method: 'members', dn: group.dn, body: { add: adding.length, delete: removing.length } }, (client) =>
        this.modifyMembers(client, group.dn, adding, removing),
      );
    }
  }

  async get(ref: RemoteRef): Promise<RemoteObject | undefined> {
    const entry = await this.entryById(ref.kind, ref.remoteId, this.readAttributes());
    return entry ? this.toRemote(ref.kind, entry) : undefined;
  }

  async match(object: OutboundObject): Promise<RemoteObject | undefined> {
    const kind = this.kindConfig(object.kind);
    const wanted = await this.desired(object);
    const clauses = [`(${kind.rdnAttribute}=${escapeFilterValue(this.rdnValue(object.kind, wanted))})`];
    // The attribute that carries the hub's id (the rule that reads `externalId`), when the mapping has one.
    const idRule = Object.entries(kind.attributes).find(([, rule]) => rule.trim() === 'externalId')?.[0];
    if (idRule && typeof object.attributes.externalId === 'string')
      clauses.push(`(${idRule}=${escapeFilterValue(object.attributes.externalId)})`);
    const filter = `(&(objectClass=${kind.objectClasses[0]})(|${clauses.join('')}))`;
    const found = await this.connection.searchAll(kind.base, { scope: 'sub', filter, attributes: this.readAttributes() });
    const entry = found[0];
    return entry ? this.toRemote(object.kind, entry) : undefined;
  }

  async *list(kind: ResourceKind): AsyncIterable<RemoteObject> {
    const config = this.kindConfig(kind);
    let memberIds: Map<string, string> | undefined;
    if (kind === 'Group') {
      // One scan of the directory's ids serves every group's members.
      memberIds = new Map();
      const attribute = this.config.idAttribute.toLowerCase();
      for await (const entry of this.connection.search(this.config.baseDn, {
        scope: 'sub',
        filter: '(objectClass=*)',
        attributes: [this.config.idAttribute],
      })) {
        const id = entry.attributes[attribute]?.[0];
        if (id) memberIds.set(normalDn(entry.dn), id);
      }
    }
    const filter = `(objectClass=${config.objectClasses[0]})`;
    for await (const entry of this.connection.search(config.base, { scope: 'sub', filter, attributes: this.readAttributes() })) {
      if (sameDn(entry.dn, config.base)) continue;
      yield await this.toRemote(kind, entry, memberIds);
    }
  }

  async close(): Promise<void> {
    this.context.logger.debug('ldap connector closed', { url: this.config.url });
    await this.connection.close();
  }
}
