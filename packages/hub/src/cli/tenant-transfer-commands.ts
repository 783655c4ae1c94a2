import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import {
  countMismatches,
  type ImportedResource,
  importedResourceOf,
  type JsonObject,
  MeridianError,
  parseSchemaExtension,
  type RequestContext,
  type ResourceKind,
  type ResourceShape,
  type SchemaExtension,
  shapeWithExtensions,
  systemClock,
  type Tenant,
  TenantTransferService,
  type TransferCounts,
} from '@meridian/core';
import { renderResource } from '@meridian/scim';
import { HashOpener, HashSealer, openSecretBox, PostgresTenantTransferStore, PostgresTransferKeys } from '@meridian/store';
import type { Command } from 'commander';
import type { HubConfig } from '../config/config.js';
import type { Runtime } from '../runtime/runtime.js';
import { CLI_PRINCIPAL, CliUsageError, cliContext, type JsonFlag, jsonOption, print, requireTenant, withRuntime } from './common.js';
import { startProgress } from './progress.js';
import { readTransferRecords, TransferWriter, verifyTransferFile } from './tenant-transfer-file.js';

// `meridian tenant export|import|import-key` (issue 19, draft-ietf-scim-use-cases §3.2): a tenant moves to another
// hub with the same ids, versions and times, so that its SCIM clients change nothing but the base URL.
// docs/migration.md describes the commands and the file.

/** Resources written per import transaction. */
const IMPORT_BATCH = 200;

function transfersOf(runtime: Runtime): TenantTransferService {
  return new TenantTransferService(new PostgresTenantTransferStore(runtime.orm, systemClock), runtime.resources, runtime.admin);
}

async function transferKeysOf(runtime: Runtime, config: HubConfig): Promise<PostgresTransferKeys> {
  const box = await openSecretBox({ configured: config.secretKeys, dataDir: config.dataDir });
  return new PostgresTransferKeys(runtime.orm, systemClock, box);
}

/** The context of an import's writes: an actor of its own (who ran it), one request id for the whole run. */
function importContext(): RequestContext {
  return { actor: { type: 'cli', id: `tenant-import:${userInfo().username}` }, requestId: `import-${randomUUID()}` };
}

/** `meridian tenant export|import|import-key`, added to the `tenant` group. */
export function registerTenantTransferCommands(program: Command): void {
  const tenant = program.commands.find((c) => c.name() === 'tenant');
  if (!tenant) throw new TypeError('registerTenantCommands must run first.');

  tenant
    .command('import-key')
    .description("this hub's public key for receiving sealed password hashes (created once); give it to the exporting hub")
    .addOption(jsonOption())
    .action(async (flags: JsonFlag) =>
      withRuntime(async (runtime, config) => {
        const key = await (await transferKeysOf(runtime, config)).publicKey();
        if (!flags.json) process.stderr.write(`Transfer key ${key.keyId} (${key.algorithm}):\n`);
        print(flags, key, key.publicKey.trimEnd());
      }),
    );

  requireTenant(
    tenant.command('export').description('write the tenant to an NDJSON file: settings, every User and Group as SCIM shows them'),
  )
    .requiredOption('--out <file>', 'the file to write (mode 0600)')
    .option(
      '--seal-for <file>',
      "the receiving hub's public key (PEM, from its `tenant import-key`): include password hashes sealed for it",
    )
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; out: string; sealFor?: string }) =>
      withRuntime(async (runtime, config) => {
        const summary = await exportTenant(runtime, config, flags);
        print(
          flags,
          summary,
          `Exported ${summary.tenant}: ${summary.counts.users} users, ${summary.counts.groups} groups, ${summary.counts.passwords} sealed passwords to ${flags.out} (sha256 ${summary.sha256}).`,
        );
      }),
    );

  requireTenant(
    tenant
      .command('import')
      .description('recreate an exported tenant in this hub with the same ids and versions (resumable: run again after a failure)'),
  )
    .requiredOption('--in <file>', 'a file written by `tenant export`')
    .option('--dry-run', 'verify the file and list what would be created; write nothing')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; in: string; dryRun?: boolean }) =>
      withRuntime(async (runtime, config) => {
        const report = await importTenant(runtime, config, flags);
        const verb = flags.dryRun ? 'Would create' : 'Created';
        const lines = flags.dryRun ? report.wouldCreate.map((i) => `create ${i.type} ${i.id} ${i.name}`) : [];
        print(
          flags,
          report,
          [
            ...lines,
            `${verb} in ${report.tenant}: ${report.created.users} users, ${report.created.groups} groups, ${report.created.memberships} memberships, ${report.created.extensions} extensions (${report.skipped.users + report.skipped.groups} already there).`,
          ].join('\n'),
        );
      }),
    );
}

