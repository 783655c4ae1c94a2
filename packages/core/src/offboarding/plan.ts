import { MeridianError } from '../errors/meridian-error.js';
import type { ScimResource } from '../scim/resource.js';
import type { JsonObject } from '../scim/resource-input.js';
import { SCHEMA } from '../scim/schemas.js';

// What a leaver hands to a successor (draft-ietf-scim-use-cases §3.1): decided here, from what the store
// loaded, so that the dry run and the run show and do the same thing.

/**
 * The message of Meridian's SCIM extension endpoint `POST /OwnershipTransfers`
 * (`{ schemas, from, to }` by the target's user ids), which the SCIM connector
 * sends and the hub's own SCIM API serves (docs/connector-scim.md).
 */
export const OWNERSHIP_TRANSFER_SCHEMA = 'urn:meridian:params:scim:api:messages:2.0:OwnershipTransfer';

/** The longest grace period before a leaver is deleted, in days (ten years). */
export const MAX_GRACE_DAYS = 3650;

/** The grace period when none is given, in days. */
export const DEFAULT_GRACE_DAYS = 30;

/** Which of the leaver's direct group memberships the successor takes. */
export interface OffboardingPolicy {
  /** True (the default): every direct group moves to the successor, except {@link keepGroups}; false: none moves. */
  moveGroups: boolean;
  /** Groups (id or displayName, case-insensitive) that stay with the leaver until the deletion and are not handed over. */
  keepGroups: readonly string[];
}

/** The default policy: every direct group moves. */
export const DEFAULT_OFFBOARDING_POLICY: OffboardingPolicy = { moveGroups: true, keepGroups: [] };

/** A User named in a plan. */
export interface AccountRef {
  id: string;
  userName: string;
}

/** One direct group membership of the leaver and what happens to it. */
export interface GroupHandover {
  groupId: string;
  displayName: string;
  /** `move`: the successor joins and the leaver leaves; `keep`: the leaver stays a member until deleted. */
  action: 'move' | 'keep';
  /** The successor is a direct member already (a move then only removes the leaver). */
  successorAlreadyMember: boolean;
}

/** One entitlement or role of the leaver (RFC 7643 §4.1.2) and whether the successor holds it already. */
export interface ValueHandover {
  value: string;
  type?: string | undefined;
  display?: string | undefined;
  successorHas: boolean;
}

/** A target a transfer of owned objects goes to, as the replication engine sees it now. */
export interface TransferCandidate {
  targetId: string;
  target: string;
  /** The target's connector declares `transferOwnership` (and takes Users). */
  capable: boolean;
  /** The leaver's id at the target; null when it was never pushed there. */
  leaverRemoteId: string | null;
  /** The successor's id at the target; null until it is pushed there (the transfer then retries until it is). */
  successorRemoteId: string | null;
}

/** A transfer of the leaver's owned objects at one target. */
export interface TransferPlan {
  targetId: string;
  target: string;
  leaverRemoteId: string;
  successorRemoteId: string | null;
}

/** A target that gets no transfer, and why. */
export interface SkippedTarget {
  targetId: string;
  target: string;
  reason: 'not_capable' | 'leaver_not_at_target';
}

/** Everything an offboarding does, in order; what the dry run prints and the run records. */
export interface OffboardingPlan {
  leaver: AccountRef;
  successor: AccountRef;
  groups: GroupHandover[];
  entitlements: ValueHandover[];
  roles: ValueHandover[];
  /** Users whose manager is the leaver: their manager becomes the successor. */
  directReports: AccountRef[];
  transfers: TransferPlan[];
  skippedTargets: SkippedTarget[];
  /** When the handover runs (now, or the scheduled leave). */
  runAt: Date;
  graceDays: number;
  /** When the leaver is deleted in the hub (and at every target per its delete mode). */
  deleteAt: Date;
}

/** What {@link planOffboarding} decides from. */
export interface OffboardingFacts {
  /** The leaver with its groups loaded. */
  leaver: ScimResource;
  /** The successor with its groups loaded. */
  successor: ScimResource;
  /** Users of the tenant whose enterprise `manager.value` is the leaver. */
  reports: readonly ScimResource[];
  candidates: readonly TransferCandidate[];
  policy: OffboardingPolicy;
  now: Date;
  /** A scheduled leave; now when absent. */
  at?: Date | undefined;
  graceDays?: number | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Plans a leaver's handover to a successor: which direct groups move (by
 * policy), which entitlements and roles the successor gains, whose manager
 * becomes the successor, and at which targets owned objects are transferred.
 * INVALID_INPUT when the successor is the leaver or is inactive, or the grace
 * period is out of range.
 *
 * @example
 * const plan = planOffboarding({ leaver, successor, reports, candidates, policy: DEFAULT_OFFBOARDING_POLICY, now });
 */
