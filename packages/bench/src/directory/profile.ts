import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureLoad } from './graphql-load.js';
import { type HubEnvironment, startHubProcess } from './hub-process.js';

/** Where the hub process's CPU went during a load run, per request. */
export interface HubProfile {
  requests: number;
  /** CPU ms per request by package or kind, largest first. */
  buckets: { name: string; ms: number }[];
  /** The hub's own functions (packages/*) with the most self time, ms per request. */
  functions: { name: string; ms: number }[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const lines = new Map<string, string[]>();

/** The compiled line a frame starts on, trimmed: it names the code better than its line number. */
async function sourceLine(url: string, line: number): Promise<string> {
  let file = lines.get(url);
  if (!file) {
    file = (await readFile(fileURLToPath(url), 'utf8').catch(() => '')).split('\n');
    lines.set(url, file);
  }
  return (file[line] ?? '').trim();
}

/** A stack frame's bucket: an npm package (without its version), a workspace package, Node's internals, or the VM's own work. */
function bucketOf(frame: ProfileNode['callFrame']): string | undefined {
  const name = frame.functionName;
  if (name === '(idle)' || name === '(root)') return undefined;
  if (name === '(garbage collector)') return 'garbage collection';
  if (frame.url === '') return name === '(program)' ? 'V8 (compiling, runtime)' : 'native code (socket writes, string and buffer work)';
  const npm = /node_modules\/\.pnpm\/((?:@[^+/]+\+)?[^@/]+)@/.exec(frame.url);
  if (npm?.[1]) return npm[1].replace('+', '/');
  const workspace = /\/packages\/([^/]+)\//.exec(frame.url);
  if (workspace?.[1]) return `@meridian/${workspace[1]}`;
  if (frame.url.startsWith('node:')) return 'Node internals';
  return frame.url;
}

/**
 * Runs the hub under `node --cpu-prof` with the same load as a throughput
 * round and attributes the CPU samples (self time) of the measured seconds to
 * packages, per request. The profiler adds its own overhead: compare rows.
 */
export async function profileHub(
  hub: HubEnvironment,
  databaseUrl: string,
  token: string,
  body: string,
  connections: number,
  seconds: number,
): Promise<HubProfile> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-bench-directory-profile-'));
  try {
    const profiled = { ...hub, env: { ...hub.env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` } };
    const server = await startHubProcess(profiled, 'api', databaseUrl);
    let requests = 0;
    let measured = 0;
    let loadEnded = 0;
    let stopped = 0;
    try {
      const result = await measureLoad(server, '/graphql', token, body, connections, seconds);
      loadEnded = performance.now();
      requests = result.requests;
      measured = result.seconds * 1000;
    } finally {
      await server.stop();
      stopped = performance.now();
    }
    const [file] = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('The hub wrote no CPU profile.');
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    // Only the samples of the measured load (the profile also covers start-up, the warm-up and shutdown):
    // the profile ends when the process exits, just before stop() returned.
    const windowEnd = profile.endTime - (stopped - loadEnded) * 1000;
    const windowStart = windowEnd - measured * 1000;
    const self = new Map<number, number>();
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      if (at > windowStart && at <= windowEnd) self.set(id, (self.get(id) ?? 0) + delta);
    });
    const buckets = new Map<string, number>();
    const functions = new Map<string, number>();
    for (const node of profile.nodes) {
      const us = self.get(node.id) ?? 0;
      const bucket = bucketOf(node.callFrame);
      if (!bucket || us === 0) continue;
      buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
      const own = /\/packages\/([^/]+)\/dist\/(.+)$/.exec(node.callFrame.url);
      if (own?.[1] && own[2]) {
        const code = (await sourceLine(node.callFrame.url, node.callFrame.lineNumber)).slice(0, 110);
        const key = `\`${code}\` (${node.callFrame.functionName || 'anonymous function'}, ${own[1]}/src/${own[2].replace(/\.js$/, '.ts')})`;
        functions.set(key, (functions.get(key) ?? 0) + us);
      }
    }
    const perRequest = (entries: Map<string, number>, top: number) =>
      [...entries]
        .map(([name, us]) => ({ name, ms: us / 1000 / Math.max(1, requests) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, top);
    return { requests, buckets: perRequest(buckets, 12), functions: perRequest(functions, 6) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
