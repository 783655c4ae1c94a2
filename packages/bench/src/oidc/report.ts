import { spliceSection } from '../bench-cli.js';
import type { MachineInfo } from '../report.js';
import type { CountResult } from './load.js';
import type { OidcBenchOptions } from './options.js';

/** The two endpoints, each measured at both providers. */
export interface EndpointResults {
  hub: CountResult;
  bare: CountResult;
}

/** Everything one run measured. */
export interface OidcReport {
  machine: MachineInfo;
  oidcProvider: string;
  options: OidcBenchOptions;
  token: EndpointResults;
  userinfo: EndpointResults;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '—');

function errors(result: CountResult): string {
  if (result.errors === 0) return '0';
  const failures = Object.entries(result.statuses).filter(([code]) => !code.startsWith('2'));
  return `**${result.errors}** (${failures.map(([code, n]) => `${code}×${n}`).join(', ') || 'connection errors'})`;
}

function row(label: string, results: EndpointResults): string {
  const { hub, bare } = results;
  return `| ${label} | ${int(hub.rps)} | ${ms(hub.p50)} | ${ms(hub.p99)} | ${int(bare.rps)} | ${ms(bare.p50)} | ${ms(bare.p99)} | **${(hub.rps / bare.rps).toFixed(3)}** | ${errors(hub)} / ${errors(bare)} |`;
}

/** Renders the report as Markdown (the part of docs/benchmarks.md between the OIDC markers). */
export function renderOidcReport(report: OidcReport): string {
  const { machine, options } = report;
  return [
    '## Single sign-on: token endpoint and userinfo, the hub against a bare oidc-provider',
    '',
    `Run ${machine.date} at commit ${machine.revision}, on ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB RAM; Node ${machine.node}; ${machine.postgres}; ${report.oidcProvider}. Load average when the run started: ${machine.load.toFixed(2)}.`,
    '',
    `\`pnpm bench:oidc --count ${options.count} --connections ${options.connections}\`: ${int(options.count)} requests to each endpoint of each provider, ${options.connections} at a time, after ${int(options.warmup)} unmeasured ones; the hub logs at \`${options.logLevel}\`.`,
    '',
    '| endpoint | hub req/s | hub p50 ms | hub p99 ms | bare req/s | bare p50 ms | bare p99 ms | hub / bare | errors (hub / bare) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    row('token (`client_credentials`, `client_secret_basic`)', report.token),
    row('userinfo (`GET /me`, bearer access token)', report.userinfo),
  ].join('\n');
}

/** Puts the generated report between the OIDC markers of docs/benchmarks.md (appended with them when absent). */
export function spliceOidc(existing: string | undefined, generated: string): string {
  return spliceSection('oidc', 'pnpm bench:oidc --write', existing, generated);
}
