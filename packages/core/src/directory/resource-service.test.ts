import { beforeEach, describe, expect, it } from '@jest/globals';
import { BULK_SCHEMA, parseBulkRequest } from '../bulk/execute.js';
import { MeridianError } from '../errors/meridian-error.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { AdminStore } from '../ports/admin.js';
import type { DirectoryStore, DirectoryTransaction, PasswordHasher, ResourceWrite } from '../ports/directory.js';
import type { ScimResource } from '../scim/resource.js';
import type { ResourceKind } from '../scim/resource-types.js';
import { resourceShapes } from '../scim/resource-types.js';
import { SCHEMA } from '../scim/schemas.js';
import { AdminService } from '../tenancy/admin-service.js';
import type { Community, Principal, Tenant } from '../tenancy/model.js';
import { type Action, OPERATIONS, principalOfRole, roleMayTake } from '../tenancy/permissions.js';
import { ROLES, type Role } from '../tenancy/roles.js';
import { type DirectoryApi, type DirectoryCaller, ResourceService, type TenantSchemaSource } from './resource-service.js';

// ResourceService authorizes its caller before it reads anything of the input or the store. The
// ports are in-memory fakes that record what reached them: a refused call must leave them untouched.

const context = { actor: { type: 'system' as const, id: 'test' }, requestId: 'r' };
const at = new Date(0);

/** Every call that reached the store or the hasher, in order. */
let touched: string[];

/** An in-memory directory: resources by tenant and id. */
class MemoryDirectory implements DirectoryStore {
  readonly rows = new Map<string, Map<string, ScimResource>>();
  readonly events: DomainEvent[] = [];
  private serial = 0;

  put(tenantId: string, kind: ResourceKind, id: string, attributes: Record<string, unknown>): void {
    const rows = this.rows.get(tenantId) ?? new Map<string, ScimResource>();
    this.rows.set(tenantId, rows);
    rows.set(id, {
      id,
      tenantId,
      kind,
      externalId: undefined,
      attributes: attributes as ScimResource['attributes'],
      extensionSchemas: [],
      members: [],
      groups: [],
      version: 1,
      created: at,
      lastModified: at,
    });
  }

  private find(tenantId: string, kind: ResourceKind, id: string): ScimResource | undefined {
    const found = this.rows.get(tenantId)?.get(id);
    return found?.kind === kind ? found : undefined;
  }

  async transaction<T>(tenantId: string, work: (tx: DirectoryTransaction) => Promise<T>): Promise<T> {
    touched.push(`transaction ${tenantId}`);
    const rows = this.rows.get(tenantId) ?? new Map<string, ScimResource>();
    this.rows.set(tenantId, rows);
    const write = (kind: ResourceKind, id: string, values: ResourceWrite, version: number): ScimResource => {
      const resource: ScimResource = {
        id,
        tenantId,
        kind,
        externalId: values.externalId,
        attributes: values.attributes,
        extensionSchemas: values.extensionSchemas,
        members: values.members ?? [],
        groups: [],
        version,
        created: at,
        lastModified: at,
      };
      rows.set(id, resource);
      return resource;
    };
    const tx: DirectoryTransaction = {
      find: async (kind, id) => this.find(tenantId, kind, id),
      resolveMembers: async (ids) =>
        ids.flatMap((id) => {
          const found = rows.get(id);
          return found ? [{ value: id, type: found.kind }] : [];
        }),
      insert: async (kind, values) => write(kind, `id-${++this.serial}`, values, 1),
      update: async (kind, id, version, values) => write(kind, id, values, version + 1),
      changeMembers: async () => ({ added: [], removed: [] }),
      remove: async (_kind, id) => {
        rows.delete(id);
      },
      valueTaken: async () => false,
      record: async (event) => {
        this.events.push(event);
      },
    };
    return work(tx);
  }

  async get(tenantId: string, kind: ResourceKind, id: string): Promise<ScimResource | undefined> {
    touched.push(`get ${tenantId}`);
    return this.find(tenantId, kind, id);
  }

  async getMany(tenantId: string, kind: ResourceKind, ids: readonly string[]): Promise<ScimResource[]> {
    touched.push(`getMany ${tenantId}`);
    return ids.flatMap((id) => this.find(tenantId, kind, id) ?? []);
  }

