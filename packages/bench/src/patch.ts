import { percentile } from './load.js';

/** A group to PATCH. */
export interface PatchGroup {
  label: string;
  id: string;
  members: number;
}

/** Latencies of PATCH add / remove of one member on one group. */
export interface PatchResult {
  group: string;
  members: number;
  add: { p50: number; p95: number; ok: number };
  remove: { p50: number; p95: number; ok: number };
  /** Failed requests by `status: detail`, when the hub answered with an error. */
  errors: Record<string, number>;
}

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/**
 * Adds a user to each group and removes it again, `iterations` times, one
 * request at a time (latency, not throughput). The groups take turns, so that
 * both see the same conditions.
 */
export async function measurePatch(options: {
  baseUrl: string;
  token: string;
  groups: PatchGroup[];
  candidates: string[];
  iterations: number;
  warmup: number;
}): Promise<PatchResult[]> {
  const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/scim+json' };
  const send = async (groupId: string, errors: Record<string, number>, body: unknown): Promise<number | undefined> => {
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${options.baseUrl}/scim/v2/Groups/${groupId}`, { method: 'PATCH', headers, body: JSON.stringify(body) });
    } catch (error) {
      const key = `network: ${(error as Error).message}`;
      errors[key] = (errors[key] ?? 0) + 1;
      return undefined;
    }
    const text = await response.text();
    const elapsed = performance.now() - started;
    if (response.status >= 300) {
      let detail = text.slice(0, 160);
      try {
        detail = String((JSON.parse(text) as { detail?: unknown }).detail ?? detail);
      } catch {
        // Not JSON: keep the text.
      }
      const key = `${response.status}: ${detail}`;
      errors[key] = (errors[key] ?? 0) + 1;
      return undefined;
    }
    return elapsed;
  };
  const samples = options.groups.map(() => ({ adds: [] as number[], removes: [] as number[], errors: {} as Record<string, number> }));
  for (let i = 0; i < options.warmup + options.iterations; i++) {
    const member = options.candidates[i % options.candidates.length];
    for (const [g, group] of options.groups.entries()) {
      const sample = samples[g];
      if (!sample) continue;
      const add = await send(group.id, sample.errors, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'add', path: 'members', value: [{ value: member }] }],
      });
      const remove = await send(group.id, sample.errors, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'remove', path: `members[value eq "${member}"]` }],
      });
      if (i < options.warmup) continue;
      if (add !== undefined) sample.adds.push(add);
      if (remove !== undefined) sample.removes.push(remove);
    }
  }
  return options.groups.map((group, g) => {
    const sample = samples[g] ?? { adds: [], removes: [], errors: {} };
    sample.adds.sort((a, b) => a - b);
    sample.removes.sort((a, b) => a - b);
    return {
      group: group.label,
      members: group.members,
      add: { p50: percentile(sample.adds, 0.5), p95: percentile(sample.adds, 0.95), ok: sample.adds.length },
      remove: { p50: percentile(sample.removes, 0.5), p95: percentile(sample.removes, 0.95), ok: sample.removes.length },
      errors: sample.errors,
    };
  });
}
