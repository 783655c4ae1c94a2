import { SCHEMA } from '@meridian/core';

/** One change the bench makes: user `user` created, or updated once. `seq` orders all changes of a run. */
export interface Change {
  seq: number;
  user: number;
  op: 'create' | 'update';
}

/**
 * `count` changes: the first half (rounded up) creates users `firstUser…`,
 * the second half updates the first of them once each, in the same order. A
 * user's update comes thousands of changes after its create, so in the burst
 * nothing forces the engine to coalesce; whatever it coalesces is reported.
 */
export function changeList(count: number, firstUser: number, firstSeq: number): Change[] {
  const creates = Math.ceil(count / 2);
  const changes: Change[] = [];
  for (let k = 0; k < creates; k++) changes.push({ seq: firstSeq + k, user: firstUser + k, op: 'create' });
  for (let k = 0; k < count - creates; k++) changes.push({ seq: firstSeq + creates + k, user: firstUser + k, op: 'update' });
  return changes;
}

/** The marker every change writes into `title`, so that a target's copy says which change it holds. */
const marker = (seq: number) => `bench-${seq}`;

/** The change a `title` marker stands for, or undefined. */
export function markerSeq(title: unknown): number | undefined {
  if (typeof title !== 'string' || !title.startsWith('bench-')) return undefined;
  const seq = Number(title.slice(6));
  return Number.isInteger(seq) ? seq : undefined;
}

function userName(run: string, user: number): string {
  return `repl-${run}-${user}@bench.example.org`;
}

/** The SCIM body of a create: name, displayName, a work email, the enterprise extension and the marker. */
export function createBody(run: string, change: Change): Record<string, unknown> {
  const name = userName(run, change.user);
  return {
    schemas: [SCHEMA.user, SCHEMA.enterpriseUser],
    userName: name,
    name: { givenName: 'Bench', familyName: `User${change.user}`, formatted: `Bench User${change.user}` },
    displayName: `Bench User${change.user}`,
    emails: [{ value: name, type: 'work', primary: true }],
    active: true,
    title: marker(change.seq),
    [SCHEMA.enterpriseUser]: { employeeNumber: `R${run}${change.user}`, department: 'Engineering' },
  };
}

/** The operations of an update: a new title (the marker) and a new displayName. */
function updateOperations(change: Change): { op: 'replace'; path: string; value: string }[] {
  return [
    { op: 'replace', path: 'title', value: marker(change.seq) },
    { op: 'replace', path: 'displayName', value: `Bench User${change.user} (updated)` },
  ];
}

export function patchBody(change: Change): Record<string, unknown> {
  return { schemas: [SCHEMA.patchOp], Operations: updateOperations(change) };
}

/** How the changes are made: as fast as `producers` concurrent writers go, or `rate` changes per second. */
export interface Pace {
  /** Changes per second; 0 for as fast as possible. */
  rate: number;
  /** Changes in flight at once. */
  producers: number;
}

/**
 * Makes the changes with `apply`, at the pace asked. A user's update waits
 * for its create. Resolves when every change committed; the first failure rejects.
 */
export async function produce(changes: Change[], pace: Pace, apply: (change: Change) => Promise<void>): Promise<void> {
  const created = new Map<number, Promise<void>>();
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let failure: unknown;
  for (const [k, change] of changes.entries()) {
    if (failure !== undefined) break;
    if (pace.rate > 0) {
      const due = started + (k * 1000) / pace.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    while (inFlight.size >= pace.producers) await Promise.race(inFlight);
    const before = change.op === 'update' ? created.get(change.user) : undefined;
    const work = (before ?? Promise.resolve()).then(() => apply(change));
    if (change.op === 'create') created.set(change.user, work);
    const tracked: Promise<void> = work.then(
      () => {
        inFlight.delete(tracked);
      },
      (error: unknown) => {
        inFlight.delete(tracked);
        failure ??= error;
      },
    );
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
}
