import { type AuditBreak, type AuditBreakKind, describeAuditBreak } from '@meridian/core';
import { type AuditHashInput, GENESIS_HASH, hashAuditEntry } from './audit-hash.js';

export type { AuditHashInput };

/** An audit row as read for verification: the hashed fields (with the stored seq) and the stored hash. */
export interface StoredAuditRow extends AuditHashInput {
  hash: string;
}

/** Where a chain starts: the genesis (seq 0, 64 zeros) or a prune anchor (a signed checkpoint). */
export interface ChainStart {
  seq: number;
  hash: string;
}

/** A checkpoint whose signature has been verified. */
export interface TrustedCheckpoint {
  seq: number;
  hash: string;
}

/** Options of {@link verifyAuditChain}. */
export interface VerifyAuditChainOptions {
  /** A prune anchor; the genesis when omitted. */
  start?: ChainStart | undefined;
  /** Signature-verified checkpoints after the start. */
  checkpoints?: readonly TrustedCheckpoint[] | undefined;
  /** How many rows ahead and behind the verifier looks to tell a move from a deletion. */
  window?: number | undefined;
  /** How far from its stored seq the verifier searches for the seq an entry was hashed with. */
  searchRadius?: number | undefined;
  /** The most hashes spent on that search in one chain. */
  searchBudget?: number | undefined;
}

/** What {@link verifyAuditChain} found. */
export interface ChainWalk {
  /** Rows read. */
  entriesChecked: number;
  /** The seq (as written) of the last entry that belongs to the chain; null when none does. */
  lastSeq: number | null;
  /** In seq order; adjacent breaks of one kind are merged (`entries 12-13 deleted`). */
  breaks: AuditBreak[];
  /** True when an `audit.pruned` entry names the start anchor (always true from the genesis). */
  startRecorded: boolean;
}

/** The genesis start. */
export const GENESIS_START: ChainStart = { seq: 0, hash: GENESIS_HASH };

interface Node {
  row: StoredAuditRow;
  /** Position in stored (seq) order. */
  pos: number;
  /** The seq the stored hash recomputes with; null when none was found; undefined before the first try. */
  orig: number | null | undefined;
  tried: Set<number>;
  searched: boolean;
  resolving: boolean;
  state: 'pending' | 'consumed' | 'dropped';
  /** The position in the chain as written, once consumed. */
  walkSeq: number;
}

interface RawBreak {
  kind: AuditBreakKind;
  fromSeq: number;
  toSeq: number;
  detail?: string | undefined;
}

/** Genuine entries whose stored seq differs from the seq they were written with, or that came out of stored order. */
interface Run {
  fromSeq: number;
  toSeq: number;
  minWalk: number;
  maxWalk: number;
  inversion: boolean;
  moved: [stored: number, written: number][];
}

const MAX_DEPTH = 8;
const MERGEABLE: ReadonlySet<AuditBreakKind> = new Set(['modified', 'deleted', 'inserted']);
const KIND_ORDER: readonly AuditBreakKind[] = [
  'deleted',
  'modified',
  'inserted',
  'reordered',
  'renumbered',
  'truncated',
  'forged_checkpoint',
];

function hashInput(row: StoredAuditRow, seq: number): AuditHashInput {
  return {
    chain: row.chain,
    seq,
    tenantId: row.tenantId,
    actorType: row.actorType,
    actorId: row.actorId,
    action: row.action,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    requestId: row.requestId,
    sourceAddress: row.sourceAddress,
    diff: row.diff,
    createdAt: row.createdAt,
    prevHash: row.prevHash,
  };
}

function anchorSeqOf(diff: unknown): number | undefined {
  const after = (diff as { after?: { anchorSeq?: unknown } } | null)?.after;
  return typeof after?.anchorSeq === 'number' ? after.anchorSeq : undefined;
}

/**
 * Walks one chain in stored seq order, recomputing every hash and following
 * the `prev_hash` links, and names each break: modified, deleted, inserted,
 * reordered or renumbered entries, and a chain that ends before (or no longer
 * matches) a signed checkpoint. It does not stop at the first break: it
 * resynchronises on the next entry that chains to a known hash.
 *
 * Rows are read once, in order, keeping a window of them in memory: entries
 * moved further than the window are reported as deleted where they were and
 * inserted where they are.
 */
