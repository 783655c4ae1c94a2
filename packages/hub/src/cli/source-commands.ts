import { readFile } from 'node:fs/promises';
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
  syncEvery?: string;
  dryRun?: boolean;
  confirmDeletes?: boolean;
  full?: boolean;
  tokenFile?: string;
  lookupBy?: string;
  lookupAttribute?: string;
  eventsIssuer?: string;
  eventsJwks?: string;
  eventsAudience?: string;
  subject?: string;
  email?: string;
  userName?: string;
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
    syncIntervalSeconds: source.syncIntervalSeconds,
    cursor: source.cursor,
    lastSyncAt: source.lastSyncAt,
    lastFullSyncAt: source.lastFullSyncAt,
    lastSyncStatus: source.lastSyncStatus,
    lastSyncError: source.lastSyncError,
    lastSyncCounts: source.lastSyncCounts,
  };
}

/** A number flag, or undefined when absent; a usage error naming the flag otherwise. */
function numberFlag(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new CliUsageError(`${flag} is a number, not '${text}'.`);
  return value;
}

/** `--sync-every <seconds|off>`: a schedule, or null to end it. */
function syncEveryFlag(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === 'off') return null;
  return intervalFlag(text, '--sync-every');
}

/** An interval flag in whole seconds, a minute at least (the service checks the upper bound). */
function intervalFlag(text: string | undefined, flag: string): number | undefined {
  const value = numberFlag(text, flag);
  if (value !== undefined && (!Number.isInteger(value) || value < 60)) {
    throw new CliUsageError(
      `${flag} is a whole number of seconds, 60 or more${flag === '--sync-every' ? ", or 'off'" : ''}; not '${text}'.`,
    );
  }
  return value;
}

