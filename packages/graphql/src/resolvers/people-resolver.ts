import {
  type DirectoryAccount,
  type DirectoryAccountGroup,
  type DirectoryConflict,
  type DirectoryRulesView,
  isMeridianError,
  type Person,
  type PersonAttribute,
  parseScimFilter,
} from '@meridian/core';
import DataLoader from 'dataloader';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { requestLoader } from '../loaders.js';
import { AccountNode, SortOrder, toAccountNode } from '../types/account.js';
import { TenantNode } from '../types/objects.js';
import {
  AuthorityRuleInput,
  ConflictConnection,
  ConflictNode,
  DirectoryRulesNode,
  LinkedAccountNode,
  LinkedGroupNode,
  PersonConnection,
  PersonFilter,
  PersonNode,
  PersonSortField,
} from '../types/person.js';
import { accountLoader, primeTenant, tenantLoader } from './account-loaders.js';
import { toTenantNode } from './mapping.js';
import { contextOf } from './request-context.js';

// The community's global directory (issue 6). Queries authorize `people.read` on the community
// (GlobalDirectoryService); nested fields load through per-request DataLoaders keyed by community,
// so a page of people with their accounts, managers and groups costs a constant number of statements.

function toPersonNode(p: Person): PersonNode {
  const v = p.values;
  return Object.assign(new PersonNode(), {
    id: p.id,
    communityId: p.communityId,
    managerPersonId: p.managerPersonId,
    displayName: v.displayName ?? null,
    givenName: v.givenName ?? null,
    familyName: v.familyName ?? null,
    email: v.email ?? null,
    phoneNumber: v.phoneNumber ?? null,
    title: v.title ?? null,
    department: v.department ?? null,
    organization: v.organization ?? null,
    division: v.division ?? null,
    costCenter: v.costCenter ?? null,
    employeeNumber: v.employeeNumber ?? null,
    active: p.active,
    sources: Object.entries(p.sources).map(([attribute, source]) => ({
      attribute,
      accountId: source.userId,
      tenantId: source.tenantId,
      pinned: p.pinned[attribute as PersonAttribute] === source.tenantId,
    })),
    conflictCount: p.conflictCount,
    version: p.version,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  });
}

function toLinkedAccountNode(a: DirectoryAccount, office?: TenantNode): LinkedAccountNode {
  return Object.assign(new LinkedAccountNode(), {
    ...(office ? { office } : {}),
    id: a.userId,
    tenantId: a.tenantId,
    communityId: a.communityId,
    personId: a.personId,
    userName: a.userName,
    displayName: a.displayName,
    externalId: a.externalId,
    active: a.active,
    email: a.values.email ?? null,
    employeeNumber: a.values.employeeNumber ?? null,
    department: a.values.department ?? null,
    title: a.values.title ?? null,
    link: a.link,
    pinned: a.pinned,
    linkedAt: a.linkedAt,
  });
}

function toLinkedGroupNode(g: DirectoryAccountGroup): LinkedGroupNode {
  return { id: g.groupId, displayName: g.displayName, accountId: g.userId, tenantId: g.tenantId };
}

function toConflictNode(c: DirectoryConflict): ConflictNode {
  return Object.assign(new ConflictNode(), {
    id: c.id,
    kind: c.kind,
    personId: c.personId,
    attribute: c.attribute,
    accountId: c.userId,
    tenantId: c.tenantId,
    candidates: c.candidates.map((candidate) =>
      'personId' in candidate
        ? { accountId: null, tenantId: null, value: null, personId: candidate.personId, rule: candidate.rule }
        : { accountId: candidate.userId, tenantId: candidate.tenantId, value: candidate.value, personId: null, rule: null },
    ),
    createdAt: c.createdAt,
  });
}

function toRulesNode(view: DirectoryRulesView): DirectoryRulesNode {
  return { correlation: view.correlation, authority: view.authority.map((a) => ({ attribute: a.attribute, tenants: a.tenants })) };
}

/**
 * What the nodes of a `people` page select among `accounts`, `groups` and
 * `manager`: the store reads them with the page, in one statement. A
 * fragment anywhere on the way is taken to select everything.
 */
