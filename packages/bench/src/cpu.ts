import { readdir, readFile } from 'node:fs/promises';

// Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ) on every common platform.
const TICK_MS = 10;

async function ticksOf(pid: number): Promise<{ comm: string; ticks: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    return { comm, ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds used so far by one process, or undefined off Linux. */
export async function processCpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const found = await ticksOf(pid);
  return found === undefined ? undefined : found.ticks * TICK_MS;
}

/** CPU milliseconds used so far by each PostgreSQL server process on this machine, by pid. */
export async function postgresCpuMs(): Promise<Map<number, number>> {
  const byPid = new Map<number, number>();
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return byPid;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const found = await ticksOf(Number(entry));
    if (found && (found.comm === 'postgres' || found.comm.startsWith('postgres:'))) byPid.set(Number(entry), found.ticks * TICK_MS);
  }
  return byPid;
}

/** CPU the PostgreSQL processes used between two snapshots (processes in both). */
export function postgresDelta(before: Map<number, number>, after: Map<number, number>): number | undefined {
  if (after.size === 0) return undefined;
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? ms);
  return total;
}

/** CPU milliseconds all cores of the machine have been busy so far (Linux), or undefined. */
export async function machineBusyMs(): Promise<number | undefined> {
  try {
    const stat = await readFile('/proc/stat', 'utf8');
    const fields = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    // idle and iowait are not busy.
    return (total - (fields[3] ?? 0) - (fields[4] ?? 0)) * TICK_MS;
  } catch {
    return undefined;
  }
}
