import type { AdminService } from '../tenancy/admin-service.js';
import type { Principal, RequestContext } from '../tenancy/model.js';

/**
 * Just-in-time provisioning (issue 16, use case 2.3.4 of the SCIM use-cases
 * draft, ADR 0030): a relying party linked to replication targets "on first
 * sign-in". Such a target receives a person only once admitted; the first
 * sign-in to the relying party admits the person and pushes the account
 * before the authorization code is issued.
 */

/** A replication target a relying party provisions on first sign-in. */
export interface JitTargetLink {
  targetId: string;
  targetName: string;
  tenantId: string;
  tenantSlug: string;
}

/** Where a person stands at one target: `pending` (admitted, push under way), `delivered` or `failed`. */
export type JitAdmissionStatus = 'pending' | 'delivered' | 'failed';

/** An office account of the person, admitted (or to admit) to one linked target. */
export interface JitAdmissionKey {
  tenantId: string;
  targetId: string;
  targetName: string;
  userId: string;
}

/** What admitting answered: `first` when this call made the admission (and so pushes); otherwise the status found. */
export interface JitAdmitted {
  first: boolean;
  status: JitAdmissionStatus;
}

/** How one account's delivery to one target stands, read from the replication links. */
export interface JitDeliveryState {
  /** `delivered`: the account and its groups reached the target; `failed`: a permanent failure; `pending` otherwise. */
  status: 'pending' | 'delivered' | 'failed';
  remoteId: string | null;
  error: string | null;
}

/** The outcome of a first sign-in's provisioning, for the interaction and the audit log. */
export type JitOutcome = { ok: true; pushed: number } | { ok: false; reason: 'failed' | 'timeout'; target: string; error: string | null };

/** Storage of the relying parties' JIT targets and of the admitted set (the store implements it). */
export interface JitStore {
  /** Replaces the JIT targets of a relying party; audited (`rp.updated`). NOT_FOUND for an unknown client, INVALID_CONFIG for a target outside the community. */
  setTargets(communityId: string, clientId: string, targetIds: readonly string[], context: RequestContext): Promise<JitTargetLink[]>;
  targetsOf(communityId: string, clientId: string): Promise<JitTargetLink[]>;
  /** The person's active accounts in the tenants of the relying party's JIT targets that are not delivered yet. */
  owed(communityId: string, clientId: string, personId: string): Promise<JitAdmissionKey[]>;
  /** Admits the account to the target (once: a second call finds the first's row). */
  admit(key: JitAdmissionKey, clientId: string, context: RequestContext): Promise<JitAdmitted>;
  /** Records the outcome of an admission's push; audited (`replication.admitted` or `replication.admission_failed`). */
  settle(key: JitAdmissionKey, outcome: { status: JitAdmissionStatus; error: string | null }, context: RequestContext): Promise<void>;
  /** How the account's delivery (and its groups') stands at the target. */
  deliveryState(key: JitAdmissionKey): Promise<JitDeliveryState>;
}

/** Manages the JIT targets of relying parties (community admins, `sso.manage`). */
export class JitTargetService {
  constructor(
    private readonly store: JitStore,
    private readonly admin: Pick<AdminService, 'authorizeCommunity'>,
  ) {}

  /** Links a relying party to targets "on first sign-in" (an empty list unlinks). */
  async setTargets(
    principal: Principal,
    community: string,
    clientId: string,
    targetIds: readonly string[],
    context: RequestContext,
  ): Promise<JitTargetLink[]> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.manage', community);
    return this.store.setTargets(found.id, clientId, [...new Set(targetIds)], context);
  }

  /** The JIT targets of a relying party. */
  async targetsOf(principal: Principal, community: string, clientId: string): Promise<JitTargetLink[]> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.read', community);
    return this.store.targetsOf(found.id, clientId);
  }
}
