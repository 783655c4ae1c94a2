import { MeridianError } from '../errors/meridian-error.js';
import type { Filter } from '../filter/ast.js';
import type { Page } from '../ports/admin.js';
import type { Clock } from '../ports/clock.js';
import type {
  DirectoryAccount,
  DirectoryConflict,
  GlobalDirectoryStore,
  PeopleQuery,
  PeopleRelated,
  PeopleSortField,
  PeopleWhere,
  Person,
} from '../ports/global-directory.js';
import type { AdminService } from '../tenancy/admin-service.js';
import type { Community, Principal, RequestContext, Tenant } from '../tenancy/model.js';
import { authorize } from '../tenancy/permissions.js';
import {
  type CorrelationAttribute,
  type DirectoryRules,
  PERSON_ATTRIBUTES,
  type PersonAttribute,
  parseCorrelationRules,
  parsePersonAttribute,
} from './global-directory.js';

/** Largest page of people. */
export const MAX_PEOPLE_PAGE = 500;

/** A community's rules as an admin writes and reads them: tenants by slug. */
export interface DirectoryRulesView {
  correlation: CorrelationAttribute[];
  authority: { attribute: PersonAttribute; tenants: string[] }[];
}

/** Arguments of {@link GlobalDirectoryService.people}. */
export interface PeopleArguments {
  community?: string | undefined;
  first: number;
  after?: string | undefined;
  where?: Omit<PeopleWhere, 'tenantId'> & { tenant?: string };
  filter?: Filter | undefined;
  sortBy?: PeopleSortField;
  descending?: boolean;
  withTotalCount: boolean;
  include?: PeopleQuery['include'];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The community's global directory for callers (GraphQL, CLI): every
 * operation is authorized here (`people.read`, `people.manage`) and names its
 * community; the store reads inside that community only.
 */
export class GlobalDirectoryService {
  constructor(
    readonly store: GlobalDirectoryStore,
    private readonly admin: AdminService,
    private readonly clock: Clock,
  ) {}

  /**
   * The community an operation is about: the one named, or a community
   * token's own. A platform token must name one. NOT_FOUND for a community out
   * of reach, so that its existence does not leak.
   */
  async community(principal: Principal, action: 'people.read' | 'people.manage', slugOrId?: string | null): Promise<Community> {
    authorize(principal, action);
    const ref = slugOrId ?? (principal.kind === 'community' ? principal.communityId : undefined);
    if (ref === undefined) {
      throw new MeridianError('INVALID_INPUT', 'Name the community (slug or id).', { field: 'community' });
    }
    return this.admin.authorizeCommunity(principal, action, ref);
  }

  /** A tenant of the community, by slug or id; NOT_FOUND (naming the field) otherwise. */
  async tenantOf(principal: Principal, community: Community, slugOrId: string, field = 'tenant'): Promise<Tenant> {
    const page = await this.admin.listTenants(principal, { first: 500 }, community.id);
    const tenant = page.items.find((t) => t.slug === slugOrId || t.id === slugOrId);
    if (!tenant) throw new MeridianError('NOT_FOUND', `Tenant '${slugOrId}' is not a tenant of community '${community.slug}'.`, { field });
    return tenant;
  }

  async people(
    principal: Principal,
    args: PeopleArguments,
  ): Promise<{ community: Community; page: Page<Person> & { related?: PeopleRelated } }> {
    const community = await this.community(principal, 'people.read', args.community);
    if (!Number.isInteger(args.first) || args.first < 0 || args.first > MAX_PEOPLE_PAGE) {
      throw new MeridianError('INVALID_INPUT', `'first' is from 0 to ${MAX_PEOPLE_PAGE}.`, { field: 'first' });
    }
    const { tenant, ...where } = args.where ?? {};
    const query: PeopleQuery = {
      first: args.first,
      after: args.after,
      where: { ...where, ...(tenant !== undefined ? { tenantId: (await this.tenantOf(principal, community, tenant)).id } : {}) },
      sortBy: args.sortBy ?? 'displayName',
      descending: args.descending ?? false,
      withTotalCount: args.withTotalCount,
      ...(args.filter ? { filter: args.filter } : {}),
      ...(args.include ? { include: args.include } : {}),
    };
    return { community, page: await this.store.people(community.id, query) };
  }

  /** One person; NOT_FOUND when there is none in the community. */
  async person(principal: Principal, id: string, community?: string | null): Promise<Person> {
    const scope = await this.community(principal, 'people.read', community);
    const [person] = UUID.test(id) ? await this.store.peopleByIds(scope.id, [id]) : [];
    if (!person) throw new MeridianError('NOT_FOUND', `Person '${id}' not found.`, { field: 'id' });
    return person;
  }

  async conflicts(
    principal: Principal,
    community: string | null | undefined,
    page: { first: number; after?: string },
  ): Promise<Page<DirectoryConflict>> {
    const scope = await this.community(principal, 'people.read', community);
    if (!Number.isInteger(page.first) || page.first < 0 || page.first > MAX_PEOPLE_PAGE) {
      throw new MeridianError('INVALID_INPUT', `'first' is from 0 to ${MAX_PEOPLE_PAGE}.`, { field: 'first' });
    }
    return this.store.conflicts(scope.id, page);
  }

  async rules(principal: Principal, community?: string | null): Promise<DirectoryRulesView> {
    const scope = await this.community(principal, 'people.read', community);
    return this.toView(principal, scope, await this.store.rules(scope.id));
  }