export function planOffboarding(facts: OffboardingFacts): OffboardingPlan {
  const { leaver, successor, policy } = facts;
  if (leaver.kind !== 'User' || successor.kind !== 'User') throw new TypeError('Offboarding plans Users.');
  if (leaver.id === successor.id) {
    throw new MeridianError('INVALID_INPUT', 'The successor must be another User than the leaver.', { field: 'successor' });
  }
  if (successor.attributes.active === false) {
    throw new MeridianError('INVALID_INPUT', `The successor '${userNameOf(successor)}' is not active.`, { field: 'successor' });
  }
  const graceDays = facts.graceDays ?? DEFAULT_GRACE_DAYS;
  if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > MAX_GRACE_DAYS) {
    throw new MeridianError('INVALID_INPUT', `The grace period is a whole number of days from 0 to ${MAX_GRACE_DAYS}.`, {
      field: 'graceDays',
    });
  }
  const runAt = facts.at && facts.at.getTime() > facts.now.getTime() ? facts.at : facts.now;
  const keep = new Set(policy.keepGroups.map((g) => g.toLowerCase()));
  const successorGroups = new Set(successor.groups.filter((g) => g.type === 'direct').map((g) => g.value));
  const groups = leaver.groups
    .filter((g) => g.type === 'direct')
    .map(
      (g): GroupHandover => ({
        groupId: g.value,
        displayName: g.display,
        action: policy.moveGroups && !keep.has(g.value.toLowerCase()) && !keep.has(g.display.toLowerCase()) ? 'move' : 'keep',
        successorAlreadyMember: successorGroups.has(g.value),
      }),
    )
    .sort((a, b) => a.displayName.localeCompare(b.displayName) || a.groupId.localeCompare(b.groupId));

  const transfers: TransferPlan[] = [];
  const skippedTargets: SkippedTarget[] = [];
  for (const c of [...facts.candidates].sort((a, b) => a.target.localeCompare(b.target) || a.targetId.localeCompare(b.targetId))) {
    if (!c.capable) skippedTargets.push({ targetId: c.targetId, target: c.target, reason: 'not_capable' });
    else if (c.leaverRemoteId === null) skippedTargets.push({ targetId: c.targetId, target: c.target, reason: 'leaver_not_at_target' });
    else
      transfers.push({ targetId: c.targetId, target: c.target, leaverRemoteId: c.leaverRemoteId, successorRemoteId: c.successorRemoteId });
  }

  return {
    leaver: refOf(leaver),
    successor: refOf(successor),
    groups,
    entitlements: valuesHandedOver(leaver.attributes.entitlements, successor.attributes.entitlements),
    roles: valuesHandedOver(leaver.attributes.roles, successor.attributes.roles),
    // The successor reporting to the leaver keeps its manager: it cannot manage itself.
    directReports: facts.reports
      .filter((r) => r.id !== successor.id && r.id !== leaver.id && managerOf(r.attributes) === leaver.id)
      .map(refOf)
      .sort((a, b) => a.userName.localeCompare(b.userName) || a.id.localeCompare(b.id)),
    transfers,
    skippedTargets,
    runAt,
    graceDays,
    deleteAt: new Date(runAt.getTime() + graceDays * DAY_MS),
  };
}

/** The successor's `entitlements` or `roles` after the handover: theirs, then the leaver's they did not hold. */
export function mergedValues(successorValues: unknown, handed: readonly ValueHandover[]): JsonObject[] {
  const own = complexValues(successorValues);
  const added = handed
    .filter((h) => !h.successorHas)
    .map((h) => ({
      value: h.value,
      ...(h.type !== undefined ? { type: h.type } : {}),
      ...(h.display !== undefined ? { display: h.display } : {}),
    }));
  return [...own, ...added];
}

/** The enterprise `manager.value` of a User's attributes (RFC 7643 §4.3), when it names one. */
export function managerOf(attributes: JsonObject): string | undefined {
  const enterprise = attributes[SCHEMA.enterpriseUser];
  if (!isObject(enterprise) || !isObject(enterprise.manager)) return undefined;
  const value = enterprise.manager.value;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The userName of a User. */
function userNameOf(user: ScimResource): string {
  return typeof user.attributes.userName === 'string' ? user.attributes.userName : user.id;
}

function refOf(user: ScimResource): AccountRef {
  return { id: user.id, userName: userNameOf(user) };
}

function valuesHandedOver(leaverValues: unknown, successorValues: unknown): ValueHandover[] {
  const held = new Set(complexValues(successorValues).map(keyOf));
  const seen = new Set<string>();
  const handed: ValueHandover[] = [];
  for (const item of complexValues(leaverValues)) {
    const key = keyOf(item);
    if (typeof item.value !== 'string' || seen.has(key)) continue;
    seen.add(key);
    handed.push({
      value: item.value,
      ...(typeof item.type === 'string' ? { type: item.type } : {}),
      ...(typeof item.display === 'string' ? { display: item.display } : {}),
      successorHas: held.has(key),
    });
  }
  return handed;
}

/** A value is the same entitlement or role when value and type agree (RFC 7643 §2.4: `value` is caseExact by default). */
function keyOf(item: JsonObject): string {
  return JSON.stringify([item.value, typeof item.type === 'string' ? item.type.toLowerCase() : null]);
}

function complexValues(values: unknown): JsonObject[] {
  return Array.isArray(values) ? values.filter(isObject) : [];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
