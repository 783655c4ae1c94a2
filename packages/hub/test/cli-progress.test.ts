import { describe, expect, it } from '@jest/globals';
import { phasedProgress, startProgress } from '../src/cli/progress.js';

// Progress of long CLI operations (issue 20): a bar redrawn in place on a terminal, plain periodic lines otherwise,
// nothing with --json; always on standard error. Time comes from a clock the test moves.

function stream(tty: boolean) {
  const writes: string[] = [];
  return { writes, isTTY: tty, columns: 100, write: (text: string) => void writes.push(text) };
}

function clock() {
  let t = 1_000_000;
  return {
    now: () => t,
    move: (ms: number) => {
      t += ms;
    },
  };
}

describe('startProgress', () => {
  it('redraws a bar with count, percentage, rate and time left on a terminal, and ends the line when done', () => {
    const out = stream(true);
    const time = clock();
    const progress = startProgress('Projecting coi', { total: 1000, stream: out, now: time.now });
    time.move(1000);
    progress.advance(250);
    expect(out.writes.at(-1)).toBe('\r\u001b[2KProjecting coi [######..................] 250/1,000  25%  250/s  3s left');
    time.move(10);
    progress.advance(10);
    // Not redrawn more often than every 100 ms.
    expect(out.writes.at(-1)).toContain('250/1,000');
    time.move(2000);
    progress.advance(740);
    progress.done();
    expect(out.writes.at(-2)).toBe('\r\u001b[2KProjecting coi [########################] 1,000/1,000  100%  332/s  4s');
    expect(out.writes.at(-1)).toBe('\n');
    expect(out.writes.every((w) => !w.includes('\n') || w === '\n')).toBe(true);
  });

  it('writes a plain line at most every interval when not on a terminal, and a last one', () => {
    const out = stream(false);
    const time = clock();
    const progress = startProgress('Exporting audit entries', { stream: out, now: time.now, lineEveryMs: 5000 });
    expect(out.writes).toEqual([]);
    for (let i = 0; i < 4; i++) {
      time.move(2000);
      progress.advance(100);
    }
    expect(out.writes).toEqual(['Exporting audit entries: 300  50/s  6s\n']);
    progress.done();
    expect(out.writes.at(-1)).toBe('Exporting audit entries: 400  50/s  8s (done)\n');
    expect(out.writes.some((w) => w.includes('\r') || w.includes('\u001b'))).toBe(false);
  });

  it('writes nothing with --json', () => {
    const out = stream(true);
    const progress = startProgress('Projecting coi', { total: 10, json: true, stream: out });
    progress.advance(10);
    progress.done();
    expect(out.writes).toEqual([]);
  });
});

describe('phasedProgress', () => {
  it('starts a line per phase and kind, advancing each by the cumulative counts it is told', () => {
    const out = stream(false);
    const time = clock();
    const progress = phasedProgress((step) => `${step.phase} ${step.kind ?? ''}`.trim(), { stream: out, now: time.now, lineEveryMs: 1000 });
    for (let done = 1; done <= 3; done++) {
      time.move(1000);
      progress.step({ phase: 'listing', kind: 'User', done });
    }
    time.move(1000);
    progress.step({ phase: 'fixing', done: 0, total: 2 });
    time.move(1000);
    progress.step({ phase: 'fixing', done: 2, total: 2 });
    progress.done();
    expect(out.writes).toEqual([
      'listing User: 2  2/s  1s\n',
      'listing User: 3  2/s  2s\n',
      'listing User: 3  1/s  3s (done)\n',
      'fixing: 2/2  100%  2/s  1s\n',
      'fixing: 2/2  100%  2/s  1s (done)\n',
    ]);
  });
});
