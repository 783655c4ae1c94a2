import type {
  Clock,
  DirectoryTransaction,
  DomainEvent,
  GroupMember,
  MemberChange,
  MemberChangeResult,
  RequestContext,
  ResourceIncludes,
  ResourceKind,
  ResourceWrite,
  ScimResource,
} from '@meridian/core';
import { v7 as uuidv7 } from 'uuid';
import { changeArguments, changeStatement, checkedChangeStatement, standalone, type WriteStatement } from '../events/event-recorder.js';
import {
  isUuid,
  newUser,
  type PostgresDirectoryTransaction,
  userDelete,
  userInsert,
  userInsertArguments,
  userRowValues,
  userUpdate,
  userUpdateArguments,
} from './postgres-directory-store.js';
import { StaleRead } from './stale-read.js';

/** Reads a User (with its groups) on the primary, outside any transaction: the optimistic read of an update. */
export type UserReader = (id: string) => Promise<ScimResource | undefined>;

/**
 * The one statement a deferred transaction sends when the work is done:
 *
 * - `create`: a new User and its event, the arguments of the prepared `meridian_create_user_in_tenant`;
 * - `updateUser`: a User's update at the version read and its event, the arguments of the prepared
 *   `meridian_update_user_in_tenant`, which writes nothing when the row is no longer at that version;
 * - `update`: the update of a row at the version read, with its event, for `meridian_update_in_tenant`, which undoes
 *   it when it touched none;
 * - `write`: any other kept write (a new User without an event), for `meridian_write_in_tenant`.
 */
export type SingleStatement =
  | { kind: 'create'; arguments: unknown[] }
  | { kind: 'updateUser'; arguments: unknown[] }
  | { kind: 'update'; statement: WriteStatement }
  | { kind: 'write'; statement: WriteStatement };

/**
 * A directory transaction that opens the database transaction only when a
 * statement needs it (ADR 0022, ADR 0039). The two most frequent writes need
 * one statement:
 *
 * - a new User and its event: the row, the outbox event and the audit entry
 *   are kept as one statement, which the store sends when the work is done
 *   (`meridian_write_in_tenant`);
 * - an update of a User (PATCH, PUT): with a {@link UserReader}, the User is
 *   read without a lock (one prepared statement), and its update at the
 *   version read, with the event, is kept as one statement
 *   (`meridian_update_in_tenant`), which touches nothing unless the row is
 *   still at that version; otherwise the store does the work again.
 *
 * Anything else opens the transaction, first checks under the row's lock that
 * a User read without one is unchanged (or gives up with {@link StaleRead}),
 * writes what was kept, then goes on in it, so the work sees its own writes
 * as in any transaction.
 */
export class DeferredDirectoryTransaction implements DirectoryTransaction {
  private opening: Promise<PostgresDirectoryTransaction> | undefined;
  private kept:
    | {
        write: WriteStatement;
        checked: boolean;
        /** The arguments of the row for `meridian_create_user_in_tenant`, when the write is a new User. */
        create?: unknown[];
        /** The arguments of the row for `meridian_update_user_in_tenant`, when the write is a User's update. */
        updateUser?: unknown[];
        event?: { event: DomainEvent; context: RequestContext; at: Date };
      }
    | undefined;
  /** The User read without a lock, and the version it was read at. */
  private unlocked: ScimResource | undefined;

  constructor(
    private readonly begin: () => Promise<PostgresDirectoryTransaction>,
    private readonly tenantId: string,
    private readonly clock: Clock,
    private readonly readUser?: UserReader,
  ) {}

  /** The open database transaction, opened now if it is not yet, with what was kept written into it. */
  opened(): Promise<PostgresDirectoryTransaction> {
    this.opening ??= this.begin().then(async (tx) => {
      const kept = this.kept;
      this.kept = undefined;
      const unlocked = this.unlocked;
      if (unlocked && !kept?.checked) {
        // What the work decided rests on that read: under the lock, the User must still be at its version.
        const [row] = await tx.em.execute<{ version: number }[]>(
          'select version from scim_user where tenant_id = ? and id = ? for no key update',
          [this.tenantId, unlocked.id],
        );
        if (row?.version !== unlocked.version) throw new StaleRead();
      }
      if (kept) {
        const write = standalone(kept.write);
        const written = await tx.em.execute<unknown[]>(write.sql, write.params);
        if (kept.checked && written.length !== 1) throw new StaleRead();
        if (kept.event) {
          const statement = changeStatement(kept.event.event, kept.event.context, kept.event.at);
          await tx.em.execute(statement.sql, statement.params);
        }
      }
      return tx;
    });
    return this.opening;
  }