  async list(tenantId: string, kind: ResourceKind) {
    touched.push(`list ${tenantId}`);
    const resources = [...(this.rows.get(tenantId)?.values() ?? [])].filter((r) => r.kind === kind);
    return { totalResults: resources.length, resources };
  }

  async page(tenantId: string, kind: ResourceKind) {
    touched.push(`page ${tenantId}`);
    const items = [...(this.rows.get(tenantId)?.values() ?? [])].filter((r) => r.kind === kind);
    return { items, cursors: items.map((r) => r.id), totalCount: items.length, endCursor: null, hasNextPage: false };
  }

  async memberPage(tenantId: string, groupId: string) {
    touched.push(`memberPage ${tenantId}`);
    const items = this.find(tenantId, 'Group', groupId)?.members;
    return items && { items, cursors: items.map((m) => m.value), totalCount: items.length, endCursor: null, hasNextPage: false };
  }
}

const hasher: PasswordHasher = {
  hash: async (password) => {
    touched.push('hash');
    return `hashed:${password.length}`;
  },
};

/** Built-in schemas; end users may change their nickName. */
const schemas: TenantSchemaSource = {
  shapeOf: async (_tenantId, kind) => resourceShapes[kind],
  selfServicePolicy: async () => ({ editableAttributes: ['nickName'] }),
};

// The tenants principalOfRole acts in ('own-tenant' of 'own-community'), and two real ones.
const own = { id: 'own-tenant', communityId: 'own-community' };
const coi: Community = { id: 'c1000000-0000-7000-8000-000000000001', slug: 'coi', name: 'CoI', createdAt: at };
const far: Community = { id: 'c2000000-0000-7000-8000-000000000002', slug: 'far', name: 'Far', createdAt: at };
const emea: Tenant = { id: 'a1000000-0000-7000-8000-000000000001', slug: 'emea', name: 'EMEA', communityId: coi.id, createdAt: at };
const apac: Tenant = { id: 'a2000000-0000-7000-8000-000000000002', slug: 'apac', name: 'APAC', communityId: far.id, createdAt: at };

/** The admin store's tenant look-ups, in memory; each one is recorded. */
function tenantLookups(): AdminStore {
  const tenants = [emea, apac];
  const communities = [coi, far];
  const looked = <T>(what: string, found: T): T => {
    touched.push(what);
    return found;
  };
  const lookups: Pick<AdminStore, 'findTenant' | 'findCommunity' | 'findTenantInCommunity' | 'findTenantsBySlug'> = {
    findTenant: async (ref) =>
      looked(
        `findTenant ${ref}`,
        tenants.find((t) => t.id === ref || t.slug === ref),
      ),
    findCommunity: async (ref) =>
      looked(
        `findCommunity ${ref}`,
        communities.find((c) => c.id === ref || c.slug === ref),
      ),
    findTenantInCommunity: async (communityId, ref) =>
      looked(
        `findTenantInCommunity ${ref}`,
        tenants.find((t) => t.communityId === communityId && (t.id === ref || t.slug === ref)),
      ),
    findTenantsBySlug: async (slug, limit) => looked(`findTenantsBySlug ${slug}`, tenants.filter((t) => t.slug === slug).slice(0, limit)),
  };
  return lookups as AdminStore;
}

let directory: MemoryDirectory;
let service: ResourceService;

beforeEach(() => {
  touched = [];
  directory = new MemoryDirectory();
  for (const tenant of [own.id, emea.id, apac.id]) {
    directory.put(tenant, 'User', 'own-user', { userName: 'me@example.org', nickName: 'Me' });
    directory.put(tenant, 'User', 'u1', { userName: 'u1@example.org' });
    directory.put(tenant, 'User', 'boss', { userName: 'boss@example.org' });
    directory.put(tenant, 'Group', 'g1', { displayName: 'G1' });
  }
  service = new ResourceService(directory, hasher, schemas, undefined, new AdminService(tenantLookups(), { now: () => at }));
});

const caller = (principal: Principal, api: DirectoryApi): DirectoryCaller => ({ principal, api });
const patchOp = (path: string, value: unknown) => ({ schemas: [SCHEMA.patchOp], Operations: [{ op: 'replace', path, value }] });

type Call = (service: ResourceService, caller: DirectoryCaller) => Promise<unknown>;

