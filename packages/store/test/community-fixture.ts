import {
  AdminService,
  type DirectoryCaller,
  type Principal,
  principalOfRole,
  type RequestContext,
  ResourceService,
  systemClock,
} from '@meridian/core';
import { Argon2PasswordHasher, PostgresAdminStore, PostgresDirectoryStore } from '@meridian/store';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

/** The platform, as the admin service authorizes it: what creates the community and its offices. */
const platform: Principal = { kind: 'platform', tokenId: 'test', scopes: ['admin'] };

/** A SCIM client of the tenant: the caller the core's ResourceService authorizes (scim.read, scim.write). */
export const scimCaller = (tenantId: string): DirectoryCaller => ({ principal: principalOfRole('provisioner', { tenantId }), api: 'scim' });

/** The request context of a test's writes: a CLI actor, the request id the test names. */
export function testContext(requestId: string): RequestContext {
  return { actor: { type: 'cli', id: 'test' }, requestId, sourceAddress: '127.0.0.1' };
}

/** A test database of its own with the community `coi`, its offices, and the directory's store and SCIM service. */
export interface CommunityFixture {
  db: TestDatabase;
  directory: PostgresDirectoryStore;
  resources: ResourceService;
  communityId: string;
  /** The offices' tenant ids, by slug. */
  tenants: Record<string, string>;
}

export async function communityFixture(offices: string[], context: RequestContext): Promise<CommunityFixture> {
  const db = await createTestDatabase();
  const admin = new AdminService(new PostgresAdminStore(db.orm, systemClock), systemClock);
  const directory = new PostgresDirectoryStore(db.orm, systemClock);
  const resources = new ResourceService(directory, new Argon2PasswordHasher());
  const communityId = (await admin.createCommunity(platform, { slug: 'coi', name: 'CoI' }, context)).id;
  const tenants: Record<string, string> = {};
  for (const slug of offices) {
    tenants[slug] = (await admin.createTenant(platform, { slug, name: slug.toUpperCase(), community: 'coi' }, context)).id;
  }
  return { db, directory, resources, communityId, tenants };
}
