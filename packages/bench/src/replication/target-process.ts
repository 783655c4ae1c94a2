// A child process of the replication bench holding the downstream SCIM targets, so
// that their CPU is measured apart from the hub worker's and the bench's own. The
// parent talks to it over the IPC channel (targets.ts).
import { BenchScimTarget } from './scim-target.js';

/** A request from the parent; every one is answered with `{ id, ... }`. */
export type TargetRequest =
  | { id: number; type: 'start'; count: number }
  | { id: number; type: 'reset' }
  | { id: number; type: 'expect'; finals: number[] }
  | { id: number; type: 'progress' }
  | { id: number; type: 'dump' }
  | { id: number; type: 'stop' };

let targets: BenchScimTarget[] = [];
/** Per target: the changes (seq) still awaited, i.e. each user's last change. */
let awaited: Set<number>[] = [];
/** Per target: how many of its acknowledgements `progress` has looked at. */
let checked: number[] = [];

function progress(): number[] {
  return targets.map((t, i) => {
    const open = awaited[i] as Set<number>;
    // Acknowledgements are appended in answer order: look at the new ones only.
    for (let k = checked[i] ?? 0; k < t.acks.length; k++) open.delete((t.acks[k] as { seq: number }).seq);
    checked[i] = t.acks.length;
    return open.size;
  });
}

async function answer(message: TargetRequest): Promise<Record<string, unknown>> {
  switch (message.type) {
    case 'start':
      targets = await Promise.all(Array.from({ length: message.count }, () => BenchScimTarget.start()));
      awaited = targets.map(() => new Set());
      checked = targets.map(() => 0);
      return { targets: targets.map((t) => ({ url: t.url, token: t.token })) };
    case 'reset':
      for (const t of targets) {
        t.acks = [];
        t.counts = {};
        t.arrivals = [];
      }
      awaited = targets.map(() => new Set());
      checked = targets.map(() => 0);
      return {};
    case 'expect':
      awaited = targets.map(() => new Set(message.finals));
      checked = targets.map(() => 0);
      return { open: progress() };
    case 'progress':
      return { open: progress() };
    case 'dump':
      return {
        targets: targets.map((t) => ({
          acks: t.acks.map((a) => [a.seq, a.at, a.method]),
          arrivals: t.arrivals.map((a) => [a.at, a.method, a.externalId]),
          counts: t.counts,
          users: t.size,
        })),
      };
    case 'stop':
      await Promise.all(targets.map((t) => t.close()));
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (message: TargetRequest) => {
  answer(message).then(
    (reply) => process.send?.({ id: message.id, ...reply }),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
