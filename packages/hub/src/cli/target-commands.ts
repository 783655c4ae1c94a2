import { MAX_REPLICATION_WAIT_SECONDS, type ReplicationTarget, type TargetInput } from '@meridian/core';
import type { Command } from 'commander';
import {
  CLI_PRINCIPAL,
  CliUsageError,
  cliContext,
  cliTenant,
  jsonOption,
  parseCount,
  parseInstant,
  print,
  requireTenant,
  withRuntime,
} from './common.js';
import { phasedProgress } from './progress.js';
import { changesOf, defaultName, type TargetFlags, view, withTargetOptions } from './target-options.js';

/** A delay as `<n>s`, `<n>m`, `<n>h` or `<n>d`, in milliseconds. */
function parseDuration(text: string, option: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new CliUsageError(`${option} is <n>s, <n>m, <n>h or <n>d, e.g. 7d.`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** One word for a target in `target list`: retired, retiring, paused, active or its circuit's state. */
function stateOf(t: ReplicationTarget): string {
  if (t.retirement?.retiredAt) return 'retired';
  if (t.retirement) return `retiring at ${t.retirement.at.toISOString()}`;
  if (!t.enabled) return 'disabled';
  return t.paused ? 'paused' : t.circuitState === 'closed' ? 'active' : `circuit ${t.circuitState}`;
}

/**
 * `meridian target …`: replication targets of a tenant (issue 5): create,
 * list, change, pause and resume, test, status, dead letters and replay,
 * reconciliation, and migration to another target (issue 19).
 */
export function registerTargetCommands(program: Command): void {
  const target = program.command('target').description("a tenant's replication targets (downstream systems)");

  withTargetOptions(
    requireTenant(target.command('create').description('add a target; prints its id'))
      .requiredOption('--kind <kind>', 'connector kind: scim, ldap, memory')
      .option('--name <name>', 'a name unique in the tenant (default: kind and host)')
      .option('--paused', 'create it paused'),
  )
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { kind: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const changes = await changesOf(flags);
        const taken = new Set((await replication.targets(CLI_PRINCIPAL, tenant)).map((t) => t.name.toLowerCase()));
        const input: TargetInput = {
          ...changes,
          name: flags.name ?? defaultName(flags.kind, flags.url, taken),
          kind: flags.kind,
          secrets: (changes.secrets ?? {}) as Record<string, string>,
        };
        const created = await replication.createTarget(CLI_PRINCIPAL, tenant, input, cliContext());
        print(flags, view(created), `Created target ${created.name} (${created.id}).`);
      }),
    );

  withTargetOptions(
    requireTenant(target.command('update').description("change a target's settings (secrets given are replaced)"))
      .requiredOption('--target <target>', 'target id or name')
      .option('--name <name>', 'a new name'),
  )
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { target: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const changes = await changesOf(flags);
        if (flags.name !== undefined) changes.name = flags.name;
        const updated = await replication.updateTarget(CLI_PRINCIPAL, tenant, flags.target, changes, cliContext());
        print(flags, view(updated), `Updated target ${updated.name}.`);
      }),
    );

  requireTenant(
    target
      .command('list')
      .description("list a tenant's targets: id, name, kind and whether each is delivering, paused or has its circuit open"),
  )
    .addOption(jsonOption())
    .action(async (flags: TargetFlags) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const list = await replication.targets(CLI_PRINCIPAL, tenant);
        print(flags, list.map(view), list.map((t) => `${t.id}\t${t.name}\t${t.kind}\t${stateOf(t)}`).join('\n') || 'No targets.');
      }),
    );

  for (const [verb, description] of [
    ['pause', 'stop deliveries to a target (changes keep queueing)'],
    ['resume', 'resume deliveries to a target'],
  ] as const) {
    requireTenant(target.command(verb).description(description))
      .requiredOption('--target <target>', 'target id or name')
      .addOption(jsonOption())
      .action(async (flags: TargetFlags & { target: string }) =>
        withRuntime(async ({ admin, replicationService: replication }) => {
          const tenant = await cliTenant(admin, flags.tenant);
          const changed =
            verb === 'pause'
              ? await replication.pauseTarget(CLI_PRINCIPAL, tenant, flags.target, cliContext())
              : await replication.resumeTarget(CLI_PRINCIPAL, tenant, flags.target, cliContext());
          print(flags, view(changed), `${changed.name} is ${changed.paused ? 'paused' : 'delivering'}.`);
        }),
      );
  }

  requireTenant(target.command('delete').description('remove a target, its queue, links and dead letters (remote objects stay)'))
    .requiredOption('--target <target>', 'target id or name')
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { target: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const found = await replication.target(CLI_PRINCIPAL, tenant, flags.target);
        await replication.deleteTarget(CLI_PRINCIPAL, tenant, found.id, cliContext());
        print(flags, { deleted: found.id }, `Deleted target ${found.name}.`);
      }),
    );

  requireTenant(target.command('test').description("test a target's connection and credentials"))
    .requiredOption('--target <target>', 'target id or name')
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { target: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const result = await replication.testTarget(CLI_PRINCIPAL, tenant, flags.target);
        print(flags, result, `${result.ok ? 'OK' : 'FAILED'}: ${result.message}`);
        if (!result.ok) process.exitCode = 1;
      }),
    );

  requireTenant(
    target
      .command('status')
      .description('per target: pending, delivered, failed, dead-lettered and skipped resources; --resource for one resource'),
  )
    .option('--target <target>', 'only this target (id or name)')
    .option('--resource <kind/id>', 'where one resource stands, e.g. User/0192…')
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { resource?: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        if (flags.resource !== undefined) {
          const match = /^(User|Group)\/(.+)$/.exec(flags.resource);
          if (!match) throw new CliUsageError('--resource is User/<id> or Group/<id>.');
          const links = await replication.resourceStatus(CLI_PRINCIPAL, tenant, match[1] as 'User' | 'Group', match[2] as string);
          print(
            flags,
            links,
            links
              .map((l) => `${l.target}\t${l.status}\tv${l.handledVersion}\t${l.remoteId ?? '-'}${l.lastError ? `\t${l.lastError}` : ''}`)
              .join('\n') || 'Not replicated.',
          );
          return;
        }
        let counts = await replication.statusCounts(CLI_PRINCIPAL, tenant);
        if (flags.target !== undefined) {
          const found = await replication.target(CLI_PRINCIPAL, tenant, flags.target);
          counts = counts.filter((c) => c.targetId === found.id);
        }
        print(
          flags,
          counts,
          counts
            .map(
              (c) =>
                `${c.name}\tpending ${c.pending}\tdelivered ${c.delivered}\tfailed ${c.failed}\tdead-lettered ${c.deadLettered}\tskipped ${c.skipped}`,
            )
            .join('\n') || 'No targets.',
        );
      }),
    );

  requireTenant(target.command('dead-letters').description('permanent failures: the request, the response and the reason'))
    .option('--target <target>', 'only this target (id or name)')
    .option('--all', 'include replayed ones')
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { all?: boolean }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const letters = await replication.deadLetters(CLI_PRINCIPAL, tenant, {
          ...(flags.target !== undefined ? { target: flags.target } : {}),
          includeReplayed: flags.all === true,
        });
        print(
          flags,
          letters,
          letters
            .map((l) => `${l.id}\t${l.kind}/${l.localId}\t${l.operation}\t${l.reason}${l.replayedAt ? '\t(replayed)' : ''}`)
            .join('\n') || 'No dead letters.',
        );
      }),
    );

  requireTenant(target.command('replay').description("queue a dead letter's resource again (its current state)"))
    .requiredOption('--id <id>', 'dead letter id')
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { id: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const letter = await replication.replay(CLI_PRINCIPAL, tenant, flags.id, cliContext());
        print(flags, letter, `Queued ${letter.kind}/${letter.localId} for its target again.`);
      }),
    );

  requireTenant(
    target
      .command('reconcile')
      .description('compare the hub with a target object by object and fix the drift (also the first load of a new target)'),
  )
    .requiredOption('--target <target>', 'target id or name')
    .option('--dry-run', 'only show the planned change per object')
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { target: string; dryRun?: boolean }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        // Listing, comparing and fixing can take minutes on a large tenant: each phase shows how far it is (standard error).
        const progress = phasedProgress(
          (step) =>
            step.phase === 'listing'
              ? `Listing ${step.kind}s at ${flags.target}`
              : step.phase === 'comparing'
                ? `Comparing the hub's ${step.kind}s`
                : `Fixing ${flags.target}`,
          { json: flags.json === true },
        );
        const report = await replication
          .reconcile(CLI_PRINCIPAL, tenant, flags.target, { dryRun: flags.dryRun === true, onProgress: (step) => progress.step(step) })
          .finally(() => progress.done());
        const lines = report.items.map(
          (i) =>
            `${i.drift}\t${i.kind}\t${i.name ?? '-'}\t${i.localId ?? '-'}\t${i.remoteId ?? '-'}\t${i.action}${i.differences.length ? `\t${i.differences.join(',')}` : ''}${i.applied === false ? `\tFAILED: ${i.error}` : ''}`,
        );
        const summary = `${report.target}: ${report.hubObjects} in the hub, ${report.remoteObjects} at the target, ${report.inSync} in sync, ${report.items.length} differ${report.dryRun ? ' (dry run)' : `, ${report.fixed} fixed, ${report.failed} failed`}.`;
        print(flags, report, [...lines, summary].join('\n'));
        if (report.failed > 0) process.exitCode = 1;
      }),
    );

  requireTenant(
    target
      .command('migrate')
      .description(
        "bring a new target to the state an old one holds (create or adopt each User and Group, with the hub's externalIds and memberships) and retire the old one on a schedule",
      ),
  )
    .requiredOption('--from <target>', 'the old target (id or name)')
    .option('--to <target>', 'the new target (id or name); it must exist (target create)')
    .option('--retire-at <time>', 'ISO 8601 date-time at which the old target stops receiving changes (a past one: now)')
    .option('--retire-after <duration>', 'the same, as a delay from now: <n>s, <n>m, <n>h or <n>d')
    .option('--dry-run', 'only show what would happen to each object; writes nothing')
    .option('--cancel', "drop the old target's scheduled retirement (before its time)")
    .addOption(jsonOption())
    .action(
      async (
        flags: TargetFlags & { from: string; to?: string; retireAt?: string; retireAfter?: string; dryRun?: boolean; cancel?: boolean },
      ) =>
        withRuntime(async ({ admin, replicationService: replication }) => {
          const tenant = await cliTenant(admin, flags.tenant);
          if (flags.cancel) {
            if (flags.to !== undefined || flags.retireAt !== undefined || flags.retireAfter !== undefined || flags.dryRun) {
              throw new CliUsageError('--cancel takes only --tenant and --from.');
            }
            const kept = await replication.cancelRetirement(CLI_PRINCIPAL, tenant, flags.from, cliContext());
            print(flags, view(kept), `${kept.name} is no longer scheduled for retirement.`);
            return;
          }
          if (flags.to === undefined) throw new CliUsageError('--to is required (or --cancel).');
          if (flags.retireAt !== undefined && flags.retireAfter !== undefined) {
            throw new CliUsageError('Give --retire-at or --retire-after, not both.');
          }
          const retireAt =
            flags.retireAfter !== undefined
              ? new Date(Date.now() + parseDuration(flags.retireAfter, '--retire-after'))
              : (parseInstant(flags.retireAt, '--retire-at') ?? null);
          const progress = phasedProgress(
            (step) =>
              step.phase === 'listing'
                ? `Listing ${step.kind}s at ${flags.to}`
                : step.phase === 'comparing'
                  ? `Comparing ${step.kind}s held at ${flags.from}`
                  : `Migrating ${step.kind}s to ${flags.to}`,
            { json: flags.json === true },
          );
          const report = await replication
            .migrate(
              CLI_PRINCIPAL,
              tenant,
              { from: flags.from, to: flags.to, retireAt, dryRun: flags.dryRun === true, onProgress: (step) => progress.step(step) },
              cliContext(),
            )
            .finally(() => progress.done());
          const lines = report.items.map(
            (i) =>
              `${i.outcome}\t${i.kind}\t${i.name ?? '-'}\t${i.localId}\t${i.fromRemoteId ?? '-'}\t${i.toRemoteId ?? '-'}${i.differences.length ? `\t${i.differences.join(',')}` : ''}${i.reason ? `\t${i.reason}` : ''}`,
          );
          const c = report.counts;
          const retirement =
            report.retireAt === null
              ? retireAt !== null && !report.dryRun
                ? ` ${report.from.name} is NOT retired: ${c.failed} object(s) failed; fix them and run the command again.`
                : ''
              : ` ${report.from.name} ${report.dryRun ? 'would stop' : 'stops'} receiving changes at ${report.retireAt.toISOString()}.`;
          const summary = `${report.dryRun ? 'Would migrate' : 'Migrated'} ${report.from.name} to ${report.to.name}: ${c.created} created, ${c.adopted} adopted, ${c.updated} updated, ${c.unchanged} unchanged, ${c.skipped} skipped, ${c.failed} failed.${retirement}${report.settingsDiffer.length ? ` Settings that differ: ${report.settingsDiffer.join(', ')}.` : ''}`;
          print(flags, report, [...lines, summary].join('\n'));
          if (c.failed > 0) process.exitCode = 1;
        }),
    );

  requireTenant(
    target
      .command('wait-policy')
      .description('show or set how long SCIM writes wait for their deliveries when the client sends no Prefer: wait'),
  )
    .option('--seconds <seconds>', `0 (answer at once) to ${MAX_REPLICATION_WAIT_SECONDS}, the longest any write waits`)
    .addOption(jsonOption())
    .action(async (flags: TargetFlags & { seconds?: string }) =>
      withRuntime(async ({ admin, replicationService: replication }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const seconds =
          flags.seconds === undefined
            ? await replication.waitPolicy(CLI_PRINCIPAL, tenant)
            : await replication.setWaitPolicy(CLI_PRINCIPAL, tenant, parseCount(flags.seconds, '--seconds'), cliContext());
        print(flags, { waitSeconds: seconds }, `SCIM writes of ${tenant.slug} wait ${seconds} s for their deliveries by default.`);
      }),
    );
}
