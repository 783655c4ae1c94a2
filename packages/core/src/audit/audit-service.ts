import { MeridianError } from '../errors/meridian-error.js';
import type { AdminStore, Page, PageRequest } from '../ports/admin.js';
import { checkPage } from '../tenancy/admin-service.js';
import type { Principal } from '../tenancy/model.js';
import { decideAuthorization } from '../tenancy/permissions.js';
import { type AuditEntry, type AuditQuery, PLATFORM_CHAIN } from './audit-entry.js';
import type { AuditLog } from './audit-log.js';
import type { ChainVerification } from './audit-verification.js';

/**
 * True when the principal may read a chain: the `audit.read` action of the
 * permission matrix (platform tokens read every chain, a tenant's auditor or
 * administrator reads its own tenant's chain).
 */
export function canReadAuditLog(principal: Principal, tenantId: string | null): boolean {
  if (!decideAuthorization(principal, 'audit.read', tenantId === null ? {} : { tenantId }).allowed) return false;
  // The platform chain is the platform's: only platform tokens read it.
  if (principal.kind === 'platform') return true;
  return principal.kind === 'tenant' && tenantId !== null && principal.tenantId === tenantId;
}

const MAX_FILTER_LENGTH = 200;

function checkQuery(query: AuditQuery): AuditQuery {
  for (const field of ['actor', 'resourceType', 'resourceId', 'action'] as const) {
    const value = query[field];
    if (value !== undefined && value.length > MAX_FILTER_LENGTH) {
      throw new MeridianError('INVALID_INPUT', `'${field}' must be at most ${MAX_FILTER_LENGTH} characters.`, { field });
    }
  }
  for (const field of ['since', 'until'] as const) {
    const value = query[field];
    if (value !== undefined && Number.isNaN(value.getTime())) {
      throw new MeridianError('INVALID_INPUT', `'${field}' is not a valid date-time.`, { field });
    }
  }
  if (query.since !== undefined && query.until !== undefined && query.since > query.until) {
    throw new MeridianError('INVALID_INPUT', "'since' must not be after 'until'.", { field: 'since' });
  }
  return query;
}

/** Reading and verifying the audit log, with authorization. */
export class AuditService {
  constructor(
    private readonly log: AuditLog,
    private readonly tenants: Pick<AdminStore, 'findTenant'>,
  ) {}

  /**
   * A page of a chain's entries, oldest first. `tenant` is a slug or id; when
   * omitted, a tenant token reads its own tenant and the platform admin the
   * platform chain.
   */
  async events(principal: Principal, tenant: string | null | undefined, query: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>> {
    checkPage(page);
    checkQuery(query);
    const chain = await this.readableChain(principal, tenant);
    return this.log.list(chain, query, page);
  }

  /** Verifies one chain (same choice of chain as {@link events}). */
  async verification(principal: Principal, tenant: string | null | undefined): Promise<ChainVerification> {
    const chain = await this.readableChain(principal, tenant);
    const [result] = await this.log.verify({ chain });
    if (!result) throw new TypeError(`The audit log returned no verification for chain '${chain}'.`);
    return result;
  }

  /**
   * The chain a principal asks for, once it may read it. Another tenant's
   * chain is NOT_FOUND for a tenant token, so that existence does not leak.
   */
  async readableChain(principal: Principal, tenant: string | null | undefined): Promise<string> {
    if (tenant === undefined || tenant === null || tenant.trim() === '') {
      const chain = principal.kind === 'tenant' ? principal.tenantId : PLATFORM_CHAIN;
      if (!canReadAuditLog(principal, principal.kind === 'tenant' ? principal.tenantId : null)) throw forbidden();
      return chain;
    }
    const found = await this.tenants.findTenant(tenant.trim());
    if (!found || (principal.kind === 'tenant' && principal.tenantId !== found.id)) {
      throw new MeridianError('NOT_FOUND', `Tenant '${tenant}' not found.`, { field: 'tenant' });
    }
    if (!canReadAuditLog(principal, found.id)) throw forbidden();
    return found.id;
  }
}

function forbidden(): MeridianError {
  return new MeridianError(
    'FORBIDDEN',
    'Reading the audit log needs an audit:read or graphql:read token of the tenant, or a platform token.',
  );
}
