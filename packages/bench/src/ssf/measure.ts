import { type Distribution, distribution } from '../replication/stats.js';
import type { Receipt } from './receiver-process.js';

/** What one system delivered in the measured phase, from its receivers' receipts. */
export interface Delivered {
  /** Receipts, duplicates included. */
  receipts: number;
  /** Distinct (receiver, jti or job) pairs: what was delivered. */
  unique: number;
  expected: number;
  /** Receipts of a (receiver, id) already received: at-least-once redeliveries. */
  duplicates: number;
  /** Receipts the bench could not map to a write it made (none expected). */
  unmatched: number;
  /** Receivers that got other than their share (changes each). */
  shortReceivers: number[];
  /** From the first write's start to the last receipt. */
  seconds: number;
  /** Unique deliveries per second over `seconds`. */
  perSecond: number;
  /** How long making the writes took (the producers' side). */
  productionSeconds: number;
  /** Commit → first receipt, per delivery, in ms: all receivers, push receivers, poll receivers. */
  latency: Distribution;
  push: Distribution;
  poll: Distribution;
}

/**
 * Counts the receipts of a phase: the first receipt of each (receiver, id) is
 * the delivery, its latency is from the commit `committedAt` gives for its key.
 */
export function tally(
  receipts: Receipt[],
  options: {
    receivers: number;
    changes: number;
    isPush: (receiver: number) => boolean;
    committedAt: (receiver: number, key: string) => number | undefined;
    startedAt: number;
    producedAt: number;
  },
): Delivered & { firsts: Receipt[] } {
  const seen = new Set<string>();
  const perReceiver = new Array<number>(options.receivers).fill(0);
  const all: number[] = [];
  const push: number[] = [];
  const poll: number[] = [];
  const firsts: Receipt[] = [];
  let duplicates = 0;
  let unmatched = 0;
  let last = options.startedAt;
  for (const receipt of receipts) {
    const [receiver, id, key, at] = receipt;
    const name = `${receiver}/${id}`;
    if (seen.has(name)) {
      duplicates++;
      continue;
    }
    seen.add(name);
    firsts.push(receipt);
    perReceiver[receiver] = (perReceiver[receiver] ?? 0) + 1;
    if (at > last) last = at;
    const committed = options.committedAt(receiver, key);
    if (committed === undefined) {
      unmatched++;
      continue;
    }
    all.push(at - committed);
    (options.isPush(receiver) ? push : poll).push(at - committed);
  }
  const seconds = (last - options.startedAt) / 1000;
  return {
    receipts: receipts.length,
    unique: seen.size,
    expected: options.changes * options.receivers,
    duplicates,
    unmatched,
    shortReceivers: perReceiver.flatMap((n, k) => (n === options.changes ? [] : [k])),
    seconds,
    perSecond: seen.size / seconds,
    productionSeconds: (options.producedAt - options.startedAt) / 1000,
    latency: distribution(all),
    push: distribution(push),
    poll: distribution(poll),
    firsts,
  };
}
