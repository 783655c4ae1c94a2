import type { AccountLink } from '../ports/global-directory.js';
import { type CurrentPlacement, correlationLookup, type KeyMatch, type Placement, placeAccount } from './placement.js';

/**
 * Where a batch of accounts goes (ADR 0025): {@link placeAccount} for each,
 * in the order they were queued, as if they had been projected one after
 * the other. The store loads the batch, its keys' holders and its people's
 * sizes in a few statements; each decision here sees the ones before it (an
 * account that joined a person, a key that moved, a loner now linked by a
 * rule), so a batch places its accounts exactly as one projection per account
 * would have, and the store writes every answer in one statement.
 */

/** An account of the batch as it stands before the batch. */
export interface BatchAccount {
  tenantId: string;
  userId: string;
  /** Its place today; undefined for an account new to the directory. */
  current: CurrentPlacement | undefined;
  /** Its correlation keys under the community's rules, in rule order; undefined when its User is gone (it leaves). */
  keys: readonly string[] | undefined;
  /** It has a correlation conflict on record. */
  hadConflict: boolean;
}

/** An account holding a correlation key, as it stands before the batch (accounts of the batch among them). */
export interface KeyHolder {
  key: string;
  tenantId: string;
  userId: string;
  personId: string;
  pinned: boolean;
}

/** What the batch knows of the directory before it starts. */
export interface BatchState {
  /** Every account holding one of the batch's keys. */
  holders: readonly KeyHolder[];
  /** How many accounts each person the batch's accounts are in has today. */
  personSizes: ReadonlyMap<string, number>;
}

/** The decision for one account of the batch. */
interface BatchDecision {
  account: BatchAccount;
  /** Where it goes; undefined when it leaves the directory (or, gone and never projected, changes nothing). */
  placement: Placement | undefined;
  /** Its link at the end of the batch: a later account joining its person by a rule links a loner by that rule too. */
  link: AccountLink | undefined;
}

interface BatchPlacement {
  /** One per account, in the order given. */
  decisions: BatchDecision[];
  /**
   * Persons some account joined by a rule, with the first such rule: their
   * accounts outside the batch that stood alone (`none`, not pinned) take its
   * link, as the first join would have set it.
   */
  lonerLinks: Map<string, AccountLink>;
  /** People to resolve again when the batch is written, each once. */
  resolveAgain: string[];
  /**
   * Accounts that arrived, changed person or left. The people of the
   * accounts they manage resolve their manager to its person: the store
   * finds them (the batch does not know them) and resolves them too. An
   * account that stays where it was changes nothing for them.
   */
  moved: { tenantId: string; userId: string }[];
}

const refOf = (a: { tenantId: string; userId: string }) => `${a.tenantId}/${a.userId}`;

/** Places a batch of distinct accounts in order; see the top of this file. */
export function placeBatch(accounts: readonly BatchAccount[], state: BatchState, newPersonId: () => string): BatchPlacement {
  // Where every known account stands, and who holds each key, updated after each decision.
  const where = new Map<string, { personId: string; link: AccountLink; pinned: boolean }>();
  const holders = new Map<string, Set<string>>();
  const keysOf = new Map<string, Set<string>>();
  const hold = (ref: string, key: string) => {
    const set = holders.get(key) ?? new Set<string>();
    holders.set(key, set.add(ref));
    const keys = keysOf.get(ref) ?? new Set<string>();
    keysOf.set(ref, keys.add(key));
  };
  for (const h of state.holders) {
    const ref = refOf(h);
    hold(ref, h.key);
    if (!where.has(ref)) where.set(ref, { personId: h.personId, link: 'none', pinned: h.pinned });
  }
  // The batch's own accounts, by person, for the loners a join links.
  const members = new Map<string, Set<string>>();
  const join = (ref: string, personId: string) => {
    const set = members.get(personId) ?? new Set<string>();
    members.set(personId, set.add(ref));
  };
  for (const a of accounts) {
    const ref = refOf(a);
    if (a.current) {
      where.set(ref, { personId: a.current.personId, link: a.current.link, pinned: a.current.pinned });
      join(ref, a.current.personId);
    }
  }
  const sizes = new Map(state.personSizes);
  const lonerLinks = new Map<string, AccountLink>();
  const resolve = new Set<string>();
  const moved: BatchAccount[] = [];
  const decisions: BatchDecision[] = [];

  for (const account of accounts) {
    const ref = refOf(account);
    const now = where.get(ref);
    const current: CurrentPlacement | undefined = now && { personId: now.personId, link: now.link, pinned: now.pinned };
    if (account.keys === undefined) {
      if (current) {
        where.delete(ref);
        members.get(current.personId)?.delete(ref);
        for (const key of keysOf.get(ref) ?? []) holders.get(key)?.delete(ref);
        keysOf.delete(ref);
        if (sizes.has(current.personId)) sizes.set(current.personId, (sizes.get(current.personId) ?? 1) - 1);
        resolve.add(current.personId);
        moved.push(account);
      }
      decisions.push({ account, placement: undefined, link: undefined });
      continue;
    }
    const matches: KeyMatch[] = [];
    for (const key of correlationLookup(current, account.keys)) {
      for (const other of holders.get(key) ?? []) {
        const at = where.get(other);
        if (other !== ref && at) matches.push({ key, personId: at.personId, pinned: at.pinned });
      }
    }
    const placement = placeAccount({
      current,
      othersInPerson: current ? (sizes.get(current.personId) ?? 1) - 1 : 0,
      keys: account.keys,
      matches,
      hadConflict: account.hadConflict,
      dependents: [],
      newPersonId,
    });
    const { personId, link } = placement;
    if (current && current.personId !== personId) {
      members.get(current.personId)?.delete(ref);
      if (sizes.has(current.personId)) sizes.set(current.personId, (sizes.get(current.personId) ?? 1) - 1);
    }
    if (!current || current.personId !== personId) {
      join(ref, personId);
      if (sizes.has(personId)) sizes.set(personId, (sizes.get(personId) ?? 0) + 1);
    }
    where.set(ref, { personId, link, pinned: current?.pinned ?? false });
    const next = new Set(account.keys);
    for (const key of keysOf.get(ref) ?? []) if (!next.has(key)) holders.get(key)?.delete(ref);
    keysOf.delete(ref);
    for (const key of next) hold(ref, key);
    if (placement.linksLoners) {
      if (!lonerLinks.has(personId)) lonerLinks.set(personId, link);
      for (const other of members.get(personId) ?? []) {
        const at = where.get(other);
        if (other !== ref && at && at.link === 'none' && !at.pinned) at.link = link;
      }
    }
    for (const p of placement.resolveAgain) resolve.add(p);
    if (current?.personId !== personId) moved.push(account);
    decisions.push({ account, placement, link });
  }
  for (const d of decisions) if (d.placement) d.link = where.get(refOf(d.account))?.link ?? d.link;
  return { decisions, lonerLinks, resolveAgain: [...resolve], moved: moved.map(({ tenantId, userId }) => ({ tenantId, userId })) };
}
