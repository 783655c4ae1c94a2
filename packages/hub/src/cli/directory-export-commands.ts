import { type DirectoryExport, type DirectoryExportCounts, MeridianError } from '@meridian/core';
import type { Command } from 'commander';
import type { Runtime } from '../runtime/runtime.js';
import { CLI_PRINCIPAL, CliUsageError, cliContext, print, withRuntime } from './common.js';
import { type CommunityFlags, collect, inCommunity, naming, table } from './directory-views.js';

function exportView(e: DirectoryExport, counts?: DirectoryExportCounts) {
  return {
    id: e.id,
    name: e.name,
    kind: e.kind,
    config: e.config,
    secretNames: e.secretNames,
    enabled: e.enabled,
    counts: { pending: counts?.pending ?? 0, synced: counts?.synced ?? 0, deleted: counts?.deleted ?? 0, failed: counts?.failed ?? 0 },
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function exportsOf(runtime: Runtime) {
  const exports = runtime.replication.directoryExports;
  if (!exports) throw new MeridianError('UNAVAILABLE', 'Directory exports are not available in this process.');
  return exports;
}

function exportInput(flags: { name: string; kind: string; url?: string; token?: string; config?: string; secret?: string[] }): {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
} {
  let config: Record<string, unknown> = {};
  if (flags.config !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.config);
    } catch {
      throw new CliUsageError('--config is a JSON object.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliUsageError('--config is a JSON object.');
    config = parsed as Record<string, unknown>;
  }
  if (flags.url !== undefined) config = { ...config, baseUrl: flags.url };
  const secrets: Record<string, string> = {};
  for (const pair of flags.secret ?? []) {
    const at = pair.indexOf('=');
    // The value is never echoed: it is a secret even when the pair is malformed.
    if (at < 1) throw new CliUsageError('--secret is <name>=<value>, e.g. token=….');
    secrets[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (flags.token !== undefined) secrets.token = flags.token;
  return { name: flags.name, kind: flags.kind, config, secrets };
}

/** `meridian directory export …`: push a community's directory to external directories (ADR 0015). */
export function registerDirectoryExportCommands(directory: Command): void {
  const exportCommand = directory.command('export').description("push the community's directory to an external directory");

  inCommunity(
    exportCommand
      .command('create')
      .description('add an export; every person goes out once, then each change (the serving hub pushes)')
      .requiredOption('--name <name>', 'a name unique in the community')
      .requiredOption('--kind <kind>', 'connector kind: scim, memory')
      .option('--url <url>', 'base URL (config.baseUrl; the SCIM base URL for --kind scim)')
      .option('--token <token>', 'bearer token (the secret token; stored encrypted)')
      .option('--config <json>', 'connector config as a JSON object')
      .option('--secret <name=value>', 'a secret of the connector (repeatable; stored encrypted)', collect),
  ).action(
    async (flags: CommunityFlags & { name: string; kind: string; url?: string; token?: string; config?: string; secret?: string[] }) =>
      withRuntime((runtime) =>
        naming(
          {
            name: '--name',
            kind: '--kind',
            'config.baseUrl': '--url',
            config: '--config',
            'secrets.token': '--token',
            secrets: '--secret',
          },
          async () => {
            const exports = exportsOf(runtime);
            const created = await exports.create(CLI_PRINCIPAL, flags.community, exportInput(flags), cliContext());
            const { counts } = await exports.list(CLI_PRINCIPAL, created.communityId);
            const view = exportView(
              created,
              counts.find((c) => c.exportId === created.id),
            );
            print(flags, view, `Created export ${created.name} (${created.id}); every person is queued for it.`);
          },
        ),
      ),
  );

  inCommunity(exportCommand.command('list').description('the exports and where the people stand at each')).action(
    async (flags: CommunityFlags) =>
      withRuntime((runtime) =>
        naming({}, async () => {
          const { exports, counts } = await exportsOf(runtime).list(CLI_PRINCIPAL, flags.community);
          const views = exports.map((e) =>
            exportView(
              e,
              counts.find((c) => c.exportId === e.id),
            ),
          );
          const rows = views.map((e) => [
            e.name,
            e.kind,
            e.id,
            `pending ${e.counts.pending}, synced ${e.counts.synced}, deleted ${e.counts.deleted}, failed ${e.counts.failed}`,
          ]);
          print(flags, views, views.length === 0 ? 'No exports.' : table(rows));
        }),
      ),
  );

  inCommunity(
    exportCommand
      .command('delete')
      .description('stop an export and forget its links (the objects it made there stay)')
      .requiredOption('--name <name>', 'export name or id'),
  ).action(async (flags: CommunityFlags & { name: string }) =>
    withRuntime((runtime) =>
      naming({ export: '--name' }, async () => {
        await exportsOf(runtime).delete(CLI_PRINCIPAL, flags.community, flags.name, cliContext());
        print(flags, { deleted: flags.name }, `Deleted export ${flags.name}.`);
      }),
    ),
  );
}
