import type { InboundSource, SourceSyncResult } from '@meridian/core';
import type { Command } from 'commander';
import { CLI_PRINCIPAL, CliUsageError, cliContext, jsonOption, print, requireTenant, withRuntime } from './common.js';

// `meridian source …` (issue 18): directories a tenant keeps and the hub follows.

interface SourceFlags {
  json?: boolean;
  tenant: string;
  source?: string;
  name?: string;
  kind?: string;
  url?: string;
  bindDn?: string;
  bindPassword?: string;
  baseDn?: string;
  filter?: string;
  config?: string;
  deletionThreshold?: string;
  fullSyncInterval?: string;
  dryRun?: boolean;
  confirmDeletes?: boolean;
  full?: boolean;
}

/** A source as the CLI prints it: never a secret. */
function view(source: InboundSource) {
  return {
    id: source.id,
    name: source.name,
    kind: source.kind,
    config: source.config,
    secretNames: source.secretNames,
    deletionThresholdPercent: source.deletionThresholdPercent,
    fullSyncIntervalSeconds: source.fullSyncIntervalSeconds,
    cursor: source.cursor,
    lastSyncAt: source.lastSyncAt,
    lastFullSyncAt: source.lastFullSyncAt,
  };
}

function summary(result: SourceSyncResult): string {
  const counts = (action: string) => result.items.filter((i) => i.action === action).length;
  if (result.status === 'needs_confirmation') {
    return `Stopped: this sync would delete ${counts('delete')} accounts, more than the source's threshold. Nothing was written. Check the source's filter and base DN; run again with --confirm-deletes if the deletions are right.`;
  }
  if (result.dryRun) {
    const lines = result.items.map((i) => `${i.action}\t${i.userName ?? i.resourceId ?? ''}\t${i.location ?? i.remoteId}`);
    return [
      ...lines,
      `Would create ${counts('create')}, update ${counts('update')}, delete ${counts('delete')}; ${result.unchanged} unchanged.`,
    ].join('\n');
  }
  return `Created ${result.created}, updated ${result.updated}, deleted ${result.deleted}, ${result.unchanged} unchanged, ${result.failed.length} failed (${result.full ? 'full' : 'incremental'} sync of ${result.read} entries).`;
}

/** Progress on stderr while a sync runs (only on a terminal, never with --json). */
function progress(flags: SourceFlags): ((phase: 'read' | 'write', done: number, total: number | null) => void) | undefined {
  if (flags.json || !process.stderr.isTTY) return undefined;
  return (phase, done, total) => {
    const width = 30;
    const bar = total ? '#'.repeat(Math.round((done / Math.max(total, 1)) * width)).padEnd(width, '.') : '';
    process.stderr.write(`\r${phase === 'read' ? 'reading' : 'writing'} ${total ? `[${bar}] ${done}/${total}` : `${done} entries`}   `);
    if (total !== null && done === total) process.stderr.write('\n');
  };
}

