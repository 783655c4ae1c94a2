import pg from 'pg';

/** The fields an HR provider reads for each person of a page (issue 6). */
const PAGE_FIELDS =
  'edges { node { id displayName accounts { id userName tenant { slug } } groups { displayName } manager { displayName } } } pageInfo { endCursor hasNextPage }';

/** One GraphQL request the bench measures. */
export interface QueryScenario {
  /** Short name, also the baseline's route. */
  key: string;
  name: string;
  body: string;
}

function request(query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables ? { query, variables } : { query });
}

/** Where the scenarios point: a cursor in the middle of the community, a family name, a department. */
export interface ScenarioTargets {
  /** `after` of the page that starts at the middle person in the default order (display name, id). */
  deepCursor: string;
  /** The position of that page, 0-based. */
  deepOffset: number;
  familyName: string;
  department: string;
}

/** The GraphQL requests of the latency and throughput measurements. */
export function queryScenarios(t: ScenarioTargets): QueryScenario[] {
  const quoted = JSON.stringify(t.familyName);
  return [
    { key: 'first', name: 'people(first: 100): first page', body: request(`{ people(first: 100) { ${PAGE_FIELDS} } }`) },
    {
      key: 'deep',
      name: `people(first: 100, after: …): page at person ${t.deepOffset.toLocaleString('en-US')}`,
      body: request(`query($after: String) { people(first: 100, after: $after) { ${PAGE_FIELDS} } }`, { after: t.deepCursor }),
    },
    {
      key: 'count',
      name: 'people(first: 100) { totalCount … }: first page with the count',
      body: request(`{ people(first: 100) { totalCount ${PAGE_FIELDS} } }`),
    },
    {
      key: 'department',
      name: `people(first: 100, filter: { department: ${JSON.stringify(t.department)} })`,
      body: request(`{ people(first: 100, filter: { department: ${JSON.stringify(t.department)} }) { ${PAGE_FIELDS} } }`),
    },
    {
      key: 'family',
      name: `people(first: 100, filter: { familyName: ${quoted} })`,
      body: request(`{ people(first: 100, filter: { familyName: ${quoted} }) { ${PAGE_FIELDS} } }`),
    },
    {
      key: 'scim',
      name: `people(first: 100, scimFilter: 'name.familyName eq ${quoted}')`,
      body: request(`query($f: String) { people(first: 100, scimFilter: $f) { ${PAGE_FIELDS} } }`, {
        f: `name.familyName eq ${quoted}`,
      }),
    },
  ];
}

/** Encodes a people cursor as the store does: base64url of `{ s, d, k, id }`. */
function peopleCursor(sortKey: string, id: string): string {
  return Buffer.from(JSON.stringify({ s: 'displayName', d: false, k: sortKey, id })).toString('base64url');
}

/** The cursor of the person before the middle of the community in the default order, and the most common family name. */
export async function scenarioTargets(url: string, communityId: string): Promise<ScenarioTargets> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: counted } = await client.query<{ n: string }>('select count(*) as n from person where community_id = $1', [communityId]);
    const offset = Math.floor(Number(counted[0]?.n ?? 0) / 2);
    const { rows } = await client.query<{ k: string; id: string }>(
      `select display_name_key as k, id from person where community_id = $1 order by display_name_key, id offset $2 limit 1`,
      [communityId, Math.max(0, offset - 1)],
    );
    const at = rows[0];
    if (!at) throw new TypeError('The community has no people.');
    const { rows: families } = await client.query<{ family_name: string }>(
      `select family_name from person where community_id = $1 and family_name is not null
        group by family_name order by count(*) desc, family_name limit 1`,
      [communityId],
    );
    return {
      deepCursor: peopleCursor(at.k, at.id),
      deepOffset: offset,
      familyName: families[0]?.family_name ?? 'Marabini',
      department: 'Sales',
    };
  } finally {
    await client.end();
  }
}

/** The answer of one GraphQL request: its status, time, and the errors it listed. */
export interface GraphqlAnswer {
  status: number;
  ms: number;
  errors: string[];
  /** People on the page, when it had them. */
  people: number;
  json: unknown;
}

/** POSTs a GraphQL request body to `path` and reads the whole answer. */
export async function postGraphql(baseUrl: string, token: string, body: string, path = '/graphql'): Promise<GraphqlAnswer> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let json: { data?: { people?: { edges?: unknown[] } }; errors?: { message: string }[] } | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  return {
    status: response.status,
    ms,
    errors: json ? (json.errors ?? []).map((e) => e.message) : [text.slice(0, 200)],
    people: json?.data?.people?.edges?.length ?? 0,
    json,
  };
}
