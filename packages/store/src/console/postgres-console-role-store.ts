import {
  type Clock,
  type ConsoleAccount,
  type ConsoleRoleGrant,
  type ConsoleRoleStore,
  MeridianError,
  type PrincipalLevel,
  type RequestContext,
  type Role,
} from '@meridian/core';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { isUuid } from '../directory/postgres-directory-store.js';
import { auditEvent } from '../events/event-recorder.js';
import { asPlatform, inTenant } from '../orm/unit-of-work.js';

interface GrantRow {
  id: string;
  tenant_id: string;
  community_id: string;
  user_id: string;
  user_name: string;
  role: Role;
  level: PrincipalLevel;
  created_at: Date | string;
  created_by: string;
}

interface AccountRow {
  tenant_id: string;
  community_id: string;
  user_id: string;
  user_name: string;
  active: boolean;
}

const SELECT_GRANTS = `select g.id, g.tenant_id, g.community_id, g.user_id, u.user_name, g.role, g.level, g.created_at, g.created_by
  from console_role_grant g join scim_user u on u.id = g.user_id and u.tenant_id = g.tenant_id`;

const SELECT_ACCOUNT = `select u.tenant_id, t.community_id, u.id as user_id, u.user_name, u.active
  from scim_user u join tenant t on t.id = u.tenant_id`;

function toGrant(row: GrantRow): ConsoleRoleGrant {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    communityId: row.community_id,
    userId: row.user_id,
    userName: row.user_name,
    role: row.role,
    level: row.level,
    createdAt: new Date(row.created_at),
    createdBy: row.created_by,
  };
}

function toAccount(row: AccountRow): ConsoleAccount {
  return { tenantId: row.tenant_id, communityId: row.community_id, userId: row.user_id, userName: row.user_name, active: row.active };
}

/** The console's role grants in `console_role_grant` (ADR 0034); each grant and revoke is audited in the account's tenant chain. */
export class PostgresConsoleRoleStore implements ConsoleRoleStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
  ) {}

  findAccount(tenantId: string, userIdOrName: string): Promise<ConsoleAccount | undefined> {
    if (!isUuid(tenantId)) return Promise.resolve(undefined);
    return inTenant(this.orm, tenantId, async (em) => {
      // userName is case-insensitive (RFC 7643 §4.1.1); an id names the account too.
      const [row] = isUuid(userIdOrName)
        ? await em.execute<AccountRow[]>(`${SELECT_ACCOUNT} where u.tenant_id = ? and u.id = ?`, [tenantId, userIdOrName])
        : await em.execute<AccountRow[]>(`${SELECT_ACCOUNT} where u.tenant_id = ? and lower(u.user_name) = lower(?) limit 1`, [
            tenantId,
            userIdOrName,
          ]);
      return row ? toAccount(row) : undefined;
    });
  }

  grant(values: { account: ConsoleAccount; role: Role; level: PrincipalLevel }, context: RequestContext): Promise<ConsoleRoleGrant> {
    const { account, role, level } = values;
    return inTenant(this.orm, account.tenantId, async (em) => {
      const now = this.clock.now();
      const [row] = await em.execute<{ id: string }[]>(
        `insert into console_role_grant (id, tenant_id, community_id, user_id, role, level, created_at, created_by)
         values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (tenant_id, user_id, role) do nothing returning id`,
        [uuidv7(), account.tenantId, account.communityId, account.userId, role, level, now, context.actor.id],
      );
      if (!row) throw new MeridianError('CONFLICT', `The account '${account.userName}' already has the console role '${role}'.`);
      const grant: ConsoleRoleGrant = {
        id: row.id,
        tenantId: account.tenantId,
        communityId: account.communityId,
        userId: account.userId,
        userName: account.userName,
        role,
        level,
        createdAt: now,
        createdBy: context.actor.id,
      };
      await this.audit(em, 'console.role_granted', grant, context, now);
      return grant;
    });
  }

  async revoke(id: string, context: RequestContext): Promise<ConsoleRoleGrant | undefined> {
    const found = await this.find(id);
    if (!found) return undefined;
    return inTenant(this.orm, found.tenantId, async (em) => {
      const [row] = await em.execute<{ id: string }[]>('delete from console_role_grant where id = ? returning id', [id]);
      if (!row) return undefined;
      await this.audit(em, 'console.role_revoked', found, context, this.clock.now());
      return found;
    });
  }

  find(id: string): Promise<ConsoleRoleGrant | undefined> {
    if (!isUuid(id)) return Promise.resolve(undefined);
    return asPlatform(this.orm, async (em) => {
      const [row] = await em.execute<GrantRow[]>(`${SELECT_GRANTS} where g.id = ?`, [id]);
      return row ? toGrant(row) : undefined;
    });
  }

  list(filter: { tenantId?: string; communityId?: string }): Promise<ConsoleRoleGrant[]> {
    return asPlatform(this.orm, async (em) => {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.tenantId !== undefined) {
        where.push('g.tenant_id = ?');
        params.push(filter.tenantId);
      }
      if (filter.communityId !== undefined) {
        where.push('g.community_id = ?');
        params.push(filter.communityId);
      }
      const rows = await em.execute<GrantRow[]>(
        `${SELECT_GRANTS}${where.length > 0 ? ` where ${where.join(' and ')}` : ''} order by g.created_at, g.id`,
        params,
      );
      return rows.map(toGrant);
    });
  }

  accountWithGrants(tenantId: string, userId: string): Promise<{ account: ConsoleAccount; grants: ConsoleRoleGrant[] } | undefined> {
    if (!isUuid(tenantId) || !isUuid(userId)) return Promise.resolve(undefined);
    return inTenant(this.orm, tenantId, async (em) => {
      const [account] = await em.execute<AccountRow[]>(`${SELECT_ACCOUNT} where u.tenant_id = ? and u.id = ?`, [tenantId, userId]);
      if (!account) return undefined;
      const grants = await em.execute<GrantRow[]>(`${SELECT_GRANTS} where g.tenant_id = ? and g.user_id = ? order by g.created_at, g.id`, [
        tenantId,
        userId,
      ]);
      return { account: toAccount(account), grants: grants.map(toGrant) };
    });
  }

  private async audit(
    em: EntityManager,
    type: 'console.role_granted' | 'console.role_revoked',
    grant: ConsoleRoleGrant,
    context: RequestContext,
    now: Date,
  ): Promise<void> {
    const values = { userId: grant.userId, userName: grant.userName, role: grant.role, level: grant.level };
    await auditEvent(
      em,
      {
        type,
        tenantId: grant.tenantId,
        resourceType: 'ConsoleRoleGrant',
        resourceId: grant.id,
        ...(type === 'console.role_granted' ? { before: null, after: values } : { before: values, after: null }),
      },
      context,
      now,
    );
  }
}
