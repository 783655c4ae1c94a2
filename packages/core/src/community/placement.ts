import type { AccountLink } from '../ports/global-directory.js';
import { type AccountValues, type CorrelationAttribute, type PersonAttribute, ruleOfKey } from './global-directory.js';

/**
 * Where an account of the global directory goes (docs/global-directory.md,
 * ADR 0015): the correlation decision, pure. The store loads the account,
 * its correlation keys' matches and its person's other accounts, asks
 * {@link placeAccount}, and writes the answer in one statement.
 *
 * 1. An account placed by hand (pinned) stays where the admin put it.
 * 2. One person matches its keys: it joins that person, linked by the first
 *    rule (in the community's order) that matched.
 * 3. No person matches: it stands alone, in its own person.
 * 4. Several people match: it joins none of them (or stays in the one it is
 *    in, when that is one of them) and a correlation conflict lists them.
 */

/** An account's place in the directory as it stands, before the projection. */
export interface CurrentPlacement {
  personId: string;
  link: AccountLink;
  /** Placed by hand: the rules leave it where it is. */
  pinned: boolean;
}

/** Another account holding one of the account's correlation keys. */
export interface KeyMatch {
  key: string;
  personId: string;
  /** That account was placed by hand. */
  pinned: boolean;
}

/** A person the rules point at, with the first rule that matched it. */
export interface CorrelationCandidate {
  personId: string;
  rule: CorrelationAttribute;
}

export interface PlacementInput {
  /** The account's place today; undefined for an account new to the directory. */
  current: CurrentPlacement | undefined;
  /** How many other accounts share its current person. */
  othersInPerson: number;
  /** Its correlation keys under the community's rules, in rule order. */
  keys: readonly string[];
  /** Other accounts holding any of {@link correlationLookup}'s keys. */
  matches: readonly KeyMatch[];
  /** It has a correlation conflict on record. */
  hadConflict: boolean;
  /** People whose accounts name this account as their manager. */
  dependents: readonly string[];
  /** Makes the id of a new person; called only when one is needed. */
  newPersonId: () => string;
}

export interface Placement {
  personId: string;
  /** `personId` is a new person, to be created with the account. */
  newPerson: boolean;
  link: AccountLink;
  /** Several people match: the conflict to record, one candidate per person. */
  conflict: CorrelationCandidate[] | undefined;
  /** The conflict on record is settled: remove it. */
  settlesConflict: boolean;
  /**
   * Linked by a rule: accounts that stood alone (`none`, not pinned) in the
   * person it joins were linked by the same rule, and say so.
   */
  linksLoners: boolean;
  /** People to resolve again: the one it is in, the one it left, and those it manages. */
  resolveAgain: string[];
}

/** The keys whose matches {@link placeAccount} needs: none for an account placed by hand, which stays. */
export function correlationLookup(current: CurrentPlacement | undefined, keys: readonly string[]): readonly string[] {
  return current?.pinned ? [] : keys;
}

/**
 * The people the rules point at, each with the first rule (in the
 * community's order) that matched it, in that order. Accounts an admin placed
 * by hand do not attract others: an account unlinked from a person must not
 * pull that person's other accounts after it.
 */
export function correlationCandidates(keys: readonly string[], matches: readonly KeyMatch[]): CorrelationCandidate[] {
  const candidates = new Map<string, CorrelationAttribute>();
  for (const key of keys) {
    for (const match of matches) {
      if (match.key === key && !match.pinned && !candidates.has(match.personId)) candidates.set(match.personId, ruleOfKey(key));
    }
  }
  return [...candidates].map(([personId, rule]) => ({ personId, rule }));
}

/** Decides where an account goes; see the rules at the top of this file. */
export function placeAccount(input: PlacementInput): Placement {
  const { current } = input;
  let personId: string;
  let link: AccountLink;
  let newPerson = false;
  let conflict: CorrelationCandidate[] | undefined;
  if (current?.pinned) {
    personId = current.personId;
    link = current.link;
  } else {
    const candidates = correlationCandidates(input.keys, input.matches);
    // Standing alone: in its own person if it has one to itself, else in a new one.
    const alone = (): string => {
      if (current && input.othersInPerson === 0) return current.personId;
      newPerson = true;
      return input.newPersonId();
    };
    const [only] = candidates;
    if (candidates.length === 1 && only) {
      personId = only.personId;
      link = `rule:${only.rule}`;
    } else if (candidates.length === 0) {
      personId = alone();
      link = 'none';
    } else {
      // The rules point at several people: link to none of them (or stay), and let an admin decide.
      conflict = candidates;
      personId = current && candidates.some((c) => c.personId === current.personId) ? current.personId : alone();
      link = current && personId === current.personId ? current.link : 'none';
    }
  }
  const resolveAgain = [personId, ...input.dependents];
  if (current && current.personId !== personId) resolveAgain.push(current.personId);
  return {
    personId,
    newPerson,
    link,
    conflict,
    settlesConflict: conflict === undefined && input.hadConflict,
    linksLoners: link.startsWith('rule:'),
    resolveAgain,
  };
}

/** An account whose User is gone leaves the directory: its person and the people it managed are resolved again. */
export function removalResolves(current: CurrentPlacement, dependents: readonly string[]): string[] {
  return [current.personId, ...dependents];
}

/** A manager reference that can name a User (its id); anything else names no account. */
const UUID_TEXT = /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

/** The user id an account's manager reference names in its tenant, or null when it cannot name one. */
export function managerUserIdOf(values: AccountValues): string | null {
  return values.manager && UUID_TEXT.test(values.manager) ? values.manager : null;
}

/** Where an admin puts an account by hand: into a person, or (`'new'`) into one of its own. */
export interface ManualPlacement {
  personId: string;
  newPerson: boolean;
  link: 'manual';
  /** Pinned: the rules leave it there until it is released. */
  pinned: true;
  /** Its correlation conflict, if any, is settled by the admin's choice. */
  settlesConflict: true;
  event: 'directory.linked' | 'directory.unlinked';
  /** The person it left and the one it joined. */
  resolveAgain: [string, string];
}

/** Decides a link (`target` is a person) or an unlink (`'new'`) by hand. */
export function placeByHand(currentPersonId: string, target: string | 'new', newPersonId: () => string): ManualPlacement {
  const newPerson = target === 'new';
  const personId = newPerson ? newPersonId() : target;
  return {
    personId,
    newPerson,
    link: 'manual',
    pinned: true,
    settlesConflict: true,
    event: newPerson ? 'directory.unlinked' : 'directory.linked',
    resolveAgain: [currentPersonId, personId],
  };
}

/** A person's pins with one attribute pinned to a tenant's value, or (null) unpinned. */
export function withPin(
  pinned: Partial<Record<PersonAttribute, string>>,
  attribute: PersonAttribute,
  tenantId: string | null,
): Partial<Record<PersonAttribute, string>> {
  const next = { ...pinned };
  if (tenantId === null) delete next[attribute];
  else next[attribute] = tenantId;
  return next;
}