  /** The one statement of a transaction that only created a User, or only updated a User it read, and recorded its event; undefined otherwise. */
  singleStatement(): SingleStatement | undefined {
    if (this.opening || !this.kept) return undefined;
    const { write, checked, create, updateUser, event } = this.kept;
    if (updateUser && event) {
      return { kind: 'updateUser', arguments: [...updateUser, ...changeArguments(event.event, event.context, event.at)] };
    }
    if (checked) {
      const statement = event
        ? checkedChangeStatement(event.event, event.context, event.at, write)
        : (() => {
            const alone = standalone(write);
            return { sql: `with w1 as (${alone.sql}) select count(*) from w1`, params: alone.params };
          })();
      return { kind: 'update', statement };
    }
    if (create && event) return { kind: 'create', arguments: [...create, ...changeArguments(event.event, event.context, event.at)] };
    return { kind: 'write', statement: event ? changeStatement(event.event, event.context, event.at, [write]) : write };
  }

  async insert(kind: ResourceKind, values: ResourceWrite): Promise<ScimResource> {
    if (kind !== 'User' || this.opening || this.kept || this.unlocked) return (await this.opened()).insert(kind, values);
    const id = uuidv7();
    const now = this.clock.now();
    const row = userRowValues(values);
    this.kept = { write: userInsert(this.tenantId, id, values, now, row), checked: false, create: userInsertArguments(id, now, row) };
    return newUser(this.tenantId, id, values, now);
  }

  async record(event: DomainEvent, context: RequestContext): Promise<void> {
    if (this.opening || !this.kept || this.kept.event || event.tenantId !== this.tenantId) {
      return (await this.opened()).record(event, context);
    }
    this.kept.event = { event, context, at: this.clock.now() };
  }

  async find(kind: ResourceKind, id: string, include?: ResourceIncludes): Promise<ScimResource | undefined> {
    if (kind !== 'User' || !this.readUser || this.opening || this.kept || this.unlocked || !isUuid(id)) {
      return (await this.opened()).find(kind, id, include);
    }
    // Read without a lock, with the User's groups (an update answers them); checked when the work writes.
    const found = await this.readUser(id);
    if (!found) return undefined;
    this.unlocked = found;
    return { ...found, attributes: structuredClone(found.attributes), groups: [...found.groups] };
  }

  async resolveMembers(ids: string[]): Promise<GroupMember[]> {
    return (await this.opened()).resolveMembers(ids);
  }

  async update(kind: ResourceKind, id: string, expectedVersion: number, values: ResourceWrite): Promise<ScimResource> {
    const read = this.unlocked;
    if (kind !== 'User' || this.opening || this.kept || read?.id !== id || read.version !== expectedVersion) {
      return (await this.opened()).update(kind, id, expectedVersion, values);
    }
    const now = this.clock.now();
    const row = userRowValues(values);
    this.kept = {
      write: userUpdate(this.tenantId, id, expectedVersion, values, now, 'id', row),
      checked: true,
      updateUser: userUpdateArguments(id, expectedVersion, now, row),
    };
    // The row as the kept statement writes it; its groups as read (the statement touches the row at that version only).
    return {
      ...read,
      externalId: values.externalId ?? undefined,
      attributes: values.attributes,
      extensionSchemas: [...values.extensionSchemas],
      groups: [...read.groups],
      version: expectedVersion + 1,
      lastModified: now,
    };
  }

  async changeMembers(groupId: string, changes: MemberChange[]): Promise<MemberChangeResult> {
    return (await this.opened()).changeMembers(groupId, changes);
  }

  async remove(kind: ResourceKind, id: string): Promise<void> {
    const read = this.unlocked;
    if (kind !== 'User' || this.opening || this.kept || read?.id !== id) return (await this.opened()).remove(kind, id);
    // The delete at the version read, its memberships first, kept as one statement with the event (ADR 0039).
    this.kept = { write: userDelete(this.tenantId, id, read.version), checked: true };
  }

  async valueTaken(
    kind: ResourceKind,
    keys: string[],
    value: string | number | boolean,
    caseExact: boolean,
    exceptId?: string,
  ): Promise<boolean> {
    return (await this.opened()).valueTaken(kind, keys, value, caseExact, exceptId);
  }
}