function pageIncludes(info: GraphQLResolveInfo): { accounts: boolean; groups: boolean; managers: boolean } {
  const all = { accounts: true, groups: true, managers: true };
  const found = { accounts: false, groups: false, managers: false };
  for (const field of info.fieldNodes) {
    for (const edges of field.selectionSet?.selections ?? []) {
      if (edges.kind !== 'Field') return all;
      if (edges.name.value !== 'edges') continue;
      for (const node of edges.selectionSet?.selections ?? []) {
        if (node.kind !== 'Field') return all;
        if (node.name.value !== 'node') continue;
        for (const selected of node.selectionSet?.selections ?? []) {
          if (selected.kind !== 'Field') return all;
          if (selected.name.value === 'accounts') found.accounts = true;
          if (selected.name.value === 'groups') found.groups = true;
          if (selected.name.value === 'manager') found.managers = true;
        }
      }
    }
  }
  return found;
}

/** True when the selection of this field asks for `name` directly (or through a fragment, which is taken to). */
function selects(info: GraphQLResolveInfo, name: string): boolean {
  return info.fieldNodes.some((node) => (node.selectionSet?.selections ?? []).some((s) => s.kind !== 'Field' || s.name.value === name));
}

const accountKey = (tenantId: string, userId: string) => `${tenantId}/${userId}`;

/** Groups rows by a key, in one pass. */
function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

const refOfKey = (k: string) => {
  const [tenantId = '', userId = ''] = k.split('/');
  return { tenantId, userId };
};

/** The loaders of one community, for this request (built once per request and community). */
function loaders(ctx: GraphqlContext, communityId: string) {
  return requestLoader(ctx, `people:${communityId}`, () => {
    const store = ctx.services.people.store;
    return {
      people: new DataLoader<string, Person | undefined>(async (ids) => {
        const found = new Map((await store.peopleByIds(communityId, ids)).map((p) => [p.id, p]));
        return ids.map((id) => found.get(id));
      }),
      accounts: new DataLoader<string, DirectoryAccount[]>(async (personIds) => {
        const byPerson = groupBy(await store.accountsOfPeople(communityId, personIds), (a) => a.personId);
        return personIds.map((id) => byPerson.get(id) ?? []);
      }),
      groups: new DataLoader<string, DirectoryAccountGroup[]>(async (keys) => {
        const byAccount = groupBy(await store.groupsOfAccounts(communityId, keys.map(refOfKey)), (g) => accountKey(g.tenantId, g.userId));
        return keys.map((k) => byAccount.get(k) ?? []);
      }),
      // Reached from an account, not from the directory: the core checks `people.read` on the community.
      byAccount: new DataLoader<string, DirectoryAccount | undefined>(async (keys) => {
        const linked = await ctx.services.people.linkedAccounts(ctx.principal, communityId, keys.map(refOfKey));
        const found = new Map(linked.map((a) => [accountKey(a.tenantId, a.userId), a]));
        return keys.map((k) => found.get(k));
      }),
      conflicts: new DataLoader<string, DirectoryConflict[]>(async (personIds) => {
        const byPerson = groupBy((await store.conflicts(communityId, { first: 500, personIds })).items, (c) => c.personId ?? '');
        return personIds.map((id) => byPerson.get(id) ?? []);
      }),
    };
  });
}

