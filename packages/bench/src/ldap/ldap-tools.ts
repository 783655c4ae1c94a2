import { spawn } from 'node:child_process';
import { processCpuMs } from '../cpu.js';

/** Where the OpenLDAP client tools connect and bind (the root DN, its password from a file). */
interface ToolTarget {
  url: string;
  bindDn: string;
  passwordFile: string;
}

/** What one run of a client tool did. */
export interface ToolRun {
  /** What it printed: the whole output, or '' when only counted. */
  stdout: string;
  /** Entries it printed (`dn:` lines). */
  entries: number;
  /** Wall-clock milliseconds from the spawn to its exit. */
  ms: number;
  /** Its own CPU milliseconds, as last read from /proc before it exited (at most 50 ms old). */
  cpuMs: number | undefined;
}

/**
 * Runs `ldapadd`, `ldapsearch` or `ldapmodify` against the bench slapd as its
 * root DN (simple bind, `-y`: the password never on a command line) and
 * resolves when it exits 0; `stdin` is fed to it (LDIF). With `count`, the
 * output is only counted as it streams (a search of 10,000 entries is not
 * kept in memory). Rejects with the tool's stderr otherwise.
 */
export async function ldapTool(
  target: ToolTarget,
  tool: 'ldapadd' | 'ldapsearch' | 'ldapmodify',
  args: string[],
  stdin?: string,
  options: { count?: boolean } = {},
): Promise<ToolRun> {
  const started = performance.now();
  const child = spawn(tool, ['-x', '-H', target.url, '-D', target.bindDn, '-y', target.passwordFile, ...args], {
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let entries = 0;
  // A `dn:` at the start of the output or of a line; a chunk may end inside one.
  let tail = '\n';
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    const scanned = tail + text;
    entries += scanned.match(/\ndn: /g)?.length ?? 0;
    tail = scanned.slice(-4);
    if (!options.count) stdout += text;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let cpuMs: number | undefined;
  const timer = setInterval(() => {
    void processCpuMs(child.pid).then((ms) => {
      if (ms !== undefined) cpuMs = ms;
    });
  }, 50);
  if (stdin !== undefined) child.stdin?.end(stdin);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => clearInterval(timer));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`${tool} ${args.slice(0, 6).join(' ')} exited with ${code}: ${stderr.trim()}`);
  return { stdout, entries, ms, cpuMs };
}
