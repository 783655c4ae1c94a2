import { MeridianError } from '../errors/meridian-error.js';
import type { Page, PageRequest } from '../ports/admin.js';
import { checkPage } from '../tenancy/admin-service.js';
import type { Principal } from '../tenancy/model.js';
import { decideAuthorization } from '../tenancy/permissions.js';
import { resolveTenantReference, type TenantLookup } from '../tenancy/tenant-reference.js';
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

/**
 * Audit entries a process holds before writing them (the hub's counted
 * authentication failures, written once a minute): written before every read,
 * so that an auditor sees what this process has seen.
 */
export interface PendingAuditEntries {
  flush(): Promise<void>;
}

/** Reading and verifying the audit log, with authorization. */
export class AuditService {
  private readonly pending = new Set<PendingAuditEntries>();
  /** Verifications in progress by chain: a request for a chain already being verified joins that run. */
  private readonly verifying = new Map<string, Promise<ChainVerification>>();

  constructor(
    private readonly log: AuditLog,
    private readonly tenants: TenantLookup,
  ) {}

  /** Registers entries to write before each read; returns the function that unregisters them. */
  addPendingEntries(source: PendingAuditEntries): () => void {
    this.pending.add(source);
    return () => this.pending.delete(source);
  }

  /** Writes the pending entries; a failure leaves them pending and does not fail the read. */
  private async flushPending(): Promise<void> {
    await Promise.all([...this.pending].map((source) => source.flush().catch(() => undefined)));
  }

  /**
   * A page of a chain's entries, oldest first. `tenant` is a slug (of the
   * caller's community), `<community>/<slug>` or an id; when
   * omitted, a tenant token reads its own tenant and the platform admin the
   * platform chain.
   */
  async events(principal: Principal, tenant: string | null | undefined, query: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>> {
    checkPage(page);
    checkQuery(query);
    const chain = await this.readableChain(principal, tenant);
    await this.flushPending();
    return this.log.list(chain, query, page);
  }

  /**
   * Verifies one chain (same choice of chain as {@link events}). It reads the
   * whole chain, so concurrent requests for one chain share one run: asking
   * for it many times at once costs what asking once does.
   */
  async verification(principal: Principal, tenant: string | null | undefined): Promise<ChainVerification> {
    const chain = await this.readableChain(principal, tenant);
    const running = this.verifying.get(chain);
    if (running) return running;
    const run = (async () => {
      await this.flushPending();
      const [result] = await this.log.verify({ chain });
      if (!result) throw new TypeError(`The audit log returned no verification for chain '${chain}'.`);
      return result;
    })();
    this.verifying.set(chain, run);
    try {
      return await run;
    } finally {
      if (this.verifying.get(chain) === run) this.verifying.delete(chain);
    }
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
    const found = await resolveTenantReference(this.tenants, principal, tenant);
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