  /**
   * Replaces the community's rules. `correlation` lists the attributes that
   * link accounts, in order; an empty list links nothing. `authority` gives,
   * per attribute, the tenants whose value wins, in order. Every account is
   * projected again under the new rules.
   */
  async setRules(
    principal: Principal,
    community: string | null | undefined,
    input: { correlation?: string[] | undefined; authority?: { attribute: string; tenants: string[] }[] | undefined },
    context: RequestContext,
  ): Promise<DirectoryRulesView> {
    const scope = await this.community(principal, 'people.manage', community);
    const current = await this.store.rules(scope.id);
    const correlation = input.correlation === undefined ? current.correlation : parseCorrelationRules(input.correlation);
    let authority = current.authority;
    if (input.authority !== undefined) {
      authority = {};
      for (const [i, rule] of input.authority.entries()) {
        const attribute = parsePersonAttribute(rule.attribute, `authority.${i}.attribute`);
        if (authority[attribute]) {
          throw new MeridianError('INVALID_INPUT', `Attribute '${attribute}' has two authority rules.`, {
            field: `authority.${i}.attribute`,
          });
        }
        if (rule.tenants.length === 0) {
          throw new MeridianError('INVALID_INPUT', 'List at least one tenant, or leave the attribute out.', {
            field: `authority.${i}.tenants`,
          });
        }
        const ids: string[] = [];
        for (const slug of rule.tenants) {
          const tenant = await this.tenantOf(principal, scope, slug, `authority.${i}.tenants`);
          if (!ids.includes(tenant.id)) ids.push(tenant.id);
        }
        authority[attribute] = ids;
      }
    }
    const rules: DirectoryRules = { correlation, authority };
    return this.toView(principal, scope, await this.store.setRules(scope.id, rules, context));
  }

  private async toView(principal: Principal, community: Community, rules: DirectoryRules): Promise<DirectoryRulesView> {
    const tenants = (await this.admin.listTenants(principal, { first: 500 }, community.id)).items;
    const slug = (id: string) => tenants.find((t) => t.id === id)?.slug ?? id;
    return {
      correlation: rules.correlation,
      authority: PERSON_ATTRIBUTES.filter((a) => rules.authority[a]).map((attribute) => ({
        attribute,
        tenants: (rules.authority[attribute] ?? []).map(slug),
      })),
    };
  }

  /** The account of a tenant of the community, by User id or userName. */
  private async accountRef(
    principal: Principal,
    community: Community,
    tenant: string,
    user: string,
  ): Promise<{ tenantId: string; userId: string }> {
    const t = await this.tenantOf(principal, community, tenant);
    if (UUID.test(user)) return { tenantId: t.id, userId: user };
    const found = await this.store.accountByUserName(community.id, t.id, user);
    if (!found)
      throw new MeridianError('NOT_FOUND', `Tenant '${t.slug}' has no account '${user}' in the global directory.`, { field: 'account' });
    return { tenantId: t.id, userId: found.userId };
  }

  /** Links an account to a person by hand; the rules then leave it there. Answers the person. */
  async link(
    principal: Principal,
    args: { community?: string | null; tenant: string; account: string; person: string },
    context: RequestContext,
  ): Promise<Person> {
    const scope = await this.community(principal, 'people.manage', args.community);
    const ref = await this.accountRef(principal, scope, args.tenant, args.account);
    if (!UUID.test(args.person)) throw new MeridianError('NOT_FOUND', `Person '${args.person}' not found.`, { field: 'person' });
    const personId = await this.store.link(scope.id, ref, args.person, context);
    return this.person(principal, personId, scope.id);
  }

  /** Takes an account out of its person into a person of its own, by hand. Answers the new person. */
  async unlink(
    principal: Principal,
    args: { community?: string | null; tenant: string; account: string },
    context: RequestContext,
  ): Promise<Person> {
    const scope = await this.community(principal, 'people.manage', args.community);
    const ref = await this.accountRef(principal, scope, args.tenant, args.account);
    const personId = await this.store.unlink(scope.id, ref, context);
    return this.person(principal, personId, scope.id);
  }

  /** Hands an account linked or unlinked by hand back to the correlation rules. */
  async release(
    principal: Principal,
    args: { community?: string | null; tenant: string; account: string },
    context: RequestContext,
  ): Promise<void> {
    const scope = await this.community(principal, 'people.manage', args.community);
    await this.store.release(scope.id, await this.accountRef(principal, scope, args.tenant, args.account), context);
  }

  /**
   * Settles an attribute of one person: the value of `tenant`'s account wins
   * from now on (null: the rules decide again). This is how an admin resolves
   * an attribute conflict.
   */
  async pin(
    principal: Principal,
    args: { community?: string | null; person: string; attribute: string; tenant: string | null },
    context: RequestContext,
  ): Promise<Person> {
    const scope = await this.community(principal, 'people.manage', args.community);
    const attribute = parsePersonAttribute(args.attribute);
    const person = await this.person(principal, args.person, scope.id);
    const tenantId = args.tenant === null ? null : (await this.tenantOf(principal, scope, args.tenant)).id;
    await this.store.pin(scope.id, person.id, attribute, tenantId, context);
    return this.person(principal, person.id, scope.id);
  }

  /** Queues every account and group of the community for projection again; answers how many. */
  async rebuild(principal: Principal, community?: string | null): Promise<number> {
    const scope = await this.community(principal, 'people.manage', community);
    return this.store.enqueueCommunity(scope.id, this.clock.now());
  }

  /**
   * The global directory's entries (person, link, values) of the accounts
   * `refs` of a community's tenants, in one read, for batch loads (GraphQL
   * `Account.person`): `people.read` on the community, checked without a lookup.
   */
  async linkedAccounts(
    principal: Principal,
    communityId: string,
    refs: readonly { tenantId: string; userId: string }[],
  ): Promise<DirectoryAccount[]> {
    authorize(principal, 'people.read', { communityId });
    return refs.length === 0 ? [] : this.store.accounts(communityId, refs);
  }
}
