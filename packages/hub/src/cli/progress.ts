/** Where progress is written: standard error, so that standard output stays the command's result. */
interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** How many items there are, when known: the bar, the percentage and the time left need it. */
  total?: number;
  /** With `--json` nothing is written: the output is for a program. */
  json?: boolean;
  stream?: ProgressStream;
  /** How often a line is written when the stream is not a terminal. */
  lineEveryMs?: number;
  now?: () => number;
}

/** The progress of one long CLI operation. */
export interface Progress {
  /** `n` more items are done. */
  advance(n: number): void;
  /** Writes the last state and ends the line. */
  done(): void;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 24;

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.ceil(seconds - minutes * 60)).padStart(2, '0')}s`;
}

/**
 * Shows how far a long operation is (directory rebuild, reconcile, audit
 * export): on a terminal a bar redrawn in place with the count, the rate and
 * the time left; otherwise one plain line every `lineEveryMs` and a last one
 * at the end, so that logs stay readable. Nothing with `--json`. Everything
 * goes to standard error.
 *
 * @example
 * const progress = startProgress('Projecting', { total: queued, json: flags.json });
 * for (;;) { const n = await projector.runOnce(); if (n === 0) break; progress.advance(n); }
 * progress.done();
 */
export function startProgress(label: string, options: ProgressOptions = {}): Progress {
  if (options.json) return { advance() {}, done() {} };
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const lineEveryMs = options.lineEveryMs ?? 5_000;
  const started = now();
  let count = 0;
  let written = started;
  let ended = false;

  const describe = () => {
    const elapsed = Math.max(now() - started, 1) / 1000;
    const rate = count / elapsed;
    const total = options.total;
    const parts = [total === undefined ? formatCount(count) : `${formatCount(count)}/${formatCount(total)}`];
    if (total !== undefined && total > 0) parts.push(`${Math.min(100, Math.floor((count / total) * 100))}%`);
    parts.push(`${formatCount(Math.round(rate))}/s`);
    if (total !== undefined && count < total && rate > 0) parts.push(`${formatSeconds((total - count) / rate)} left`);
    else parts.push(formatSeconds(elapsed));
    return parts.join('  ');
  };
  const bar = () => {
    const total = options.total;
    if (total === undefined || total <= 0) return '';
    const filled = Math.min(BAR_WIDTH, Math.round((count / total) * BAR_WIDTH));
    return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] `;
  };
  const draw = () => {
    if (tty) {
      const text = `${label} ${bar()}${describe()}`;
      const width = stream.columns ?? 120;
      // \r and "erase line" (ECMA-48 EL): the bar is redrawn in place.
      stream.write(`\r\u001b[2K${text.length > width ? text.slice(0, width - 1) : text}`);
    } else {
      stream.write(`${label}: ${describe()}\n`);
    }
    written = now();
  };

  if (tty) draw();
  return {
    advance(n) {
      if (ended) return;
      count += n;
      if (now() - written >= (tty ? REDRAW_MS : lineEveryMs)) draw();
    },
    done() {
      if (ended) return;
      ended = true;
      if (tty) {
        draw();
        stream.write('\n');
      } else {
        stream.write(`${label}: ${describe()} (done)\n`);
      }
    },
  };
}

/** One step of a multi-phase operation, as the replication engine's reconciliation reports it. */
interface PhaseStep {
  phase: string;
  kind?: string;
  done: number;
  total?: number;
}

/**
 * A {@link Progress} per phase (and kind) of an operation that reports
 * cumulative counts (`meridian target reconcile`: listing the target's Users,
 * comparing the hub's, …, fixing): a new line starts when the phase changes.
 * `label` names each phase. Call `done()` at the end.
 */
export function phasedProgress(label: (step: PhaseStep) => string, options: Omit<ProgressOptions, 'total'> = {}) {
  let current: { key: string; progress: Progress; done: number } | undefined;
  return {
    step(step: PhaseStep): void {
      const key = `${step.phase}/${step.kind ?? ''}`;
      if (current?.key !== key) {
        current?.progress.done();
        current = {
          key,
          progress: startProgress(label(step), { ...options, ...(step.total !== undefined ? { total: step.total } : {}) }),
          done: 0,
        };
      }
      current.progress.advance(step.done - current.done);
      current.done = step.done;
    },
    done(): void {
      current?.progress.done();
      current = undefined;
    },
  };
}