async function exportTenant(runtime: Runtime, config: HubConfig, flags: JsonFlag & { tenant: string; out: string; sealFor?: string }) {
  const transfers = transfersOf(runtime);
  const found = await transfers.exportTenant(CLI_PRINCIPAL, flags.tenant);
  let sealer: HashSealer | undefined;
  if (flags.sealFor !== undefined) {
    let pem: string;
    try {
      pem = await readFile(flags.sealFor, 'utf8');
    } catch {
      throw new CliUsageError(`Cannot read --seal-for ${flags.sealFor}.`);
    }
    sealer = HashSealer.forPublicKey(pem);
  }
  const extensions = await runtime.settings.extensionsFor(CLI_PRINCIPAL, found);
  const policy = await runtime.settings.selfServicePolicyFor(CLI_PRINCIPAL, found);
  const known = await transfers.counts(found);
  const baseUrl = `${config.publicUrl}/scim/v2`;
  const counts: TransferCounts = { extensions: extensions.length, users: 0, groups: 0, memberships: 0, passwords: 0 };
  const writer = new TransferWriter(flags.out);
  const progress = startProgress(`Exporting ${found.slug}`, { total: known.users + known.groups, json: flags.json });
  try {
    await writer.write({
      type: 'header',
      format: 'meridian-tenant-export',
      version: 1,
      sourceHub: config.publicUrl,
      tenant: { id: found.id, slug: found.slug, name: found.name },
      exportedAt: systemClock.now().toISOString(),
      // As the export starts; the trailer counts what the file holds.
      counts: { extensions: extensions.length, ...known, passwords: sealer ? known.passwords : 0 },
      ...(sealer ? { sealing: sealer.sealing } : {}),
    });
    for (const extension of extensions) await writer.write({ type: 'extension', definition: { ...extension } as JsonObject });
    await writer.write({ type: 'policy', editableAttributes: policy.editableAttributes });
    for (const kind of ['User', 'Group'] as const) {
      let after: string | null = null;
      for (;;) {
        const page = await transfers.exportPage(CLI_PRINCIPAL, found, kind, after, sealer !== undefined);
        for (const resource of page.resources) {
          const body = renderResource(resource, baseUrl);
          const hash = page.passwordHashes.get(resource.id);
          const sealed = hash !== undefined && sealer ? sealer.seal(resource.id, hash) : undefined;
          await writer.write({ type: kind, resource: body, ...(sealed !== undefined ? { sealedPasswordHash: sealed } : {}) });
          if (kind === 'User') counts.users += 1;
          else {
            counts.groups += 1;
            counts.memberships += resource.members.length;
          }
          if (sealed !== undefined) counts.passwords += 1;
        }
        progress.advance(page.resources.length);
        if (!page.hasNextPage || page.endCursor === null) break;
        after = page.endCursor;
      }
    }
    const sha256 = await writer.finish(counts);
    progress.done();
    const sealedFor = sealer ? String(sealer.sealing.keyId) : undefined;
    await transfers.recordTransfer(found, 'tenant.exported', { counts, sha256, ...(sealedFor ? { sealedFor } : {}) }, cliContext());
    return { tenant: found.slug, file: flags.out, counts, sha256, ...(sealedFor ? { sealedFor } : {}) };
  } catch (error) {
    writer.abort();
    throw error;
  }
}

type Tally = { extensions: number; policy: number; users: number; groups: number; memberships: number };

function zero(): Tally {
  return { extensions: 0, policy: 0, users: 0, groups: 0, memberships: 0 };
}

/** The shapes resources of the file are read with: the tenant's schemas, and in a dry run the file's extensions too. */
function shapesWith(extensions: SchemaExtension[]): Record<ResourceKind, ResourceShape> {
  return { User: shapeWithExtensions('User', extensions), Group: shapeWithExtensions('Group', extensions) };
}

function nameOf(resource: ImportedResource): string {
  const name = resource.kind === 'User' ? resource.write.attributes.userName : resource.write.attributes.displayName;
  return typeof name === 'string' ? name : '';
}