/** How each SCIM endpoint and GraphQL operation that ResourceService serves calls it, in the caller's own tenant. */
const CALLS: Record<DirectoryApi, Record<string, Call>> = {
  scim: {
    'GET /Users': (s, c) => s.list(c, own.id, 'User', { startIndex: 1, count: 10 }),
    'GET /Users/{id}': (s, c) => s.get(c, own.id, 'User', 'u1'),
    'POST /Users': (s, c) => s.create(c, own.id, 'User', { userName: 'new@example.org', password: 'Secret-Pass-1' }, context),
    'PUT /Users/{id}': (s, c) => s.replace(c, own.id, 'User', 'u1', { userName: 'u1@example.org', title: 'T' }, context),
    'PATCH /Users/{id}': (s, c) => s.patch(c, own.id, 'User', 'u1', patchOp('title', 'T'), context),
    'DELETE /Users/{id}': (s, c) => s.delete(c, own.id, 'User', 'u1', context),
    'GET /Groups': (s, c) => s.list(c, own.id, 'Group', { startIndex: 1, count: 10 }),
    'DELETE /Groups/{id}': (s, c) => s.delete(c, own.id, 'Group', 'g1', context),
    'POST /Bulk': (s, c) =>
      s.bulk(
        c,
        own.id,
        parseBulkRequest(
          {
            schemas: [BULK_SCHEMA.request],
            Operations: [{ method: 'POST', path: '/Users', bulkId: 'b', data: { userName: 'bulk@example.org' } }],
          },
          { maxOperations: 10, parseVersion: () => undefined },
        ),
        context,
      ),
    'GET /Me': (s, c) => s.getOwn(c),
    'PUT /Me': (s, c) => s.replaceOwn(c, { userName: 'me@example.org', nickName: 'New' }, context),
    'PATCH /Me': (s, c) => s.patchOwn(c, patchOp('nickName', 'New'), context),
  },
  graphql: {
    'Query.accounts': (s, c) => s.list(c, own, 'User', { startIndex: 1, count: 10, cursor: '' }),
    'Query.account': (s, c) => s.getMany(c, own, 'User', ['u1']),
    'Query.groups': (s, c) => s.page(c, own, 'Group', { first: 10 }),
    'Tenant.users': (s, c) => s.page(c, own, 'User', { first: 10 }),
    'Mutation.createAccount': (s, c) => s.create(c, own, 'User', { userName: 'hr@example.org' }, context),
    'Mutation.updateAccount': (s, c) => s.patch(c, own, 'User', 'u1', patchOp('title', 'T'), context),
    'Mutation.terminateAccount': (s, c) => s.delete(c, own, 'User', 'u1', context),
    'Mutation.createGroup': (s, c) => s.create(c, own, 'Group', { displayName: 'HR' }, context),
    'Mutation.addGroupMembers': (s, c) =>
      s.patch(
        c,
        own,
        'Group',
        'g1',
        { schemas: [SCHEMA.patchOp], Operations: [{ op: 'add', path: 'members', value: [{ value: 'u1' }] }] },
        context,
      ),
    'Query.me': (s, c) => s.getOwn(c),
    'Mutation.updateMe': (s, c) => s.patchOwn(c, patchOp('nickName', 'New'), context),
  },
};

const API_OF: Record<'SCIM' | 'GraphQL', DirectoryApi> = { SCIM: 'scim', GraphQL: 'graphql' };

async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'allowed';
  } catch (error) {
    if (error instanceof MeridianError) return error.code;
    throw error;
  }
}

describe('ResourceService authorizes every call by the permission matrix', () => {
  const cells = OPERATIONS.flatMap((operation) => {
    const api = API_OF[operation.api];
    return operation.name in CALLS[api] ? ROLES.map((role) => [operation.name, role, api, operation.action] as const) : [];
  });

  it('covers reads, writes, bulk and /Me through both APIs', () => {
    expect(new Set(cells.map(([, , , action]) => action))).toEqual(
      new Set<Action>(['scim.read', 'scim.write', 'scim.me', 'directory.read', 'hr.write']),
    );
    expect(cells.length).toBe((Object.keys(CALLS.scim).length + Object.keys(CALLS.graphql).length) * ROLES.length);
  });

  it.each(cells)('%s as %s', async (name, role: Role, api, action) => {
    const call = CALLS[api][name] as Call;
    const result = await outcome(call(service, caller(principalOfRole(role), api)));
    if (roleMayTake(role, action)) {
      expect(result).toBe('allowed');
      expect(touched.length).toBeGreaterThan(0);
      expect(touched.filter((t) => t !== 'hash').every((t) => t.endsWith(own.id))).toBe(true);
    } else {
      // Refused before the input is read: nothing hashed, nothing looked up, read or written.
      expect(result).toBe('FORBIDDEN');
      expect(touched).toEqual([]);
      expect(directory.events).toEqual([]);
    }
  });
});

