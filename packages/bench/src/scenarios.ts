import { SCHEMA } from '@meridian/core';
import type { FilterTarget } from './database.js';
import type { RequestSpec } from './load.js';

/** The servers of a run: the hub, the same-SQL baseline, the minimal baseline. */
export type Side = 'hub' | 'baseline' | 'minimal';

/**
 * What the hub should reach (issue 14): a fraction of the minimal baseline's
 * requests/s in the same scenario, of the minimal baseline's chained create (the
 * hub's other writes), or of the same-SQL baseline's.
 */
export interface Target {
  ratio: number;
  of: 'minimal' | 'minimal create' | 'baseline';
  /** A rate the hub must also reach, in requests/s (issue 14: creates across ten tenants). */
  rps?: number;
}

/** A tenant's token, for a scenario that spreads its requests over tenants. */
export interface TenantToken {
  /** The tenant's position among the seeded tenants (1 for `bench-1`): it names the created users' domain. */
  index: number;
  token: string;
}

export interface Scenario {
  name: string;
  /** The servers that answer it; the hub always does. */
  sides: Side[];
  target: Target;
  /** The filter of a filtered list for user `t` (the EXPLAIN step shows its plans). */
  filter?: (t: FilterTarget) => string;
  /**
   * The request generator: `targets` are random seeded users of the bench tenant, `run` makes created
   * userNames unique, `tenants` are the tokens of the tenants a spread scenario writes to (the run's token when
   * absent).
   */
  requests: (targets: FilterTarget[], run: string, tenants?: TenantToken[]) => () => RequestSpec;
}

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ALL: Side[] = ['hub', 'baseline', 'minimal'];

function filtered(filter: (t: FilterTarget) => string): Pick<Scenario, 'filter' | 'requests'> {
  return {
    filter,
    requests: (targets) => {
      let n = 0;
      return () => {
        const target = targets[n++ % targets.length] as FilterTarget;
        return { method: 'GET', path: `/scim/v2/Users?filter=${encodeURIComponent(filter(target))}` };
      };
    },
  };
}

/** The time the delta query asks for changes since: a minute before the bench started. */
const DELTA_SINCE = new Date(Date.now() - 60_000).toISOString();

/** The create scenario's name: the hub's other writes are measured against the minimal baseline's create. */
export const CREATE = 'POST /Users (create, no password)';
/** How many tenants the spread create writes to, one after the other. */
export const SPREAD_TENANTS = 10;
export const CREATE_SPREAD = `POST /Users across ${SPREAD_TENANTS} tenants (create, no password)`;

/** A create of the `i`th new user of run `run` in the tenant `bench-{tenant}`. */
function newUser(run: string, i: number, tenant: number): RequestSpec {
  const userName = `created-${run}-${i}@t${tenant}.example.org`;
  return {
    method: 'POST',
    path: '/scim/v2/Users',
    body: JSON.stringify({
      schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
      userName,
      name: { givenName: 'Created', familyName: `Run${i}`, formatted: `Created Run${i}` },
      displayName: `Created Run${i}`,
      emails: [{ value: userName, type: 'work', primary: true }],
      active: true,
      [SCHEMA.enterpriseUser]: { employeeNumber: `C${run}${i}`, department: 'Engineering' },
    }),
  };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'GET /Users?filter=userName eq',
    sides: ALL,
    target: { ratio: 0.4, of: 'minimal' },
    ...filtered((t) => `userName eq "${t.userName}"`),
  },
  {
    name: 'GET /Users?filter=emails co',
    sides: ALL,
    // "No worse than today's ratios": today's target against the same SQL.
    target: { ratio: 0.6, of: 'baseline' },
    ...filtered((t) => `emails co "${t.emailFragment}"`),
  },
  {
    name: 'GET /Users?filter=name.familyName sw',
    sides: ALL,
    target: { ratio: 0.6, of: 'baseline' },
    ...filtered((t) => `name.familyName sw "${t.familyName}"`),
  },
  {
    name: 'GET /Users?filter=meta.lastModified gt',
    // The delta query of a provisioning client: what changed since a minute before the run started (a few users).
    // The minimal baseline answers no such filter; the target is the earlier one, against the same SQL.
    sides: ['hub', 'baseline'],
    target: { ratio: 0.6, of: 'baseline' },
    ...filtered(() => `meta.lastModified gt "${DELTA_SINCE}"`),
  },
  {
    name: 'GET /Users/{id}',
    sides: ALL,
    target: { ratio: 0.4, of: 'minimal' },
    requests: (targets) => {
      let n = 0;
      return () => ({ method: 'GET', path: `/scim/v2/Users/${(targets[n++ % targets.length] as FilterTarget).id}` });
    },
  },
  {
    name: CREATE,
    sides: ALL,
    target: { ratio: 0.3, of: 'minimal' },
    requests: (_targets, run) => {
      let n = 0;
      return () => newUser(run, n++, 1);
    },
  },
  {
    name: CREATE_SPREAD,
    sides: ALL,
    target: { ratio: 0.3, of: 'minimal', rps: 1_500 },
    requests: (_targets, run, tenants) => {
      let n = 0;
      return () => {
        const i = n++;
        const tenant = tenants?.[i % tenants.length];
        // `s`: other userNames than the single-tenant create's, which writes to `bench-1` too.
        return tenant ? { ...newUser(`${run}s`, i, tenant.index), token: tenant.token } : newUser(`${run}s`, i, 1);
      };
    },
  },
  {
    name: 'PATCH /Users/{id} (replace title)',
    sides: ['hub'],
    target: { ratio: 0.3, of: 'minimal create' },
    requests: (targets, run) => {
      let n = 0;
      return () => {
        const i = n++;
        return {
          method: 'PATCH',
          path: `/scim/v2/Users/${(targets[i % targets.length] as FilterTarget).id}`,
          body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: `Title ${run} ${i}` }] }),
        };
      };
    },
  },
  {
    name: 'PUT /Users/{id} (same user, new title)',
    sides: ['hub'],
    target: { ratio: 0.3, of: 'minimal create' },
    requests: (targets, run) => {
      let n = 0;
      return () => {
        const i = n++;
        const target = targets[i % targets.length] as FilterTarget;
        const extensions = Object.keys(target.attributes).filter((k) => k.startsWith('urn:'));
        return {
          method: 'PUT',
          path: `/scim/v2/Users/${target.id}`,
          body: JSON.stringify({ schemas: [SCHEMA.user, ...extensions], ...target.attributes, title: `Title ${run} ${i}` }),
        };
      };
    },
  },
];
