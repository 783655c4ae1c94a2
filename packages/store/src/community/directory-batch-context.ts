import type { AccountValues, Person } from '@meridian/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { pgArray } from '../orm/sql.js';
import { refArrays } from './directory-rows.js';
import { executeBound } from './directory-sql.js';

/**
 * The read of a batch projection under the community's lock (ADR 0025):
 * where the batch's accounts stand (person, link, keys, correlation
 * conflict), who holds the batch's correlation keys, and everything the
 * people the batch can touch need to be resolved in memory: their rows, all
 * their accounts, their conflicts, and the people of the managers the
 * batch's accounts name. The people the batch can touch are known before it
 * is placed: the accounts' current people and the people holding their keys
 * (an account joins one of those, or a new person). One statement; its
 * parts come back as JSON arrays in one row. A third read, with the same
 * statement, finds the people of the accounts that an account which moved
 * manages, when there is one.
 */

/** An account holding a correlation key of the batch. */
interface HolderRow {
  key: string;
  tenant_id: string;
  user_id: string;
  person_id: string;
  pinned: boolean;
}

/** A person the batch may resolve, with the columns a resolution writes (to write only what changes). */
export interface ContextPerson {
  id: string;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  email: string | null;
  phone_number: string | null;
  title: string | null;
  department: string | null;
  organization: string | null;
  division: string | null;
  cost_center: string | null;
  employee_number: string | null;
  manager_person_id: string | null;
  active: boolean;
  display_name_key: string | null;
  family_name_key: string | null;
  sources: Person['sources'] | null;
  pinned: Person['pinned'] | null;
  conflict_count: number;
  version: number;
}

/**
 * An account of such a person, as it stands, with the person of the account
 * its manager reference names (null for the batch's own accounts, which
 * the batch resolves from its `managers`).
 */
export interface ContextAccount {
  tenant_id: string;
  user_id: string;
  person_id: string;
  link: string;
  pinned: boolean;
  user_name: string;
  external_id: string | null;
  display_name: string | null;
  active: boolean;
  account_values: AccountValues | null;
  user_version: number;
  /** JSON's text of the timestamp. */
  linked_at: string;
  manager_user_id: string | null;
  manager_person: string | null;
}

/** A conflict of such a person. */
interface ContextConflict {
  kind: 'attribute' | 'correlation';
  person_id: string;
  attribute: string | null;
  tenant_id: string | null;
  user_id: string | null;
  candidates: unknown;
}

/** An account of the batch as it stands in the directory (absent: new to it). */
interface StandingRow {
  tenant_id: string;
  user_id: string;
  person_id: string;
  link: string;
  pinned: boolean;
  /** It has a correlation conflict on record. */
  had_conflict: boolean;
  /** Its correlation keys as they stand. */
  held: string[] | null;
}

export interface BatchContext {
  /** The accounts of the batch that are in the directory, as they stand. */
  batch: StandingRow[];
  holders: HolderRow[];
  /** The people of the accounts that name one of `managedBy` as their manager. */
  managed: string[];
  people: ContextPerson[];
  accounts: ContextAccount[];
  conflicts: ContextConflict[];
  /** The accounts the batch's managers references name, with their people. */
  managers: { tenant_id: string; user_id: string; person_id: string }[];
  /** The community's change counter in the same snapshot (`directory_count.changes`, 0 without a row). */
  changes: number;
}

const PERSON_JSON = `p.id, p.display_name, p.given_name, p.family_name, p.email, p.phone_number, p.title, p.department, p.organization,
  p.division, p.cost_center, p.employee_number, p.manager_person_id, p.active, p.display_name_key, p.family_name_key, p.sources,
  p.pinned, p.conflict_count, p.version`;