export async function verifyAuditChain(
  rows: AsyncIterable<StoredAuditRow> | Iterable<StoredAuditRow>,
  options: VerifyAuditChainOptions = {},
): Promise<ChainWalk> {
  const iterator =
    Symbol.asyncIterator in rows
      ? (rows as AsyncIterable<StoredAuditRow>)[Symbol.asyncIterator]()
      : (rows as Iterable<StoredAuditRow>)[Symbol.iterator]();
  const walker = new ChainWalker(iterator, options);
  return walker.walk();
}

class ChainWalker {
  private readonly window: number;
  private readonly radius: number;
  private budget: number;
  private readonly start: ChainStart;
  private readonly checkpoints: readonly TrustedCheckpoint[];
  private readonly matched = new Set<TrustedCheckpoint>();
  private readonly checkpointsByHash = new Map<string, TrustedCheckpoint[]>();

  private buffer: Node[] = [];
  private bufferStart = 0;
  private headIndex = 0;
  private readonly byHash = new Map<string, Node>();
  private readonly byPrev = new Map<string, Node[]>();
  private nextPos = 0;
  private done = false;

  private cur: { seq: number; hash: string; node: Node | undefined; rehashReported: boolean };
  private maxConsumedPos = -1;
  private readonly breaks: RawBreak[] = [];
  private readonly deleted: [number, number][] = [];
  private run: Run | undefined;
  private startRecorded: boolean;

  constructor(
    private readonly iterator: AsyncIterator<StoredAuditRow> | Iterator<StoredAuditRow>,
    options: VerifyAuditChainOptions,
  ) {
    this.window = Math.max(8, options.window ?? 1024);
    this.radius = Math.max(0, options.searchRadius ?? 16);
    this.budget = Math.max(0, options.searchBudget ?? 4096);
    this.start = options.start ?? GENESIS_START;
    this.startRecorded = options.start === undefined || options.start.seq === 0;
    this.checkpoints = [...(options.checkpoints ?? [])].filter((c) => c.seq > this.start.seq).sort((a, b) => a.seq - b.seq);
    for (const checkpoint of this.checkpoints) {
      const list = this.checkpointsByHash.get(checkpoint.hash) ?? [];
      list.push(checkpoint);
      this.checkpointsByHash.set(checkpoint.hash, list);
    }
    this.cur = { seq: this.start.seq, hash: this.start.hash, node: undefined, rehashReported: false };
  }

  async walk(): Promise<ChainWalk> {
    for (;;) {
      await this.fill();
      const head = this.head();
      if (!head) break;
      if (head.pos < this.maxConsumedPos - this.window) this.classifyStale(head);
      else this.step(head);
      this.compact();
    }
    this.closeRun();
    this.checkCheckpoints();
    return {
      entriesChecked: this.nextPos,
      lastSeq: this.cur.node ? this.cur.seq : null,
      breaks: mergeBreaks(this.breaks),
      startRecorded: this.startRecorded,
    };
  }

  // ---- reading -------------------------------------------------------------

