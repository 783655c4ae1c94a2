import type { Person } from '../ports/global-directory.js';
import {
  type AccountFacts,
  type AccountValues,
  type ConflictCandidate,
  type DirectoryRules,
  type PersonAttribute,
  resolvePerson,
} from './global-directory.js';

/**
 * What people become from their accounts (docs/global-directory.md, ADR
 * 0015), pure: the store reads the accounts of the people a change touched
 * in one statement, asks {@link resolvePeople}, and writes the answer in one
 * statement.
 */

/** One account of a person being resolved, with what the store read beside it. */
export interface ResolutionAccount {
  personId: string;
  account: AccountFacts;
  /** The person's pins (the same on each of its accounts). */
  personPinned: Person['pinned'];
  /** The person's open correlation conflicts (the same on each of its accounts). */
  correlationConflicts: number;
  /** The person of the account the account's manager reference names, when that account is in the directory. */
  managerPerson: string | null;
}

/** A person as resolved: what the store writes on its row. */
export interface ResolvedPersonRecord {
  personId: string;
  /** The resolved values; `manager` as resolved (a person id or `<tenant>/<user>`), kept as `managerPersonId`. */
  values: AccountValues;
  /** The manager's person; null when the manager is not in the directory, unresolved, or the person itself. */
  managerPersonId: string | null;
  active: boolean;
  sources: Person['sources'];
  /** Attribute conflicts and correlation conflicts together. */
  conflictCount: number;
  /** The attributes the rules could not settle, with every candidate value. */
  conflicts: { attribute: PersonAttribute; candidates: ConflictCandidate[] }[];
}

export interface PeopleResolution {
  /** People left without accounts: to be removed. */
  gone: string[];
  /** The others, in the order asked for. */
  people: ResolvedPersonRecord[];
}

/** A person id (a manager reference that did not resolve to a person is `<tenant>/<user>` instead). */
const PERSON_ID = /^[0-9a-f-]{36}$/i;

/**
 * Resolves the given people (each once, in the order given) from their
 * accounts with {@link resolvePerson}. A person left without accounts is
 * gone. Two offices naming different accounts of one manager agree, because
 * a manager reference is compared by the manager's person.
 */
export function resolvePeople(
  personIds: readonly string[],
  accounts: readonly ResolutionAccount[],
  authority: DirectoryRules['authority'],
): PeopleResolution {
  const ids = [...new Set(personIds)];
  const byPerson = new Map<string, ResolutionAccount[]>();
  for (const a of accounts) {
    const mine = byPerson.get(a.personId);
    if (mine) mine.push(a);
    else byPerson.set(a.personId, [a]);
  }
  const gone = ids.filter((id) => !byPerson.has(id));
  const people: ResolvedPersonRecord[] = [];
  for (const personId of ids) {
    const mine = byPerson.get(personId);
    if (!mine) continue;
    const managers = new Map(
      mine.filter((a) => a.managerPerson).map((a) => [`${a.account.tenantId}/${a.account.values.manager}`, a.managerPerson as string]),
    );
    const resolved = resolvePerson(
      mine.map((a) => a.account),
      authority,
      mine[0]?.personPinned ?? {},
      (tenantId, userId) => managers.get(`${tenantId}/${userId}`),
    );
    const manager = resolved.values.manager;
    const attributes = Object.keys(resolved.conflicts) as PersonAttribute[];
    people.push({
      personId,
      values: resolved.values,
      managerPersonId: manager && PERSON_ID.test(manager) && manager !== personId ? manager : null,
      active: resolved.active,
      sources: resolved.sources,
      conflictCount: attributes.length + (mine[0]?.correlationConflicts ?? 0),
      conflicts: attributes.map((attribute) => ({ attribute, candidates: resolved.conflicts[attribute] ?? [] })),
    });
  }
  return { gone, people };
}