/** Reads the batch's context (see the top of this file) in one statement. */
export async function readBatchContext(
  em: EntityManager,
  communityId: string,
  keys: readonly string[],
  people: readonly string[],
  managers: readonly { tenantId: string; userId: string }[],
  managedBy: readonly { tenantId: string; userId: string }[] = [],
  batch: readonly { tenantId: string; userId: string }[] = [],
): Promise<BatchContext> {
  const [row] = await executeBound<{ [K in Exclude<keyof BatchContext, 'changes'>]: BatchContext[K] | null } & { changes: string | null }>(
    em,
    `with b as (
       select a.tenant_id, a.user_id, a.person_id, a.link, a.pinned,
         exists (select 1 from directory_conflict c where c.kind = 'correlation' and c.tenant_id = a.tenant_id and c.user_id = a.user_id)
           as had_conflict,
         array(select k.key from directory_account_key k where k.tenant_id = a.tenant_id and k.user_id = a.user_id) as held
       from unnest(?::uuid[], ?::uuid[]) as r(tenant_id, user_id)
       join directory_account a on a.tenant_id = r.tenant_id and a.user_id = r.user_id),
     h as (
       select k.key, k.tenant_id, k.user_id, a.person_id, a.pinned from unnest(?::text[]) as w(key)
       join directory_account_key k on k.community_id = ? and k.key = w.key
       join directory_account a on a.tenant_id = k.tenant_id and a.user_id = k.user_id),
     managed as (
       select distinct d.person_id from unnest(?::uuid[], ?::uuid[]) as r(tenant_id, user_id)
       join directory_account d on d.tenant_id = r.tenant_id and d.manager_user_id = r.user_id),
     ids as (select id from unnest(?::uuid[]) as id union select person_id from b union select person_id from h
       union select person_id from managed)
     select
       (select json_agg(b) from b) as batch,
       (select json_agg(h) from h) as holders,
       (select json_agg(person_id) from managed) as managed,
       (select json_agg(p) from (select ${PERSON_JSON} from ids join person p on p.id = ids.id) p) as people,
       (select json_agg(a) from (
          select a.tenant_id, a.user_id, a.person_id, a.link, a.pinned, a.user_name, a.external_id, a.display_name, a.active,
            a.account_values, a.user_version, a.linked_at, a.manager_user_id,
            case when b.user_id is null then (
              select m.person_id from directory_account m where m.tenant_id = a.tenant_id and m.user_id = a.manager_user_id)
            end as manager_person
          from ids join directory_account a on a.person_id = ids.id
          left join b on b.tenant_id = a.tenant_id and b.user_id = a.user_id) a) as accounts,
       (select json_agg(c) from (
          select c.kind, c.person_id, c.attribute, c.tenant_id, c.user_id, c.candidates
          from ids join directory_conflict c on c.person_id = ids.id) c) as conflicts,
       (select json_agg(m) from (
          select m.tenant_id, m.user_id, m.person_id from unnest(?::uuid[], ?::uuid[]) as r(tenant_id, user_id)
          join directory_account m on m.tenant_id = r.tenant_id and m.user_id = r.user_id) m) as managers,
       (select k.changes from directory_count k where k.community_id = ?) as changes`,
    [...refArrays(batch), pgArray(keys), communityId, ...refArrays(managedBy), pgArray(people), ...refArrays(managers), communityId],
  );
  return {
    batch: row?.batch ?? [],
    holders: row?.holders ?? [],
    managed: row?.managed ?? [],
    people: row?.people ?? [],
    accounts: row?.accounts ?? [],
    conflicts: row?.conflicts ?? [],
    managers: row?.managers ?? [],
    changes: Number(row?.changes ?? 0),
  };
}

/**
 * Whether two JSON values are equal as PostgreSQL's `jsonb` compares them:
 * objects whatever their keys' order, a key whose value is undefined (left
 * out of JSON) as absent.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x).filter((k) => x[k] !== undefined);
  if (keys.length !== Object.keys(y).filter((k) => y[k] !== undefined).length) return false;
  return keys.every((k) => sameJson(x[k], y[k]));
}
