import { spliceSection } from '../bench-cli.js';
import type { CpuSpent } from '../replication/sampler.js';
import type { MachineInfo } from '../report.js';
import type { InboundResult } from './inbound.js';
import type { LdapBenchOptions } from './options.js';
import type { OutboundBaseline, OutboundHub } from './outbound.js';
import type { SlapdCounters } from './slapd.js';

/** Everything one run measured. */
export interface LdapReport {
  machine: MachineInfo;
  slapd: string;
  backend: string;
  options: LdapBenchOptions;
  outbound: { hub: OutboundHub; baseline: OutboundBaseline };
  inbound: InboundResult;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fixed = (n: number | undefined, digits = 2) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits));

/** The operations a phase sent, in all (`add 10,000, search 20,000`), and the connections it opened. */
function operations(counters: SlapdCounters): string {
  const list = Object.entries(counters.operations)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name} ${int(n)}`);
  return `${list.join(', ') || 'none'}; ${counters.connections} connection${counters.connections === 1 ? '' : 's'}`;
}

/** CPU per entry of a hub phase (ms): the hub process, its PostgreSQL, the rest of PostgreSQL, slapd, Redis. */
function cpuRow(label: string, cpu: CpuSpent, hubLabel: string, entries: number, apps: string[]): string {
  const per = (ms: number | undefined) => fixed(ms === undefined ? undefined : ms / entries);
  const own = apps.reduce((sum, app) => sum + (cpu.postgresByApp[app] ?? 0), 0);
  return `| ${label} | ${per(cpu.processes[hubLabel])} | ${per(own)} | ${per(cpu.bench)} | ${per(cpu.postgresAll - own)} | ${per(cpu.processes.slapd)} | ${per(cpu.redis)} | ${fixed(cpu.machine === undefined ? undefined : cpu.machine / 1000 / cpu.seconds)} (${fixed(cpu.otherCores)}) |`;
}

/** Renders the report as Markdown (the part of docs/benchmarks.md between the LDAP markers). */
export function renderLdapReport(report: LdapReport): string {
  const { machine, outbound, inbound, options } = report;
  const out = outbound.hub;
  const full = inbound.full;
  const inc = inbound.incremental;
  const ratio = (hub: number, base: number) => fixed(hub / base, 3);
  const lines = [
    `Run ${machine.date} at commit ${machine.revision}, on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB RAM; Node ${machine.node}; ${machine.postgres}; ${report.slapd}; BullMQ on ${report.backend}. Load average when the run started: ${machine.load.toFixed(2)}.`,
    '',
    `\`pnpm bench:ldap --users ${options.users}\` (target concurrency ${options.concurrency}, ${options.producers} creates in flight, ${options.warmup} warm-up users; ldapsearch: fastest of ${options.rounds}).`,
    '',
    '| direction | hub | entries | seconds | entries/s | baseline | seconds | entries/s | hub / baseline |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
    `| hub → LDAP | create → replication → entry at slapd | ${int(out.entries)} | ${fixed(out.seconds, 1)} | ${int(out.entriesPerSecond)} | \`ldapadd\` into an empty slapd | ${fixed(outbound.baseline.seconds, 1)} | ${int(outbound.baseline.entriesPerSecond)} | **${ratio(out.entriesPerSecond, outbound.baseline.entriesPerSecond)}** |`,
    `| LDAP → hub | full \`source sync\` into an empty tenant | ${int(full.hub.timing.read)} | ${fixed(full.hub.timing.ms / 1000, 1)} | ${int(full.hub.entriesPerSecond)} | paged \`ldapsearch\` | ${fixed(full.baseline.seconds, 2)} | ${int(full.baseline.entriesPerSecond)} | **${ratio(full.hub.entriesPerSecond, full.baseline.entriesPerSecond)}** |`,
    `| LDAP → hub | incremental sync, ${int(inc.changed)} entries changed | ${int(inc.hub.timing.read)} read | ${fixed(inc.hub.timing.ms / 1000, 2)} | ${int(inc.hub.entriesPerSecond)} | \`ldapsearch\` of its filter | ${fixed(inc.baseline.seconds, 2)} | ${int(inc.baseline.entriesPerSecond)} | **${ratio(inc.hub.entriesPerSecond, inc.baseline.entriesPerSecond)}** |`,
    '',
    `Hub → LDAP: the ${int(out.entries)} creates returned in ${fixed(out.productionSeconds, 1)} s (${int(out.entries / out.productionSeconds)}/s); a user's create → its entry at slapd: p50 ${int(out.latencyP50)} ms, max ${int(out.latencyMax)} ms.`,
    `Full sync: ${fixed(full.hub.timing.readMs / 1000, 1)} s reading and mapping the source (${int(full.hub.timing.read / (full.hub.timing.readMs / 1000))} entries/s, ${ratio(full.hub.timing.read / full.hub.timing.readMs, full.baseline.entries / (full.baseline.seconds * 1000))} of ldapsearch), ${fixed((full.hub.timing.ms - full.hub.timing.readMs) / 1000, 1)} s writing ${int(full.hub.timing.created)} creates through the ResourceService.`,
    `Incremental sync from \`modifyTimestamp>=${inc.cursor ?? '—'}\`: ${int(inc.hub.timing.read)} entries read (the ${int(inc.changed)} changed and those of the cursor's second, read again by design), ${int(inc.hub.timing.updated)} updated, in ${fixed(inc.hub.timing.ms / 1000, 2)} s (${fixed(inc.hub.timing.readMs / 1000, 2)} s reading).`,
    '',
    'CPU per entry (ms), and how busy the machine was (cores; others in parentheses):',
    '',
    '| phase | hub process | its PostgreSQL | bench process | other PostgreSQL | slapd | Redis | machine busy |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    cpuRow('hub → LDAP (worker; the bench process makes the creates)', out.cpu, 'worker', out.entries, ['bench-hub-worker', 'bench-ldap']),
    cpuRow('full sync (sync process)', full.hub.cpu, 'sync', full.hub.timing.read, ['bench-ldap-sync']),
    cpuRow('incremental sync (sync process)', inc.hub.cpu, 'sync', Math.max(1, inc.hub.timing.read), ['bench-ldap-sync']),
    '',
    `Baselines' CPU per entry (ms): ldapadd: slapd ${fixed((outbound.baseline.slapdCpuMs ?? Number.NaN) / outbound.baseline.entries)}, the tool ${fixed((outbound.baseline.toolCpuMs ?? Number.NaN) / outbound.baseline.entries)}; full ldapsearch: slapd ${fixed((full.baseline.slapdCpuMs ?? Number.NaN) / full.baseline.entries, 3)}, the tool ${fixed((full.baseline.toolCpuMs ?? Number.NaN) / full.baseline.entries, 3)}.`,
    '',
    'LDAP operations slapd completed in each phase (cn=Monitor), and the connections it accepted:',
    '',
    `- hub → LDAP: ${operations(out.slapd)}; ldapadd: ${operations(outbound.baseline.slapd)}`,
    `- full sync: ${operations(full.hub.slapd)}; ldapsearch: ${operations(full.baseline.slapd)}`,
    `- incremental sync: ${operations(inc.hub.slapd)}; ldapsearch: ${operations(inc.baseline.slapd)}`,
    '',
    `Peak resident memory (sampled every 100 ms): the worker ${int(out.rss.start)} → ${int(out.rss.peak)} MiB through the push; the sync process ${int(inbound.idleRss)} MiB idle, ${int(full.hub.rss.peak)} MiB peak in the full sync, ${int(inc.hub.rss.peak)} MiB in the incremental one.`,
  ];
  return lines.join('\n');
}

/** Puts the generated report between the LDAP markers of docs/benchmarks.md (appended with them when absent). */
export function spliceLdap(existing: string | undefined, generated: string): string {
  return spliceSection('ldap', 'pnpm bench:ldap --write', existing, generated);
}
