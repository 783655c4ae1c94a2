import {
  type AdminService,
  type Clock,
  type DirectoryStore,
  OffboardingService,
  type RequestContext,
  type SsoGrantStore,
  type SsoRevocation,
} from '@meridian/core';
import { type ReplicationEngine, ReplicationOwnershipTransfers } from '@meridian/replication';
import type { PostgresOffboardingStore } from '@meridian/store';
import { startPoller } from './scheduled-work.js';

/** How often a worker process looks for due offboarding steps (scheduled leaves, deletions after the grace period). */
const OFFBOARDING_POLL_MS = 30_000;

/** What {@link buildOffboarding} wires together. */
export interface OffboardingDeps {
  directory: DirectoryStore;
  store: PostgresOffboardingStore;
  admin: AdminService;
  replication: ReplicationEngine;
  grants: SsoGrantStore;
  clock: Clock;
}

/**
 * The grants a person gave the community's relying parties end with the office account's offboarding: each grant is
 * revoked (with the codes and tokens issued under it) and audited as `sso.grant_revoked` by the grant store.
 */
function ssoRevocationOf(grants: SsoGrantStore): SsoRevocation {
  return {
    async revokeAccount(tenantId: string, userId: string, context: RequestContext): Promise<number> {
      const person = await grants.personOfAccount(tenantId, userId);
      if (!person) return 0;
      let revoked = 0;
      for (const grant of await grants.grantsOfPerson(person.communityId, person.personId)) {
        if (await grants.revokeGrant(person.communityId, grant.id, context)) revoked += 1;
      }
      return revoked;
    },
  };
}

/** The offboarding service of one process: the store, the replication engine's transfers, the OpenID Provider's grants. */
export function buildOffboarding(deps: OffboardingDeps): OffboardingService {
  return new OffboardingService(
    deps.directory,
    deps.store,
    deps.admin,
    deps.clock,
    new ReplicationOwnershipTransfers(deps.replication.ctx),
    ssoRevocationOf(deps.grants),
  );
}

/**
 * Runs due offboarding steps in a worker process (`serve --role worker|all`) every {@link OFFBOARDING_POLL_MS}:
 * the schedule lives in PostgreSQL and each step is claimed with a lease, so it survives restarts and runs once
 * across processes. Returns the function that stops it.
 */
export function startOffboardingRunner(
  offboarding: OffboardingService,
  say: (message: string) => void,
  everyMs = OFFBOARDING_POLL_MS,
): () => void {
  return startPoller(
    'Offboarding',
    everyMs,
    async () => {
      const ran = await offboarding.runDue();
      return ran > 0 ? `${ran} step(s) run.` : null;
    },
    say,
  );
}