/** One line per source for people: its schedule and how its last sync went. */
function line(s: InboundSource): string {
  const schedule = s.syncIntervalSeconds === null ? 'on demand' : `every ${s.syncIntervalSeconds}s`;
  const last = s.lastSyncAt ? `last sync ${s.lastSyncAt.toISOString()} ${s.lastSyncStatus ?? ''}`.trim() : 'never synced';
  return [s.id, s.name, s.kind, schedule, last, s.lastSyncError ?? ''].join('\t').trimEnd();
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
  const source = program
    .command('source')
    .description("a tenant's inbound sources (an office's LDAP directory or SCIM service the hub follows)");

  requireTenant(source.command('create').description('add a source; prints its id'))
    .requiredOption('--kind <kind>', 'source kind: ldap or scim')
    .requiredOption('--url <url>', 'ldap://host:389 or ldaps://host:636; for scim the base URL, https://…/scim/v2')
    .option('--bind-dn <dn>', 'ldap: the DN the hub binds as')
    .option('--bind-password <secret>', "ldap: the bind DN's password (stored encrypted, never printed)")
    .option('--base-dn <dn>', 'ldap: where the accounts are (the scope, with --filter)')
    .option('--token-file <path>', 'scim: a file holding the bearer token (stored encrypted, never printed)')
    .option(
      '--lookup-by <what>',
      'find a person signing in upstream without an account at the source by subject, email or userName (docs/provisioning.md)',
    )
    .option(
      '--lookup-attribute <name>',
      'the attribute compared at first sign-in: scim: a SCIM path (default externalId, emails.value or userName); ldap: an LDAP attribute (default the id attribute, mail or uid)',
    )
    .option('--events-issuer <iss>', "scim: take the source's SCIM events (RFC 9967 SETs) from this issuer at /sources/{id}/events")
    .option('--events-jwks <url>', "scim: the URL of the events transmitter's signing keys (JWKS, https)")
    .option('--events-audience <aud>', "scim: the SETs' aud (default: the endpoint's URL)")
    .option('--filter <filter>', 'an LDAP filter the accounts must match, e.g. (departmentNumber=42)')
    .option('--name <name>', 'a name unique in the tenant (default: kind and host)')
    .option('--config <json>', 'more source config as a JSON object (startTls, caCertificate, mapping, objectClass, pageSize, ...)')
    .option('--deletion-threshold <percent>', 'stop a sync that would delete more than this share of the accounts (default 20)')
    .option('--full-sync-interval <seconds>', 'compare everything (finds deletions) at least this often (default 86400)')
    .option('--sync-every <seconds>', 'a worker syncs the source this often (at least 60); default: only `source sync`')
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
        let host = 'source';
        try {
          host = new URL(flags.url).host.replace(/[^A-Za-z0-9._-]/g, '-');
        } catch {
          // The service names the bad URL.
        }
        // An office's SCIM service (issue 16): base URL and bearer token; --lookup-by turns on pulls at first sign-in.
        const scim = flags.kind === 'scim' ? await scimSourceInput(flags) : undefined;
        if (!scim) {
          for (const [flag, value] of [
            ['--bind-dn', flags.bindDn],
            ['--bind-password', flags.bindPassword],
            ['--base-dn', flags.baseDn],
          ] as const) {
            if (value === undefined) throw new CliUsageError(`An ${flags.kind} source needs ${flag}.`);
          }
        }
        const deletionThresholdPercent = numberFlag(flags.deletionThreshold, '--deletion-threshold');
        const fullSyncIntervalSeconds = intervalFlag(flags.fullSyncInterval, '--full-sync-interval');
        const syncIntervalSeconds = syncEveryFlag(flags.syncEvery);
        const created = await sources.create(
          CLI_PRINCIPAL,
          flags.tenant,
          {
            name: flags.name ?? `${flags.kind}-${host}`.slice(0, 64),
            kind: flags.kind,
            config: scim
              ? { ...extra, ...scim.config }
              : {
                  ...extra,
                  url: flags.url,
                  bindDn: flags.bindDn,
                  baseDn: flags.baseDn,
                  ...(flags.filter !== undefined ? { filter: flags.filter } : {}),
                  ...firstSignInFlags(flags),
                },
            secrets: scim ? scim.secrets : { bindPassword: flags.bindPassword as string },
            ...(deletionThresholdPercent !== undefined ? { deletionThresholdPercent } : {}),
            ...(fullSyncIntervalSeconds !== undefined ? { fullSyncIntervalSeconds } : {}),
            ...(syncIntervalSeconds !== undefined ? { syncIntervalSeconds } : {}),
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
        print(flags, list.map(view), list.map(line).join('\n') || 'No sources.');
      }),
    );

  requireTenant(source.command('update').description("change a source's schedule, full-sync interval or deletion threshold"))
    .requiredOption('--source <source>', 'source id or name')
    .option('--sync-every <seconds>', "a worker syncs the source this often (at least 60); 'off': only `source sync`")
    .option('--full-sync-interval <seconds>', 'compare everything (finds deletions) at least this often')
    .option('--deletion-threshold <percent>', 'stop a sync that would delete more than this share of the accounts')
    .addOption(jsonOption())
    .action(async (flags: SourceFlags & { source: string }) =>
      withRuntime(async ({ sources }) => {
        const changes = {
          syncIntervalSeconds: syncEveryFlag(flags.syncEvery),
          fullSyncIntervalSeconds: intervalFlag(flags.fullSyncInterval, '--full-sync-interval'),
          deletionThresholdPercent: numberFlag(flags.deletionThreshold, '--deletion-threshold'),
        };
        const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
        if (Object.keys(given).length === 0)
          throw new CliUsageError('Give at least one of --sync-every, --full-sync-interval, --deletion-threshold.');
        const updated = await sources.update(CLI_PRINCIPAL, flags.tenant, flags.source, given, cliContext());
        print(flags, view(updated), `Updated source ${updated.name}: ${line(updated)}`);
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

  requireTenant(
    source
      .command('test')
      .description('dry run of one pull at first sign-in: what the source would create for a person (nothing is written)'),
  )
    .requiredOption('--source <source>', 'source id or name')
    .option('--subject <sub>', "the person's subject at the office's identity provider")
    .option('--email <email>', "the person's e-mail address")
    .option('--user-name <userName>', "the person's userName")
    .addOption(jsonOption())
    .action(async (flags: SourceFlags & { source: string }) =>
      withRuntime(async ({ sources, jit }) => {
        const found = await sources.getManaged(CLI_PRINCIPAL, flags.tenant, flags.source);
        const preview = await jit.firstSignIn.preview(found, {
          subject: flags.subject ?? '',
          email: flags.email,
          userName: flags.userName,
        });
        const what = `${preview.lookup.attribute} eq "${preview.lookup.value}"`;
        print(
          flags,
          preview,
          preview.wouldCreate
            ? `Would create (${what}, remote ${preview.remoteId}):\n${JSON.stringify(preview.wouldCreate, null, 2)}`
            : `The source has no one with ${what}: that sign-in would be refused.`,
        );
        if (!preview.wouldCreate) process.exitCode = 2;
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

/** The config and secrets of a SCIM source from the CLI's flags. */
async function scimSourceInput(flags: SourceFlags & { url: string }) {
  if (flags.tokenFile === undefined) throw new CliUsageError('A scim source needs --token-file (its bearer token).');
  const token = (await readFile(flags.tokenFile, 'utf8')).trim();
  return { config: { baseUrl: flags.url, ...firstSignInFlags(flags), ...eventsFlags(flags) }, secrets: { token } };
}

/** `--events-issuer` / `--events-jwks` / `--events-audience`: the source pushes SCIM events (`events` in its config). */
function eventsFlags(flags: SourceFlags): { events?: { issuer: string; jwksUri: string; audience?: string } } {
  if (flags.eventsIssuer === undefined && flags.eventsJwks === undefined && flags.eventsAudience === undefined) return {};
  if (flags.eventsIssuer === undefined || flags.eventsJwks === undefined)
    throw new CliUsageError('Events from a source need both --events-issuer and --events-jwks.');
  return {
    events: {
      issuer: flags.eventsIssuer,
      jwksUri: flags.eventsJwks,
      ...(flags.eventsAudience !== undefined ? { audience: flags.eventsAudience } : {}),
    },
  };
}

/** `--lookup-by` / `--lookup-attribute`: the source serves pulls at first sign-in (`firstSignIn` in its config). */
function firstSignInFlags(flags: SourceFlags): { firstSignIn?: { lookupBy: string; attribute?: string } } {
  if (flags.lookupBy !== undefined && !['subject', 'email', 'userName'].includes(flags.lookupBy)) {
    throw new CliUsageError('--lookup-by is subject, email or userName.');
  }
  if (flags.lookupBy === undefined && flags.lookupAttribute === undefined) return {};
  return {
    firstSignIn: {
      lookupBy: flags.lookupBy ?? 'email',
      ...(flags.lookupAttribute !== undefined ? { attribute: flags.lookupAttribute } : {}),
    },
  };
}