export function registerSourceCommands(program: Command): void {
  const source = program.command('source').description("a tenant's inbound sources (an office's LDAP directory the hub follows)");

  requireTenant(source.command('create').description('add a source; prints its id'))
    .requiredOption('--kind <kind>', 'source kind: ldap')
    .requiredOption('--url <url>', 'ldap://host:389 or ldaps://host:636')
    .requiredOption('--bind-dn <dn>', 'the DN the hub binds as')
    .requiredOption('--bind-password <secret>', "the bind DN's password (stored encrypted, never printed)")
    .requiredOption('--base-dn <dn>', 'where the accounts are (the scope, with --filter)')
    .option('--filter <filter>', 'an LDAP filter the accounts must match, e.g. (departmentNumber=42)')
    .option('--name <name>', 'a name unique in the tenant (default: kind and host)')
    .option('--config <json>', 'more source config as a JSON object (startTls, caCertificate, mapping, objectClass, pageSize, ...)')
    .option('--deletion-threshold <percent>', 'stop a sync that would delete more than this share of the accounts (default 20)')
    .option('--full-sync-interval <seconds>', 'compare everything (finds deletions) at least this often (default 86400)')
    .addOption(jsonOption())
    .action(async (flags: SourceFlags & { kind: string; url: string }) =>
      withRuntime(async ({ sources }) => {
        let extra: Record<string, unknown> = {};
        if (flags.config !== undefined) {
          try {
            extra = JSON.parse(flags.config) as Record<string, unknown>;
          } catch {
            throw new CliUsageError('--config is a JSON object.');
          }
        }
        const number = (text: string | undefined, flag: string) => {
          if (text === undefined) return undefined;
          const value = Number(text);
          if (!Number.isFinite(value)) throw new CliUsageError(`${flag} is a number, not '${text}'.`);
          return value;
        };
        let host = 'source';
        try {
          host = new URL(flags.url).host.replace(/[^A-Za-z0-9._-]/g, '-');
        } catch {
          // The service names the bad URL.
        }
        const deletionThresholdPercent = number(flags.deletionThreshold, '--deletion-threshold');
        const fullSyncIntervalSeconds = number(flags.fullSyncInterval, '--full-sync-interval');
        const created = await sources.create(
          CLI_PRINCIPAL,
          flags.tenant,
          {
            name: flags.name ?? `${flags.kind}-${host}`.slice(0, 64),
            kind: flags.kind,
            config: {
              ...extra,
              url: flags.url,
              bindDn: flags.bindDn,
              baseDn: flags.baseDn,
              ...(flags.filter !== undefined ? { filter: flags.filter } : {}),
            },
            secrets: { bindPassword: flags.bindPassword as string },
            ...(deletionThresholdPercent !== undefined ? { deletionThresholdPercent } : {}),
            ...(fullSyncIntervalSeconds !== undefined ? { fullSyncIntervalSeconds } : {}),
          },
          cliContext(),
        );
        print(flags, view(created), `Created source ${created.name} (${created.id}).`);
      }),
    );

  requireTenant(source.command('list').description("list a tenant's sources"))
    .addOption(jsonOption())
    .action(async (flags: SourceFlags) =>
      withRuntime(async ({ sources }) => {
        const list = await sources.list(CLI_PRINCIPAL, flags.tenant);
        print(
          flags,
          list.map(view),
          list
            .map((s) => `${s.id}\t${s.name}\t${s.kind}\t${s.lastSyncAt ? `synced ${s.lastSyncAt.toISOString()}` : 'never synced'}`)
            .join('\n') || 'No sources.',
        );
      }),
    );

  requireTenant(
    source
      .command('sync')
      .description('import from a source: everything the first time and at the full-sync interval, else what changed since the last sync'),
  )
    .requiredOption('--source <source>', 'source id or name')
    .option('--dry-run', 'list the creates, updates and deletes per object; write nothing')
    .option('--confirm-deletes', "go ahead although the sync deletes more than the source's threshold")
    .option('--full', 'compare everything now (finds deletions)')
    .addOption(jsonOption())
    .action(async (flags: SourceFlags & { source: string }) =>
      withRuntime(async ({ sources }) => {
        const onProgress = progress(flags);
        const result = await sources.sync(CLI_PRINCIPAL, flags.tenant, flags.source, {
          dryRun: flags.dryRun === true,
          confirmDeletes: flags.confirmDeletes === true,
          full: flags.full === true,
          ...(onProgress ? { onProgress } : {}),
        });
        print(flags, result, summary(result));
        if (result.status === 'needs_confirmation' || result.failed.length > 0) process.exitCode = 2;
      }),
    );

  requireTenant(source.command('delete').description('remove a source and its links (the accounts it fed stay)'))
    .requiredOption('--source <source>', 'source id or name')
    .addOption(jsonOption())
    .action(async (flags: SourceFlags & { source: string }) =>
      withRuntime(async ({ sources }) => {
        const found = await sources.get(CLI_PRINCIPAL, flags.tenant, flags.source);
        await sources.delete(CLI_PRINCIPAL, flags.tenant, found.id, cliContext());
        print(flags, { deleted: found.id }, `Deleted source ${found.name}.`);
      }),
    );
}
