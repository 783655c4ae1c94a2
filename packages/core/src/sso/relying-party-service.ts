import { MeridianError } from '../errors/meridian-error.js';
import type { AdminService } from '../tenancy/admin-service.js';
import { CONSOLE_CLIENT_ID } from '../tenancy/console-roles.js';
import type { Principal, RequestContext } from '../tenancy/model.js';
import { authorize } from '../tenancy/permissions.js';
import type { RelyingPartyStore, RelyingPartyWithSecret, SsoGrant, SsoGrantStore } from './ports.js';
import {
  applyRelyingPartyChanges,
  parseRelyingParty,
  type RelyingParty,
  type RelyingPartyChanges,
  type RelyingPartyInput,
} from './relying-party.js';

/**
 * Relying parties of a community (issue 15) and the grants people gave them.
 * Registrations: community admins of that community and the platform admin
 * (`sso.read`, `sso.manage`); a client of another community is NOT_FOUND.
 * A person's own grants: the end user (`scim.me`).
 */
export class RelyingPartyService {
  constructor(
    private readonly store: RelyingPartyStore,
    private readonly grants: SsoGrantStore,
    private readonly admin: Pick<AdminService, 'authorizeCommunity'>,
  ) {}

  /** Registers a relying party; the answer carries its client secret, which is never shown again. */
  async create(principal: Principal, input: RelyingPartyInput, context: RequestContext): Promise<RelyingPartyWithSecret> {
    const community = await this.admin.authorizeCommunity(principal, 'sso.manage', input.community);
    return this.store.create(parseRelyingParty(input, community.id), context);
  }

  /** The relying parties of a community. */
  async list(principal: Principal, community: string): Promise<RelyingParty[]> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.read', community);
    return this.store.list(found.id);
  }

  /** One registration by client id. */
  async get(principal: Principal, community: string, clientId: string): Promise<RelyingParty> {
    return this.reach(principal, 'sso.read', community, clientId);
  }

  /** Changes a registration; grants already given keep their claims until the person signs in again. */
  async update(
    principal: Principal,
    community: string,
    clientId: string,
    changes: RelyingPartyChanges,
    context: RequestContext,
  ): Promise<RelyingParty> {
    const current = await this.reach(principal, 'sso.manage', community, clientId);
    return this.store.update(current, applyRelyingPartyChanges(current, changes), context);
  }

  /** Removes a registration, its grants and its tokens. */
  async delete(principal: Principal, community: string, clientId: string, context: RequestContext): Promise<RelyingParty> {
    const current = await this.reach(principal, 'sso.manage', community, clientId);
    await this.store.delete(current, context);
    return current;
  }

  /** Replaces the client secret; the old one stops working at once. */
  async rotateSecret(principal: Principal, community: string, clientId: string, context: RequestContext): Promise<RelyingPartyWithSecret> {
    const current = await this.reach(principal, 'sso.manage', community, clientId);
    if (current.clientType === 'public') {
      throw new MeridianError('INVALID_INPUT', 'A public client has no secret to rotate.', { field: 'clientId' });
    }
    return this.store.rotateSecret(current, context);
  }

  /** The grants given to one relying party (admins). */
  async grantsOfClient(principal: Principal, community: string, clientId: string): Promise<SsoGrant[]> {
    const rp = await this.reach(principal, 'sso.read', community, clientId);
    return this.grants.grantsOfClient(rp.communityId, rp.clientId);
  }

  /** Revokes any grant of the community (admins); the relying party's tokens under it stop working. */
  async revokeGrant(principal: Principal, community: string, grantId: string, context: RequestContext): Promise<void> {
    const found = await this.admin.authorizeCommunity(principal, 'sso.manage', community);
    if (!(await this.grants.revokeGrant(found.id, grantId, context))) throw grantNotFound(grantId);
  }

  /** The grants the calling person gave (an end-user token). */
  async myGrants(principal: Principal): Promise<SsoGrant[]> {
    const person = await this.me(principal);
    // The admin console's grants are a sign-in each, not a consent to withdraw (ADR 0034): they are not listed.
    return person
      ? (await this.grants.grantsOfPerson(person.communityId, person.personId)).filter((g) => g.clientId !== CONSOLE_CLIENT_ID)
      : [];
  }

  /** Revokes one of the calling person's own grants. */
  async revokeMyGrant(principal: Principal, grantId: string, context: RequestContext): Promise<void> {
    const person = await this.me(principal);
    const mine = person ? await this.grants.grantsOfPerson(person.communityId, person.personId) : [];
    if (!person || !mine.some((g) => g.id === grantId && g.clientId !== CONSOLE_CLIENT_ID)) throw grantNotFound(grantId);
    await this.grants.revokeGrant(person.communityId, grantId, context);
  }

  private async me(principal: Principal): Promise<{ communityId: string; personId: string } | undefined> {
    authorize(principal, 'scim.me');
    if (principal.kind !== 'tenant' || principal.userId === undefined) {
      throw new MeridianError('FORBIDDEN', 'This operation needs an end-user token.');
    }
    authorize(principal, 'scim.me', { tenantId: principal.tenantId });
    return this.grants.personOfAccount(principal.tenantId, principal.userId);
  }

  private async reach(principal: Principal, action: 'sso.read' | 'sso.manage', community: string, clientId: string): Promise<RelyingParty> {
    const found = await this.admin.authorizeCommunity(principal, action, community);
    const rp = await this.store.find(found.id, clientId);
    if (!rp) throw new MeridianError('NOT_FOUND', `Relying party '${clientId.slice(0, 100)}' not found.`, { field: 'clientId' });
    return rp;
  }
}

function grantNotFound(id: string): MeridianError {
  return new MeridianError('NOT_FOUND', `Grant '${id.slice(0, 100)}' not found.`, { field: 'id' });
}