describe('ResourceService reads the input only for a caller it allows', () => {
  const auditor = caller(principalOfRole('auditor', { tenantId: emea.id }), 'scim');

  it('refuses a caller with a bad body as FORBIDDEN, never INVALID_INPUT or INVALID_SYNTAX', async () => {
    await expect(service.create(auditor, emea.id, 'User', { userName: 7 }, context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service.patch(auditor, emea.id, 'User', 'u1', { Operations: 'x' }, context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service.list(auditor, emea.id, 'User', { startIndex: 500_000, count: 1 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service.page(caller(principalOfRole('auditor'), 'graphql'), own, 'User', { first: -1 })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(touched).toEqual([]);
  });

  it('checks the input once the caller is allowed', async () => {
    const office = caller(principalOfRole('office_admin', { tenantId: emea.id }), 'scim');
    await expect(service.create(office, emea.id, 'User', { userName: 7 }, context)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(service.list(office, emea.id, 'User', { startIndex: 500_000, count: 1 })).rejects.toMatchObject({ code: 'TOO_MANY' });
  });

  it('hashes no password for a refused write', async () => {
    const body = { userName: 'pw@example.org', password: 'Secret-Pass-1' };
    await expect(service.create(auditor, emea.id, 'User', body, context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service.replaceOwn(auditor, body, context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(touched).toEqual([]);
  });
});

describe('ResourceService names tenants as the admin service does', () => {
  const graphql = (principal: Principal) => caller(principal, 'graphql');
  const communityAdmin = graphql(principalOfRole('community_admin', { communityId: coi.id }));

  it("finds a slug in the caller's community and acts in that tenant", async () => {
    const created = await service.create(communityAdmin, 'emea', 'User', { userName: 'joiner@example.org' }, context);
    expect(created.tenantId).toBe(emea.id);
    expect(directory.events.map((e) => [e.type, e.tenantId])).toEqual([['user.created', emea.id]]);
  });

  it("answers NOT_FOUND, naming the tenant, for another community's tenant, by id, slug or loaded, and reads nothing of it", async () => {
    for (const tenant of [apac.id, 'far/apac', 'apac', apac]) {
      await expect(service.get(communityAdmin, tenant, 'User', 'u1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    await expect(service.getMany(communityAdmin, apac.id, 'User', ['u1'])).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'tenant' });
    expect(touched.filter((t) => !t.startsWith('find'))).toEqual([]);
  });

  it('refuses a caller without the scope before it looks anything up, even for a tenant that does not exist', async () => {
    const auditor = graphql(principalOfRole('auditor', { tenantId: emea.id }));
    await expect(service.list(auditor, 'nowhere', 'User', { startIndex: 1, count: 1 })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(service.tenant(auditor, 'nowhere', 'read')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(touched).toEqual([]);
  });

  it("keeps a SCIM token in its own tenant: another tenant's id is NOT_FOUND", async () => {
    const provisioner = caller(principalOfRole('provisioner', { tenantId: emea.id }), 'scim');
    await expect(service.delete(provisioner, apac.id, 'User', 'u1', context)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.list(provisioner, apac.id, 'User', { startIndex: 1, count: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(touched.filter((t) => !t.startsWith('find'))).toEqual([]);
    expect(directory.rows.get(apac.id)?.has('u1')).toBe(true);
  });

  it("costs no lookup for a tenant token's own tenant or a loaded tenant", async () => {
    await service.get(caller(principalOfRole('provisioner', { tenantId: emea.id }), 'scim'), emea.id, 'User', 'u1');
    await service.get(communityAdmin, emea, 'User', 'u1');
    expect(touched).toEqual([`get ${emea.id}`, `get ${emea.id}`]);
  });

  it('gives the tenant it authorized: a loaded one as it is, a named one from the admin service', async () => {
    expect(await service.tenant(communityAdmin, emea, 'write')).toBe(emea);
    expect(await service.tenant(communityAdmin, 'coi/emea', 'read')).toEqual(emea);
    // An HR reader reads the community's accounts and writes none.
    const reader = graphql(principalOfRole('hr_reader', { communityId: coi.id }));
    expect(await service.tenant(reader, 'emea', 'read')).toEqual(emea);
    await expect(service.tenant(reader, 'emea', 'write')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('finds no tenant by name without the admin service, but still refuses first', async () => {
    const bare = new ResourceService(directory, hasher, schemas);
    const platform = graphql(principalOfRole('platform_admin'));
    await expect(bare.get(platform, 'emea', 'User', 'u1')).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'tenant' });
    await expect(bare.tenant(platform, 'emea', 'read')).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'tenant' });
    await expect(bare.get(graphql(principalOfRole('auditor')), 'emea', 'User', 'u1')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await bare.get(platform, emea, 'User', 'u1')).id).toBe('u1');
  });
});

describe("ResourceService's end users", () => {
  it("gives an end user's own tenant and User, and refuses tokens bound to no User with the API's wording", () => {
    const endUser = principalOfRole('end_user', { tenantId: emea.id, userId: 'own-user' });
    expect(service.ownAccount(caller(endUser, 'scim'))).toEqual({ tenantId: emea.id, userId: 'own-user' });
    const unbound: Principal = { kind: 'tenant', tokenId: 't', tenantId: emea.id, scopes: ['scim:me'] };
    expect(() => service.ownAccount(caller(unbound, 'scim'))).toThrow("/Me needs an end user's token.");
    expect(() => service.ownAccount(caller(unbound, 'graphql'))).toThrow("'me' needs an end user's token.");
    expect(() => service.ownAccount(caller(principalOfRole('hr_provider'), 'graphql'))).toThrow(MeridianError);
  });

  it('changes only what the self-service policy lets them change', async () => {
    const endUser = caller(principalOfRole('end_user', { tenantId: emea.id, userId: 'own-user' }), 'scim');
    expect((await service.patchOwn(endUser, patchOp('nickName', 'Changed'), context)).attributes.nickName).toBe('Changed');
    await expect(service.patchOwn(endUser, patchOp('title', 'Boss'), context)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('ResourceService.referenced', () => {
  const graphql = (principal: Principal) => caller(principal, 'graphql');

  it('reads what an account names for whoever may read, write or self-serve in its tenant', async () => {
    const readers = [
      principalOfRole('hr_reader', { communityId: coi.id }),
      { kind: 'community', tokenId: 'hr', communityId: coi.id, scopes: ['hr:write'] } as Principal,
      principalOfRole('end_user', { tenantId: emea.id, userId: 'own-user' }),
    ];
    for (const principal of readers) {
      expect((await service.referenced(graphql(principal), emea, 'User', ['boss'])).map((r) => r.id)).toEqual(['boss']);
    }
  });

  it('refuses anyone else as a read would, out of reach included', async () => {
    await expect(
      service.referenced(graphql(principalOfRole('auditor', { tenantId: emea.id })), emea, 'User', ['boss']),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const elsewhere = principalOfRole('hr_reader', { communityId: far.id });
    await expect(service.referenced(graphql(elsewhere), emea, 'User', ['boss'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(touched).toEqual([]);
  });
});

describe('ResourceService.bulk', () => {
  const request = parseBulkRequest(
    {
      schemas: [BULK_SCHEMA.request],
      Operations: [
        { method: 'POST', path: '/Users', bulkId: 'a', data: { userName: 'a@example.org' } },
        { method: 'DELETE', path: '/Users/u1' },
      ],
    },
    { maxOperations: 10, parseVersion: () => undefined },
  );

  it("runs every operation in the caller's tenant once it may write there", async () => {
    const outcomes = await service.bulk(caller(principalOfRole('provisioner', { tenantId: emea.id }), 'scim'), emea.id, request, context);
    expect(outcomes.map((o) => o.ok && o.status)).toEqual([201, 204]);
    expect(directory.events.map((e) => [e.type, e.tenantId])).toEqual([
      ['user.created', emea.id],
      ['user.deleted', emea.id],
    ]);
  });

  it('runs none for a caller that may not write, nor in a tenant out of its reach', async () => {
    await expect(
      service.bulk(caller(principalOfRole('auditor', { tenantId: emea.id }), 'scim'), emea.id, request, context),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(
      service.bulk(caller(principalOfRole('provisioner', { tenantId: apac.id }), 'scim'), emea.id, request, context),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(directory.events).toEqual([]);
  });
});
