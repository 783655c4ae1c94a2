import { readFile } from 'node:fs/promises';

/** Resident memory of a process through a phase, in MiB. */
export interface RssSample {
  /** When the phase began. */
  start: number;
  /** The largest reading during the phase. */
  peak: number;
}

async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Reads a process's resident set (VmRSS in /proc/<pid>/status, Linux) every
 * 100 ms: the peak of a phase, sampled. VmHWM would give the exact peak, but
 * of the process's whole life, not of one phase.
 */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private start = Number.NaN;
  private peak = Number.NaN;

  constructor(private readonly pid: number | undefined) {}

  private async read(): Promise<void> {
    if (this.pid === undefined) return;
    const mib = await rssMiB(this.pid);
    if (mib === undefined) return;
    if (Number.isNaN(this.start)) this.start = mib;
    if (!(mib <= this.peak)) this.peak = mib;
  }

  async begin(): Promise<void> {
    await this.read();
    this.timer = setInterval(() => void this.read(), 100);
  }

  async end(): Promise<RssSample> {
    if (this.timer) clearInterval(this.timer);
    await this.read();
    return { start: this.start, peak: this.peak };
  }
}