@Resolver(() => PersonNode)
export class PeopleResolver {
  @Query(() => PersonConnection, {
    description:
      "The community's global directory: one entry per person, across its offices. `filter` takes structured arguments, `scimFilter` a SCIM filter over the person's attributes; keyset paging.",
  })
  async people(
    @Ctx() ctx: GraphqlContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('community', () => String, { nullable: true, description: "Community slug or id; a community token's own when omitted." })
    community?: string | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first = 50,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => PersonFilter, { nullable: true }) filter?: PersonFilter | null,
    @Arg('scimFilter', () => String, { nullable: true, description: 'e.g. department eq "Sales" and emails co "@example.com"' })
    scimFilter?: string | null,
    @Arg('sortBy', () => PersonSortField, { defaultValue: PersonSortField.DISPLAY_NAME }) sortBy = PersonSortField.DISPLAY_NAME,
    @Arg('sortOrder', () => SortOrder, { defaultValue: SortOrder.ASCENDING }) sortOrder = SortOrder.ASCENDING,
  ): Promise<PersonConnection> {
    const where = filter ? Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined && v !== null)) : undefined;
    const { page } = await ctx.services.people.people(ctx.principal, {
      community: community ?? undefined,
      first,
      after: after ?? undefined,
      ...(where ? { where } : {}),
      filter: scimFilter ? parseScimFilter(scimFilter) : undefined,
      sortBy,
      descending: sortOrder === SortOrder.DESCENDING,
      withTotalCount: selects(info, 'totalCount'),
      include: pageIncludes(info),
    });
    const people = loaders(ctx, page.items[0]?.communityId ?? '');
    for (const person of page.items) people.people.prime(person.id, person);
    // What the page's nodes show came with the page: their loaders answer without another read, and the nodes carry
    // it, so that their fields answer at once (no promise per field and node for GraphQL to wait on).
    const { accounts, tenants, groups, managers } = page.related ?? {};
    const offices = new Map<string, TenantNode>();
    for (const tenant of tenants ?? []) {
      primeTenant(ctx, tenant);
      offices.set(tenant.id, toTenantNode(tenant));
    }
    const byPerson = groupBy(accounts ?? [], (a) => a.personId);
    const byAccount = groups ? groupBy(groups, (g) => accountKey(g.tenantId, g.userId)) : undefined;
    if (accounts) {
      for (const person of page.items) people.accounts.prime(person.id, byPerson.get(person.id) ?? []);
      if (byAccount) {
        for (const a of accounts)
          people.groups.prime(accountKey(a.tenantId, a.userId), byAccount.get(accountKey(a.tenantId, a.userId)) ?? []);
      }
    }
    const managerNodes = new Map<string, PersonNode>();
    for (const manager of managers ?? []) {
      people.people.prime(manager.id, manager);
      managerNodes.set(manager.id, toPersonNode(manager));
    }
    const nodeOf = (p: Person): PersonNode => {
      const node = toPersonNode(p);
      if (!accounts) return node;
      const mine = byPerson.get(p.id) ?? [];
      node.shown = {
        accounts: mine.map((a) => toLinkedAccountNode(a, offices.get(a.tenantId))),
        groups: byAccount && mine.flatMap((a) => (byAccount.get(accountKey(a.tenantId, a.userId)) ?? []).map(toLinkedGroupNode)),
        manager: managers ? (p.managerPersonId ? (managerNodes.get(p.managerPersonId) ?? null) : null) : undefined,
      };
      return node;
    };
    return {
      totalCount: page.totalCount,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      edges: page.items.map((p, i) => ({ cursor: page.cursors[i] ?? '', node: nodeOf(p) })),
    };
  }

  @Query(() => PersonNode, { nullable: true, description: 'One person of the global directory; null when there is none.' })
  async person(
    @Ctx() ctx: GraphqlContext,
    @Arg('id', () => ID) id: string,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ): Promise<PersonNode | null> {
    try {
      return toPersonNode(await ctx.services.people.person(ctx.principal, id, community));
    } catch (error) {
      if (isMeridianError(error) && error.code === 'NOT_FOUND' && error.field === 'id') return null;
      throw error;
    }
  }

  @Query(() => ConflictConnection, { description: 'What the rules could not settle, oldest first.' })
  async directoryConflicts(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first = 50,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<ConflictConnection> {
    const page = await ctx.services.people.conflicts(ctx.principal, community, { first, ...(after ? { after } : {}) });
    return {
      totalCount: page.totalCount,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      edges: page.items.map((c, i) => ({ cursor: page.cursors[i] ?? '', node: toConflictNode(c) })),
    };
  }

  @Query(() => DirectoryRulesNode, { description: "The community's correlation and source-of-authority rules." })
  async directoryRules(@Ctx() ctx: GraphqlContext, @Arg('community', () => String, { nullable: true }) community?: string | null) {
    return toRulesNode(await ctx.services.people.rules(ctx.principal, community));
  }

  @FieldResolver(() => PersonNode, { nullable: true, description: "The manager's person, when the manager's account is in the directory." })
  manager(@Root() person: PersonNode, @Ctx() ctx: GraphqlContext): PersonNode | null | Promise<PersonNode | null> {
    if (!person.managerPersonId) return null;
    if (person.shown?.manager !== undefined) return person.shown.manager;
    return loaders(ctx, person.communityId)
      .people.load(person.managerPersonId)
      .then((manager) => (manager ? toPersonNode(manager) : null));
  }

  @FieldResolver(() => [LinkedAccountNode], { description: 'The accounts of this person in the offices, oldest link first.' })
  accounts(@Root() person: PersonNode, @Ctx() ctx: GraphqlContext): LinkedAccountNode[] | Promise<LinkedAccountNode[]> {
    if (person.shown) return person.shown.accounts;
    return loaders(ctx, person.communityId)
      .accounts.load(person.id)
      .then((accounts) => accounts.map((a) => toLinkedAccountNode(a)));
  }

  @FieldResolver(() => [LinkedGroupNode], { description: 'Groups the accounts of this person belong to directly, in every office.' })
  groups(@Root() person: PersonNode, @Ctx() ctx: GraphqlContext): LinkedGroupNode[] | Promise<LinkedGroupNode[]> {
    if (person.shown?.groups) return person.shown.groups;
    const l = loaders(ctx, person.communityId);
    return l.accounts
      .load(person.id)
      .then((accounts) => Promise.all(accounts.map((a) => l.groups.load(accountKey(a.tenantId, a.userId)))))
      .then((groups) => groups.flat().map(toLinkedGroupNode));
  }

  @FieldResolver(() => [ConflictNode], { description: "This person's unresolved conflicts." })
  async conflicts(@Root() person: PersonNode, @Ctx() ctx: GraphqlContext): Promise<ConflictNode[]> {
    if (person.conflictCount === 0) return [];
    return (await loaders(ctx, person.communityId).conflicts.load(person.id)).map(toConflictNode);
  }

  @Mutation(() => DirectoryRulesNode, {
    description:
      "Replaces a community's rules (community or platform admins): correlation attributes in order, and per attribute the tenants whose value wins. Every account is projected again.",
  })
  async setDirectoryRules(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
    @Arg('correlation', () => [String], { nullable: true, description: 'employeeNumber, email, externalId, userName; [] links nothing.' })
    correlation?: string[] | null,
    @Arg('authority', () => [AuthorityRuleInput], { nullable: true }) authority?: AuthorityRuleInput[] | null,
  ) {
    const view = await ctx.services.people.setRules(
      ctx.principal,
      community,
      { correlation: correlation ?? undefined, authority: authority ?? undefined },
      contextOf(ctx),
    );
    return toRulesNode(view);
  }

  @Mutation(() => PersonNode, { description: 'Links an account to a person by hand (audited); the rules leave it there until released.' })
  async linkAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('account', () => ID, { description: "The account's User id or userName." }) account: string,
    @Arg('person', () => ID) person: string,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    return toPersonNode(await ctx.services.people.link(ctx.principal, { community, tenant, account, person }, contextOf(ctx)));
  }

  @Mutation(() => PersonNode, {
    description: 'Takes an account out of its person into a person of its own, by hand (audited). Answers the new person.',
  })
  async unlinkAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('account', () => ID, { description: "The account's User id or userName." }) account: string,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    return toPersonNode(await ctx.services.people.unlink(ctx.principal, { community, tenant, account }, contextOf(ctx)));
  }

  @Mutation(() => Boolean, { description: 'Hands an account linked or unlinked by hand back to the correlation rules (audited).' })
  async releaseAccount(
    @Ctx() ctx: GraphqlContext,
    @Arg('tenant', () => String) tenant: string,
    @Arg('account', () => ID, { description: "The account's User id or userName." }) account: string,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    await ctx.services.people.release(ctx.principal, { community, tenant, account }, contextOf(ctx));
    return true;
  }

  @Mutation(() => PersonNode, {
    description:
      "Resolves an attribute of one person: the tenant's value wins from now on; tenant null hands it back to the rules (audited).",
  })
  async pinAttribute(
    @Ctx() ctx: GraphqlContext,
    @Arg('person', () => ID) person: string,
    @Arg('attribute', () => String) attribute: string,
    @Arg('tenant', () => String, { nullable: true }) tenant?: string | null,
    @Arg('community', () => String, { nullable: true }) community?: string | null,
  ) {
    return toPersonNode(
      await ctx.services.people.pin(ctx.principal, { community, person, attribute, tenant: tenant ?? null }, contextOf(ctx)),
    );
  }

  @Mutation(() => Int, {
    description: 'Projects every account and group of the community again (after a restore, say); answers how many were queued.',
  })
  async rebuildDirectory(@Ctx() ctx: GraphqlContext, @Arg('community', () => String, { nullable: true }) community?: string | null) {
    return ctx.services.people.rebuild(ctx.principal, community);
  }
}

