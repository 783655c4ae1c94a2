import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import type { SelfServicePolicy, TenantSettingsStore } from '../ports/tenant-settings.js';
import type { SchemaExtension } from '../scim/schema-extension.js';
import { AdminService } from './admin-service.js';
import type { Principal } from './model.js';
import { principalOfRole, roleMayTake } from './permissions.js';
import { ROLES } from './roles.js';
import { apac, at, coi, context, emea, tenantStore } from './tenancy-fixtures.js';
import { TenantSettingsService } from './tenant-settings-service.js';

/** The settings port in memory, recording which tenant each call touched. */
function settingsStore() {
  const touched: string[] = [];
  const extension: SchemaExtension = {
    id: 'urn:example:ext',
    name: 'Ext',
    resourceType: 'User',
    attributes: [],
  } as unknown as SchemaExtension;
  const policy: SelfServicePolicy = { editableAttributes: [] };
  const touch = <T>(tenantId: string, result: T): T => {
    touched.push(tenantId);
    return result;
  };
  const store: TenantSettingsStore = {
    listExtensions: async (tenantId) => touch(tenantId, [extension]),
    createExtension: async (tenantId, ext) => touch(tenantId, ext),
    deleteExtension: async (tenantId) => touch(tenantId, true),
    getSelfServicePolicy: async (tenantId) => touch(tenantId, policy),
    setSelfServicePolicy: async (tenantId, next) => touch(tenantId, next),
  };
  return { store, touched };
}

const definition = {
  id: 'urn:example:params:scim:schemas:extension:acme:2.0:User',
  name: 'Acme',
  resourceType: 'User',
  attributes: [{ name: 'badgeNumber', type: 'string' }],
};
const operations = {
  'settings.read': [
    (s: TenantSettingsService, p: Principal, t: string) => s.extensionsFor(p, t),
    (s: TenantSettingsService, p: Principal, t: string) => s.selfServicePolicyFor(p, t),
  ],
  'settings.write': [
    (s: TenantSettingsService, p: Principal, t: string) => s.declareExtension(p, t, definition, context),
    (s: TenantSettingsService, p: Principal, t: string) => s.removeExtension(p, t, 'urn:example:ext', context),
    (s: TenantSettingsService, p: Principal, t: string) => s.changeSelfServicePolicy(p, t, [], context),
  ],
} as const;

describe('TenantSettingsService authorizes every call that names a principal', () => {
  for (const role of ROLES) {
    for (const [action, calls] of Object.entries(operations)) {
      it(`${role}: ${action} on its own tenant is ${roleMayTake(role, action as 'settings.read') ? 'allowed' : 'refused, touching nothing'}`, async () => {
        const { store, touched } = settingsStore();
        const service = new TenantSettingsService(store, { now: () => at }, new AdminService(tenantStore(), { now: () => at }));
        const principal = principalOfRole(role, { tenantId: emea.id, communityId: coi.id });
        for (const call of calls) {
          const outcome = call(service, principal, emea.slug).then(
            () => 'ok',
            (error: unknown) => (error instanceof MeridianError ? error.code : 'other'),
          );
          const code = await outcome;
          if (roleMayTake(role, action as 'settings.read')) expect(code).toBe('ok');
          else expect(['FORBIDDEN', 'NOT_FOUND']).toContain(code);
        }
        if (!roleMayTake(role, action as 'settings.read')) expect(touched).toEqual([]);
      });
    }
  }

  it('a tenant of another community is NOT_FOUND to an office admin, and nothing is touched', async () => {
    const { store, touched } = settingsStore();
    const service = new TenantSettingsService(store, { now: () => at }, new AdminService(tenantStore(), { now: () => at }));
    const principal = principalOfRole('office_admin', { tenantId: emea.id, communityId: coi.id });
    await expect(service.extensionsFor(principal, apac.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.changeSelfServicePolicy(principal, apac.id, [], context)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(touched).toEqual([]);
  });
});