  private async fill(): Promise<void> {
    while (!this.done && this.nextPos <= Math.max(this.maxConsumedPos, this.head()?.pos ?? -1) + this.window) {
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        return;
      }
      const node: Node = {
        row: next.value,
        pos: this.nextPos++,
        orig: undefined,
        tried: new Set(),
        searched: false,
        resolving: false,
        state: 'pending',
        walkSeq: 0,
      };
      this.buffer.push(node);
      if (!this.byHash.has(node.row.hash)) this.byHash.set(node.row.hash, node);
      const siblings = this.byPrev.get(node.row.prevHash);
      if (siblings) siblings.push(node);
      else this.byPrev.set(node.row.prevHash, [node]);
    }
  }

  /** The first pending row in stored order (rows never become pending again, so the index only moves on). */
  private head(): Node | undefined {
    this.headIndex = Math.max(this.headIndex, this.bufferStart);
    while (this.headIndex < this.buffer.length && this.buffer[this.headIndex]?.state !== 'pending') this.headIndex++;
    return this.buffer[this.headIndex];
  }

  /** Forgets rows that are far behind: they can no longer be the target of a link the walk follows. */
  private compact(): void {
    const horizon = this.maxConsumedPos - 2 * this.window;
    while (this.bufferStart < this.buffer.length) {
      const node = this.buffer[this.bufferStart];
      if (!node || node.state === 'pending' || node.pos >= horizon) break;
      if (this.byHash.get(node.row.hash) === node) this.byHash.delete(node.row.hash);
      const siblings = this.byPrev.get(node.row.prevHash)?.filter((n) => n !== node);
      if (siblings?.length) this.byPrev.set(node.row.prevHash, siblings);
      else this.byPrev.delete(node.row.prevHash);
      this.bufferStart++;
    }
    if (this.bufferStart > 4 * this.window) {
      this.buffer = this.buffer.slice(this.bufferStart);
      this.headIndex -= this.bufferStart;
      this.bufferStart = 0;
    }
  }

  private pendingKids(hash: string): Node[] {
    return (this.byPrev.get(hash) ?? []).filter((n) => n.state === 'pending');
  }

  // ---- which seq was an entry hashed with ----------------------------------

  private tryHash(node: Node, seq: number): boolean {
    if (seq < 1 || node.tried.has(seq)) return false;
    node.tried.add(seq);
    if (hashAuditEntry(hashInput(node.row, seq)) !== node.row.hash) return false;
    node.orig = seq;
    return true;
  }

  /**
   * The seq whose hash matches the stored one: the stored seq, or the seq
   * after the entry its `prev_hash` names, or the seq before the entry that
   * names it; with `search`, any seq within the search radius.
   */
  private resolve(node: Node, depth = 0, search = false): number | null {
    if (typeof node.orig === 'number') return node.orig;
    if (node.resolving) return null;
    node.resolving = true;
    try {
      const candidates = [node.row.seq];
      const prev = this.byHash.get(node.row.prevHash);
      if (prev && prev !== node) {
        const p = prev.state === 'consumed' ? prev.walkSeq : depth < MAX_DEPTH ? this.resolve(prev, depth + 1) : null;
        if (p !== null) candidates.push(p + 1);
      }
      if (node.row.prevHash === GENESIS_HASH) candidates.push(1);
      if (node.row.prevHash === this.start.hash) candidates.push(this.start.seq + 1);
      for (const candidate of candidates) if (this.tryHash(node, candidate)) return candidate;
      if (depth < MAX_DEPTH) {
        for (const kid of this.byPrev.get(node.row.hash) ?? []) {
          if (kid === node) continue;
          const k = this.resolve(kid, depth + 1);
          if (k !== null && this.tryHash(node, k - 1)) return k - 1;
        }
      }
      if (search && !node.searched) {
        node.searched = true;
        for (let d = 1; d <= this.radius && this.budget > 0; d++) {
          for (const candidate of [node.row.seq - d, node.row.seq + d]) {
            this.budget--;
            if (this.tryHash(node, candidate)) return candidate;
          }
        }
      }
      node.orig = null;
      return null;
    } finally {
      node.resolving = false;
    }
  }

  // ---- the walk ------------------------------------------------------------

  private step(head: Node): void {
    const expected = this.cur.seq + 1;
    const kids = this.pendingKids(this.cur.hash);

    // The next entry links to the current one and its hash recomputes: the chain goes on.
    const linked = kids.filter((k) => this.resolve(k) !== null);
    if (linked.length > 0) {
      const pick = this.choose(linked, expected);
      this.consume(pick, pick.orig as number);
      return;
    }

    // It links, but its content no longer matches its hash.
    const [changed] = kids.includes(head) ? [head] : kids;
    if (changed) {
      this.report('modified', changed.row.seq, changed.row.seq);
      this.consume(changed, expected);
      return;
    }

    // An intact entry written as the next one points elsewhere: the current entry was rewritten and rehashed.
    const claimant = this.resolve(head) === expected ? head : this.findPending((n) => this.resolve(n) === expected);
    if (claimant) {
      this.reportRehashed(claimant);
      this.consume(claimant, expected);
      return;
    }

    const orig = this.resolve(head, 0, true);
    if (orig !== null && orig > expected) {
      // Intact, written further on, and nothing in between links: what was in between is gone.
      this.report('deleted', expected, orig - 1);
      this.deleted.push([expected, orig - 1]);
      this.consume(head, orig);
      return;
    }
    if (orig !== null) {
      this.drop(head, 'inserted', this.insertedDetail(head, orig));
      return;
    }

    // Its hash does not recompute and it does not link here; if a later entry links to it, it is a changed entry.
    const successor = this.pendingKids(head.row.hash).find((k) => k !== head);
    if (successor) {
      const s = this.resolve(successor);
      const walkSeq = s !== null && s - 1 > expected ? s - 1 : expected;
      if (walkSeq > expected) {
        this.report('deleted', expected, walkSeq - 1);
        this.deleted.push([expected, walkSeq - 1]);
      }
      this.report('modified', head.row.seq, head.row.seq);
      this.consume(head, walkSeq);
      return;
    }
    this.drop(head, 'inserted');
  }

  /** Of several entries that link to the current one, the one written as the next, and among those one the chain continues from. */
  private choose(linked: Node[], expected: number): Node {
    const exact = linked.filter((k) => k.orig === expected);
    const pool = exact.length > 0 ? exact : linked;
    const continuing = pool.find((k) => this.pendingKids(k.row.hash).some((c) => c !== k));
    return continuing ?? (pool[0] as Node);
  }

  private findPending(test: (node: Node) => boolean): Node | undefined {
    for (let i = this.headIndex; i < this.buffer.length; i++) {
      const node = this.buffer[i];
      if (node?.state === 'pending' && test(node)) return node;
    }
    return undefined;
  }

  private reportRehashed(claimant: Node): void {
    if (this.cur.node) {
      if (!this.cur.rehashReported) {
        const seq = this.cur.node.row.seq;
        this.report('modified', seq, seq, `its hash was recomputed; entry ${claimant.row.seq} still points to the original`);
      }
      return;
    }
    const detail = this.start.seq === 0 ? 'it does not start the chain' : `it does not chain to the anchor at ${this.start.seq}`;
    this.report('modified', claimant.row.seq, claimant.row.seq, detail);
  }

  private classifyStale(head: Node): void {
    const orig = this.resolve(head, 0, true);
    this.drop(head, 'inserted', orig === null ? undefined : this.insertedDetail(head, orig));
  }

  /** Why an intact-looking entry that the chain does not pass through is called inserted. */
  private insertedDetail(node: Node, orig: number): string | undefined {
    const twin = this.byHash.get(node.row.hash);
    if (twin && twin !== node && twin.state === 'consumed') return `a copy of entry ${twin.row.seq}`;
    return orig === node.row.seq ? undefined : `it was written as entry ${orig}`;
  }

  private consume(node: Node, walkSeq: number): void {
    node.state = 'consumed';
    node.walkSeq = walkSeq;
    this.trackOrder(node, walkSeq);
    for (const checkpoint of this.checkpointsByHash.get(node.row.hash) ?? []) this.matched.add(checkpoint);
    if (node.row.action === 'audit.pruned' && anchorSeqOf(node.row.diff) === this.start.seq) this.startRecorded = true;
    this.cur = { seq: walkSeq, hash: node.row.hash, node, rehashReported: false };
  }

  private drop(node: Node, kind: AuditBreakKind, detail?: string): void {
    node.state = 'dropped';
    this.report(kind, node.row.seq, node.row.seq, detail);
  }

  private report(kind: AuditBreakKind, fromSeq: number, toSeq: number, detail?: string): void {
    if (kind === 'modified' && this.cur.node && fromSeq === this.cur.node.row.seq) this.cur.rehashReported = true;
    this.breaks.push({ kind, fromSeq, toSeq, detail });
  }

  // ---- order ---------------------------------------------------------------

  private trackOrder(node: Node, walkSeq: number): void {
    const stored = node.row.seq;
    const inversion = node.pos < this.maxConsumedPos;
    this.maxConsumedPos = Math.max(this.maxConsumedPos, node.pos);
    const skippedBelow = (this.head()?.pos ?? Number.POSITIVE_INFINITY) < this.maxConsumedPos;
    if (stored === walkSeq && !inversion && !(this.run && skippedBelow)) {
      this.closeRun();
      return;
    }
    this.run ??= { fromSeq: stored, toSeq: stored, minWalk: walkSeq, maxWalk: walkSeq, inversion: false, moved: [] };
    const run = this.run;
    run.fromSeq = Math.min(run.fromSeq, stored);
    run.toSeq = Math.max(run.toSeq, stored);
    run.minWalk = Math.min(run.minWalk, walkSeq);
    run.maxWalk = Math.max(run.maxWalk, walkSeq);
    run.inversion ||= inversion;
    if (stored !== walkSeq) run.moved.push([stored, walkSeq]);
  }

  private closeRun(): void {
    const run = this.run;
    this.run = undefined;
    if (!run || run.moved.length === 0) return;
    if (run.inversion) {
      const moved = [...run.moved].sort((a, b) => a[0] - b[0]);
      const shown = moved
        .slice(0, 4)
        .map(([stored, written], i) => (i === 0 ? `entry ${stored} was written as ${written}` : `${stored} as ${written}`));
      this.breaks.push({
        kind: 'reordered',
        fromSeq: run.fromSeq,
        toSeq: run.toSeq,
        detail: `${shown.join(', ')}${moved.length > 4 ? ', …' : ''}`,
      });
      return;
    }
    const written = run.minWalk === run.maxWalk ? `${run.minWalk}` : `${run.minWalk}-${run.maxWalk}`;
    this.breaks.push({ kind: 'renumbered', fromSeq: run.fromSeq, toSeq: run.toSeq, detail: `written as ${written}` });
  }

  // ---- checkpoints ---------------------------------------------------------

  private checkCheckpoints(): void {
    const last = this.cur.node ? this.cur.seq : this.start.seq;
    let tailReported = false;
    for (const checkpoint of [...this.checkpoints].reverse()) {
      if (this.matched.has(checkpoint)) continue;
      if (checkpoint.seq > last) {
        if (tailReported) continue;
        tailReported = true;
        const end = this.cur.node
          ? `the chain ends at ${last}`
          : this.start.seq === 0
            ? 'the chain is empty'
            : `the chain ends at the anchor (${this.start.seq})`;
        this.breaks.push({
          kind: 'truncated',
          fromSeq: last + 1,
          toSeq: checkpoint.seq,
          detail: `tail deleted: checkpoint at ${checkpoint.seq} but ${end}`,
        });
        continue;
      }
      if (this.deleted.some(([from, to]) => checkpoint.seq >= from && checkpoint.seq <= to)) continue;
      this.breaks.push({
        kind: 'truncated',
        fromSeq: checkpoint.seq,
        toSeq: checkpoint.seq,
        detail: `checkpoint at ${checkpoint.seq} does not match entry ${checkpoint.seq}: the chain up to it was rewritten`,
      });
    }
  }
}

/** Sorts breaks by seq and merges adjacent ones of the same kind (`entries 12-13 deleted`). */
function mergeBreaks(raw: RawBreak[]): AuditBreak[] {
  const sorted = [...raw].sort((a, b) => a.fromSeq - b.fromSeq || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  const merged: RawBreak[] = [];
  for (const next of sorted) {
    const prev = merged[merged.length - 1];
    if (
      prev &&
      prev.kind === next.kind &&
      MERGEABLE.has(next.kind) &&
      prev.detail === undefined &&
      next.detail === undefined &&
      next.fromSeq <= prev.toSeq + 1
    ) {
      prev.toSeq = Math.max(prev.toSeq, next.toSeq);
      continue;
    }
    merged.push({ ...next });
  }
  return merged.map((b) => ({
    kind: b.kind,
    fromSeq: b.fromSeq,
    toSeq: b.toSeq,
    message: describeAuditBreak(b.kind, b.fromSeq, b.toSeq, b.detail),
  }));
}
