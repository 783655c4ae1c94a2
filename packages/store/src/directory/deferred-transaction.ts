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
import { changeStatement, type WriteStatement } from '../events/event-recorder.js';
import { newUser, type PostgresDirectoryTransaction, userInsert } from './postgres-directory-store.js';

/**
 * A directory transaction that opens the database transaction only when a
 * statement needs it (ADR 0022). The most frequent write, a new User and its
 * event, needs nothing read first: when the work starts with that, the row,
 * the outbox event and the audit entry are kept as one statement, which the
 * store sends when the work is done (`meridian_write_in_tenant`). Anything else
 * opens the transaction, first writes what was kept, then goes on in it, so
 * the work sees its own writes as in any transaction.
 */
export class DeferredDirectoryTransaction implements DirectoryTransaction {
  private opening: Promise<PostgresDirectoryTransaction> | undefined;
  private kept: { user: WriteStatement; event?: { event: DomainEvent; context: RequestContext; at: Date } } | undefined;

  constructor(
    private readonly begin: () => Promise<PostgresDirectoryTransaction>,
    private readonly tenantId: string,
    private readonly clock: Clock,
  ) {}

  /** The open database transaction, opened now if it is not yet, with what was kept written into it. */
  opened(): Promise<PostgresDirectoryTransaction> {
    this.opening ??= this.begin().then(async (tx) => {
      const kept = this.kept;
      this.kept = undefined;
      if (kept) {
        await tx.em.execute(kept.user.sql, kept.user.params);
        if (kept.event) {
          const statement = changeStatement(kept.event.event, kept.event.context, kept.event.at);
          await tx.em.execute(statement.sql, statement.params);
        }
      }
      return tx;
    });
    return this.opening;
  }

  /** The one statement of a transaction that only created a User and recorded its event; undefined otherwise. */
  singleStatement(): WriteStatement | undefined {
    if (this.opening || !this.kept) return undefined;
    const { user, event } = this.kept;
    return event ? changeStatement(event.event, event.context, event.at, [user]) : user;
  }

  async insert(kind: ResourceKind, values: ResourceWrite): Promise<ScimResource> {
    if (kind !== 'User' || this.opening || this.kept) return (await this.opened()).insert(kind, values);
    const id = uuidv7();
    const now = this.clock.now();
    this.kept = { user: userInsert(this.tenantId, id, values, now) };
    return newUser(this.tenantId, id, values, now);
  }

  async record(event: DomainEvent, context: RequestContext): Promise<void> {
    if (this.opening || !this.kept || this.kept.event || event.tenantId !== this.tenantId) {
      return (await this.opened()).record(event, context);
    }
    this.kept.event = { event, context, at: this.clock.now() };
  }

  async find(kind: ResourceKind, id: string, include?: ResourceIncludes): Promise<ScimResource | undefined> {
    return (await this.opened()).find(kind, id, include);
  }

  async resolveMembers(ids: string[]): Promise<GroupMember[]> {
    return (await this.opened()).resolveMembers(ids);
  }

  async update(kind: ResourceKind, id: string, expectedVersion: number, values: ResourceWrite): Promise<ScimResource> {
    return (await this.opened()).update(kind, id, expectedVersion, values);
  }

  async changeMembers(groupId: string, changes: MemberChange[]): Promise<MemberChangeResult> {
    return (await this.opened()).changeMembers(groupId, changes);
  }

  async remove(kind: ResourceKind, id: string): Promise<void> {
    return (await this.opened()).remove(kind, id);
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