@Resolver(() => LinkedAccountNode)
export class LinkedAccountResolver {
  @FieldResolver(() => TenantNode, { description: 'The office (tenant) the account belongs to.' })
  tenant(@Root() account: LinkedAccountNode, @Ctx() ctx: GraphqlContext): TenantNode | Promise<TenantNode> {
    if (account.office) return account.office;
    // The account was read within the caller's community: its tenant needs no check of its own.
    return tenantLoader(ctx)
      .load(account.tenantId)
      .then((tenant) => {
        if (!tenant) throw new Error(`Tenant ${account.tenantId} of a linked account does not exist.`);
        return toTenantNode(tenant);
      });
  }

  @FieldResolver(() => PersonNode, { description: 'The person this account is linked to.' })
  async person(@Root() account: LinkedAccountNode, @Ctx() ctx: GraphqlContext): Promise<PersonNode | null> {
    const person = await loaders(ctx, account.communityId).people.load(account.personId);
    return person ? toPersonNode(person) : null;
  }

  @FieldResolver(() => AccountNode, {
    nullable: true,
    description:
      "The office's account itself (its current state, manager, replication status), for a caller who may read that tenant's accounts; one read per tenant on the page.",
  })
  async account(@Root() linked: LinkedAccountNode, @Ctx() ctx: GraphqlContext): Promise<AccountNode | null> {
    const tenant = await tenantLoader(ctx).load(linked.tenantId);
    if (!tenant) return null;
    // The core reads it for a caller who may read the tenant's accounts (`directory.read`), one read per tenant.
    const resource = await accountLoader(ctx, tenant).load(linked.id);
    return resource ? toAccountNode(resource, linked.tenantId) : null;
  }

  @FieldResolver(() => [LinkedGroupNode], { description: 'Groups this account belongs to directly.' })
  async groups(@Root() account: LinkedAccountNode, @Ctx() ctx: GraphqlContext): Promise<LinkedGroupNode[]> {
    const groups = await loaders(ctx, account.communityId).groups.load(accountKey(account.tenantId, account.id));
    return groups.map(toLinkedGroupNode);
  }
}

@Resolver(() => AccountNode)
export class AccountPersonResolver {
  @FieldResolver(() => PersonNode, {
    nullable: true,
    description: "The account's person in its community's global directory (for tokens that may read it); null until it is projected.",
  })
  async person(@Root() account: AccountNode, @Ctx() ctx: GraphqlContext): Promise<PersonNode | null> {
    const tenant = await tenantLoader(ctx).load(account.tenantId);
    if (!tenant) return null;
    const l = loaders(ctx, tenant.communityId);
    const linked = await l.byAccount.load(accountKey(tenant.id, account.id));
    const person = linked ? await l.people.load(linked.personId) : undefined;
    return person ? toPersonNode(person) : null;
  }
}
