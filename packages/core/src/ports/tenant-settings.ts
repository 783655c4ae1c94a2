import type { SchemaExtension } from '../scim/schema-extension.js';
import type { RequestContext } from '../tenancy/model.js';

/** What an end user may change on their own User through `/Me` (draft-ietf-scim-use-cases §3.4). */
export interface SelfServicePolicy {
  /** Attribute paths (`phoneNumbers`, `name.givenName`, `password`, `urn:...:User:attr`); empty means read-only. */
  editableAttributes: string[];
}

/** Per-tenant settings: custom schema extensions and the self-service policy. Every write is audited. */
export interface TenantSettingsStore {
  listExtensions(tenantId: string): Promise<SchemaExtension[]>;
  /** Fails with UNIQUENESS when the tenant already has an extension with this URN. */
  createExtension(tenantId: string, extension: SchemaExtension, context: RequestContext): Promise<SchemaExtension>;
  /** Fails with CONFLICT while resources of the tenant still carry the extension. */
  deleteExtension(tenantId: string, urn: string, context: RequestContext): Promise<boolean>;
  getSelfServicePolicy(tenantId: string): Promise<SelfServicePolicy>;
  setSelfServicePolicy(tenantId: string, policy: SelfServicePolicy, context: RequestContext): Promise<SelfServicePolicy>;
}
