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
}

export interface Scenario {
  name: string;
  /** The servers that answer it; the hub always does. */
  sides: Side[];
  target: Target;
  /** The filter of a filtered list for user `t` (the EXPLAIN step shows its plans). */
  filter?: (t: FilterTarget) => string;
  /** The request generator: `targets` are random seeded users, `run` makes created userNames unique. */
  requests: (targets: FilterTarget[], run: string) => () => RequestSpec;
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

/** The create scenario's name: the hub's other writes are measured against the minimal baseline's create. */
export const CREATE = 'POST /Users (create, no password)';

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
      return () => {
        const i = n++;
        const userName = `created-${run}-${i}@t1.example.org`;
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
