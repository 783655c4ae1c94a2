import { once } from 'node:events';
import { type AnchoredCheckpoints, type ChainVerification, chainLabel, PLATFORM_CHAIN } from '@meridian/core';
import type { Command } from 'commander';
import type { Runtime } from '../runtime/runtime.js';
import {
  CLI_PRINCIPAL,
  CliUsageError,
  cliContext,
  type JsonFlag,
  jsonOption,
  parseInstant,
  print,
  readJsonFile,
  withRuntime,
} from './common.js';
import { startProgress } from './progress.js';

/** The tenant slugs by id, to name chains in the audit commands' output. */
async function tenantSlugs(runtime: Runtime): Promise<Map<string, string>> {
  const slugs = new Map<string, string>();
  let after: string | undefined;
  for (;;) {
    const page = await runtime.admin.listTenants(CLI_PRINCIPAL, { first: 500, after });
    for (const t of page.items) slugs.set(t.id, t.slug);
    if (!page.hasNextPage || page.endCursor === null) return slugs;
    after = page.endCursor;
  }
}

/** `tenant emea`, `platform`, or `chain <id>`. */
function labelOf(chain: string, slugs: Map<string, string>): string {
  return chainLabel({ chain, tenantSlug: slugs.get(chain) ?? null });
}

/** The chain `--tenant` / `--platform` select; undefined for every chain when `required` is false. */
async function selectedChain(
  runtime: Runtime,
  flags: { tenant?: string; platform?: boolean },
  required: boolean,
): Promise<string | undefined> {
  if (flags.tenant !== undefined && flags.platform) throw new CliUsageError('Give --tenant <slug> or --platform, not both.');
  if (flags.platform) return PLATFORM_CHAIN;
  if (flags.tenant !== undefined) return runtime.audit.readableChain(CLI_PRINCIPAL, flags.tenant);
  if (required) throw new CliUsageError('Give --tenant <slug>, or --platform for the platform chain.');
  return undefined;
}

async function readAnchors(file: string): Promise<AnchoredCheckpoints> {
  const parsed = (await readJsonFile(file)) as { publicKey?: unknown; checkpoints?: unknown };
  if (typeof parsed.publicKey !== 'string' || !Array.isArray(parsed.checkpoints)) {
    throw new CliUsageError(`${file} is not the output of \`meridian audit checkpoints --json\` (publicKey and checkpoints).`);
  }
  const checkpoints = (parsed.checkpoints as Record<string, unknown>[]).map((c) => {
    if (
      typeof c.chain !== 'string' ||
      typeof c.seq !== 'number' ||
      typeof c.hash !== 'string' ||
      typeof c.createdAt !== 'string' ||
      typeof c.keyId !== 'string' ||
      typeof c.signature !== 'string'
    ) {
      throw new CliUsageError(`${file} has a checkpoint without chain, seq, hash, createdAt, keyId and signature.`);
    }
    return { chain: c.chain, seq: c.seq, hash: c.hash, createdAt: new Date(c.createdAt), keyId: c.keyId, signature: c.signature };
  });
  return { publicKey: parsed.publicKey, checkpoints };
}

function describeVerification(result: ChainVerification): string[] {
  const label = chainLabel(result);
  if (!result.ok) return result.breaks.map((b) => `${label}: ${b.message}`);
  const checkpoint = result.lastCheckpoint
    ? `, last checkpoint ${result.lastCheckpoint.seq} (key ${result.lastCheckpoint.keyId})`
    : ', no checkpoint';
  const anchor = result.anchor ? `, pruned up to ${result.anchor.seq}` : '';
  return [`${label}: ok (${result.entriesChecked} entries, last seq ${result.lastSeq ?? '-'}${checkpoint}${anchor})`];
}