async function importTenant(runtime: Runtime, config: HubConfig, flags: { tenant: string; in: string; dryRun?: boolean; json?: boolean }) {
  const started = Date.now();
  const { header, trailer } = await verifyTransferFile(flags.in);
  const transfers = transfersOf(runtime);
  const found: Tenant = await transfers.importTenant(CLI_PRINCIPAL, flags.tenant);
  const context = importContext();
  let opener: HashOpener | undefined;
  if (header.sealing) {
    const keys = await transferKeysOf(runtime, config);
    const privateKey = await keys.privateKey(header.sealing.keyId);
    if (!privateKey) {
      throw new MeridianError(
        'INVALID_INPUT',
        `The password hashes are sealed for key ${header.sealing.keyId}, which this hub does not hold.`,
        {
          field: 'in',
        },
      );
    }
    opener = new HashOpener(header.sealing, privateKey, header.sealing.keyId);
  }
  const created = zero();
  const skipped = zero();
  const wouldCreate: { type: string; id: string; name: string }[] = [];
  const newGroups = new Set<string>();

  // Phase 1: settings first, so that the resources are read with the tenant's schemas.
  let extensions = await runtime.settings.extensions(found.id);
  for await (const { record } of readTransferRecords(flags.in)) {
    if (record.type === 'extension') {
      const definition = parseSchemaExtension(record.definition);
      const existing = extensions.find((e) => e.id.toLowerCase() === definition.id.toLowerCase());
      if (existing) {
        skipped.extensions += 1;
        continue;
      }
      created.extensions += 1;
      if (flags.dryRun) {
        wouldCreate.push({ type: 'extension', id: definition.id, name: definition.name ?? '' });
        extensions = [...extensions, definition];
      } else await runtime.settings.declareExtension(CLI_PRINCIPAL, found, record.definition, context);
    } else if (record.type === 'policy') {
      const current = await runtime.settings.selfServicePolicy(found.id);
      if (current.editableAttributes.join(',') === record.editableAttributes.join(',')) skipped.policy += 1;
      else {
        created.policy += 1;
        if (flags.dryRun) wouldCreate.push({ type: 'policy', id: found.id, name: record.editableAttributes.join(',') });
        else await runtime.settings.changeSelfServicePolicy(CLI_PRINCIPAL, found, record.editableAttributes, context);
      }
    } else if (record.type === 'User' || record.type === 'Group') break;
  }
  if (!flags.dryRun) extensions = await runtime.settings.extensions(found.id);
  const shapes = shapesWith(extensions);

  // Phase 2: every User, then every Group, in batches; each resource already there at its version is skipped.
  const progress = startProgress(`Importing into ${found.slug}`, { total: trailer.counts.users + trailer.counts.groups, json: flags.json });
  let batch: ImportedResource[] = [];
  const hashes = new Map<string, string>();
  const flush = async () => {
    if (batch.length === 0) return;
    const fresh = await transfers.plan(found, batch);
    const count = (kind: ResourceKind, list: ImportedResource[]) => list.filter((r) => r.kind === kind).length;
    if (flags.dryRun) {
      for (const r of fresh) {
        wouldCreate.push({ type: r.kind, id: r.id, name: nameOf(r) });
        if (r.kind === 'Group') newGroups.add(r.id);
      }
    } else if (fresh.length > 0) await transfers.importBatch(found, fresh, hashes, context);
    created.users += count('User', fresh);
    created.groups += count('Group', fresh);
    skipped.users += count('User', batch) - count('User', fresh);
    skipped.groups += count('Group', batch) - count('Group', fresh);
    progress.advance(batch.length);
    batch = [];
    hashes.clear();
  };
  for await (const { record, line } of readTransferRecords(flags.in)) {
    if (record.type !== 'User' && record.type !== 'Group') continue;
    const resource = importedResourceOf(shapes[record.type], record, line);
    if (resource.sealedPasswordHash !== undefined) {
      if (!opener)
        throw new MeridianError('INVALID_INPUT', `Line ${line}: a sealed password hash, but the header names no sealing.`, { field: 'in' });
      hashes.set(resource.id, opener.open(resource.id, resource.sealedPasswordHash));
    }
    batch.push(resource);
    if (batch.length >= IMPORT_BATCH || (batch[0] && batch[0].kind !== resource.kind)) await flush();
  }
  await flush();
  progress.done();

  // Phase 3: memberships, once every resource exists (nested groups and members in any order).
  for await (const { record, line } of readTransferRecords(flags.in)) {
    if (record.type !== 'Group') continue;
    const group = importedResourceOf(shapes.Group, record, line);
    if (flags.dryRun) {
      if (newGroups.has(group.id)) created.memberships += group.members.length;
      continue;
    }
    const added = await transfers.importMembers(found, group, context);
    created.memberships += added;
    skipped.memberships += group.members.length - added;
  }

  const seconds = Math.max((Date.now() - started) / 1000, 0.001);
  const rate = Math.round((created.users + created.groups) / seconds);
  const report = {
    tenant: found.slug,
    file: flags.in,
    sourceHub: header.sourceHub,
    dryRun: flags.dryRun === true,
    created,
    skipped,
    expected: trailer.counts,
    sha256: trailer.sha256,
    seconds: Number(seconds.toFixed(3)),
    resourcesPerSecond: rate,
    wouldCreate,
  };
  if (flags.dryRun) return report;
  // The final count check: the tenant holds exactly what the file does.
  const stored = await transfers.counts(found);
  const differ = countMismatches(trailer.counts, stored);
  if (differ.length > 0) {
    throw new MeridianError('CONFLICT', `The count check failed after the import into ${found.slug}: ${differ.join('; ')}.`, {
      field: 'tenant',
    });
  }
  await transfers.recordTransfer(
    found,
    'tenant.imported',
    { counts: trailer.counts, sha256: trailer.sha256, sourceHub: header.sourceHub },
    context,
  );
  return { ...report, counts: stored };
}