/** `meridian audit …`: verify, checkpoint, checkpoints, export, prune (docs/audit.md). */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log (docs/audit.md)');

  audit
    .command('verify')
    .description('recompute the hash chains and check the signed checkpoints; exit 1 naming each break')
    .option('--tenant <tenant>', 'only this tenant (slug or id)')
    .option('--platform', 'only the platform chain')
    .option('--anchors <file>', 'checkpoints kept outside the hub (the output of `pnpm meridian audit checkpoints --json`)')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant?: string; platform?: boolean; anchors?: string }) =>
      withRuntime(async (runtime) => {
        const chain = await selectedChain(runtime, flags, false);
        const anchored = flags.anchors === undefined ? undefined : await readAnchors(flags.anchors);
        const results = await runtime.auditLog.verify({ chain, anchored });
        const ok = results.every((r) => r.ok);
        const broken = results.filter((r) => !r.ok).length;
        print(
          flags,
          { ok, chains: results },
          [
            ...results.flatMap(describeVerification),
            ok ? `${results.length} chain(s) verified: ok.` : `${broken} of ${results.length} chain(s) have breaks.`,
          ].join('\n'),
        );
        if (!ok) process.exitCode = 1;
      }),
    );

  audit
    .command('checkpoint')
    .description('sign a checkpoint at the head of every chain with new entries (the serving hub does this on a timer)')
    .option('--force', 'sign even when the entries since the last checkpoint do not verify')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { force?: boolean }) =>
      withRuntime(async (runtime) => {
        const outcomes = await runtime.auditLog.checkpoint({ everyEntries: 1, everyMs: 0, force: flags.force === true });
        const slugs = await tenantSlugs(runtime);
        const lines = outcomes.map((o) => {
          const label = labelOf(o.chain, slugs);
          if (o.status === 'created') return `${label}: checkpoint at ${o.seq}`;
          if (o.status === 'current') return `${label}: up to date at ${o.seq}`;
          return `${label}: refused at ${o.seq}: ${o.breaks.map((b) => b.message).join('; ')} (run meridian audit verify)`;
        });
        print(flags, outcomes, lines.join('\n') || 'No audit entries yet.');
        if (outcomes.some((o) => o.status === 'refused')) process.exitCode = 1;
      }),
    );

  audit
    .command('checkpoints')
    .description('print the signed checkpoints and the public key, to anchor them outside the hub')
    .option('--tenant <tenant>', 'only this tenant (slug or id)')
    .option('--platform', 'only the platform chain')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant?: string; platform?: boolean }) =>
      withRuntime(async (runtime) => {
        const chain = await selectedChain(runtime, flags, false);
        const [checkpoints, key, slugs] = await Promise.all([
          runtime.auditLog.checkpoints(chain),
          runtime.auditLog.publicKey(),
          tenantSlugs(runtime),
        ]);
        const exported = {
          algorithm: 'Ed25519',
          keyId: key?.keyId ?? null,
          publicKey: key?.pem ?? null,
          signedPayload: 'RFC 8785 canonical JSON of {chain, seq, hash, createdAt, keyId}; signature is base64',
          checkpoints: checkpoints.map((c) => ({
            chain: c.chain,
            tenant: slugs.get(c.chain) ?? null,
            seq: c.seq,
            hash: c.hash,
            createdAt: c.createdAt.toISOString(),
            keyId: c.keyId,
            signature: c.signature,
          })),
        };
        const lines = checkpoints.map((c) => `${labelOf(c.chain, slugs)}\t${c.seq}\t${c.createdAt.toISOString()}\t${c.keyId}\t${c.hash}`);
        print(
          flags,
          exported,
          [
            ...(lines.length > 0 ? lines : ['No checkpoints yet.']),
            '',
            key ? `Public key ${key.keyId}:\n${key.pem.trim()}` : 'No signing key yet.',
          ].join('\n'),
        );
      }),
    );

  audit
    .command('export')
    .description("write a chain's entries as NDJSON (one JSON object per line, oldest first) for a SIEM")
    .option('--tenant <tenant>', 'tenant slug or id')
    .option('--platform', 'the platform chain')
    .option('--since <instant>', 'entries created at or after this ISO 8601 date-time')
    .option('--until <instant>', 'entries created before this ISO 8601 date-time')
    .action(async (flags: { tenant?: string; platform?: boolean; since?: string; until?: string }) =>
      withRuntime(async (runtime) => {
        const since = parseInstant(flags.since, '--since');
        const until = parseInstant(flags.until, '--until');
        const chain = (await selectedChain(runtime, flags, true)) as string;
        // The entries go to standard output; how many so far, to standard error (a bar on a terminal).
        const progress = startProgress('Exporting audit entries');
        // Each line is the hashed fields plus `hash`: anyone can recompute SHA-256 over the canonical JSON without `hash`.
        for await (const e of runtime.auditLog.stream(chain, { since, until })) {
          const line = JSON.stringify({
            chain: e.chain,
            seq: e.seq,
            tenantId: e.tenantId,
            actorType: e.actorType,
            actorId: e.actorId,
            action: e.action,
            resourceType: e.resourceType,
            resourceId: e.resourceId,
            requestId: e.requestId,
            sourceAddress: e.sourceAddress,
            diff: e.diff,
            createdAt: e.createdAt.toISOString(),
            prevHash: e.prevHash,
            hash: e.hash,
          });
          if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
          progress.advance(1);
        }
        progress.done();
      }),
    );

  audit
    .command('prune')
    .description('delete entries older than the retention, up to a signed checkpoint that becomes the chain anchor')
    .option('--days <days>', 'retention in days (default: MERIDIAN_AUDIT_RETENTION_DAYS)', (v) => Number(v))
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { days?: number }) =>
      withRuntime(async (runtime, config) => {
        const days = flags.days ?? config.audit.retentionDays;
        if (days === undefined) {
          throw new CliUsageError('No retention: set MERIDIAN_AUDIT_RETENTION_DAYS or give --days; audit entries are kept forever.');
        }
        if (!Number.isInteger(days) || days < 1) throw new CliUsageError('--days must be a whole number of days, at least 1.');
        const before = new Date(Date.now() - days * 86_400_000);
        const outcomes = await runtime.auditLog.prune(before, cliContext());
        const slugs = await tenantSlugs(runtime);
        const lines = outcomes.map((o) => {
          const label = labelOf(o.chain, slugs);
          if (o.status === 'pruned') return `${label}: deleted ${o.deletedEntries} entries, anchored at checkpoint ${o.anchorSeq}`;
          if (o.status === 'kept') return `${label}: kept (no signed checkpoint older than ${before.toISOString()})`;
          return `${label}: refused: ${o.breaks.map((b) => b.message).join('; ')} (evidence is not pruned; run meridian audit verify)`;
        });
        print(flags, { before: before.toISOString(), chains: outcomes }, lines.join('\n') || 'No audit entries.');
        if (outcomes.some((o) => o.status === 'refused')) process.exitCode = 1;
      }),
    );
}
